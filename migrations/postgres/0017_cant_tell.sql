-- "Can't tell": a verdict for a deploy whose checks could not tell a regression from
-- their metrics' noise.
ALTER TABLE verdicts DROP CONSTRAINT verdicts_state_check;
ALTER TABLE verdicts ADD CONSTRAINT verdicts_state_check
    CHECK (state IN ('baking', 'healthy', 'ailing', 'unhealthy', 'no_data', 'cant_tell'));
ALTER TABLE verdicts DROP CONSTRAINT verdicts_provisional_check;
ALTER TABLE verdicts ADD CONSTRAINT verdicts_provisional_check
    CHECK (provisional IN ('healthy', 'ailing', 'unhealthy', 'no_data', 'cant_tell'));
ALTER TABLE deploys DROP CONSTRAINT deploys_verdict_check;
ALTER TABLE deploys ADD CONSTRAINT deploys_verdict_check
    CHECK (verdict IN ('baking', 'healthy', 'ailing', 'unhealthy', 'no_data', 'cant_tell'));
ALTER TABLE notifications DROP CONSTRAINT notifications_state_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_state_check
    CHECK (state IN ('baking', 'healthy', 'ailing', 'unhealthy', 'no_data', 'cant_tell'));
