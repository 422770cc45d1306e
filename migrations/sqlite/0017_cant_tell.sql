-- "Can't tell": a verdict for a deploy whose checks could not tell a regression from
-- their metrics' noise. SQLite cannot change a CHECK constraint in place: `verdicts`
-- and `notifications` are rebuilt, `deploys.verdict` (a copy of the shown state) is
-- dropped and filled again from `verdicts`.
CREATE TABLE verdicts_next (
    deploy_id       INTEGER PRIMARY KEY REFERENCES deploys (id) ON DELETE CASCADE,
    state           TEXT NOT NULL CHECK (state IN ('baking', 'healthy', 'ailing', 'unhealthy', 'no_data', 'cant_tell')),
    provisional     TEXT CHECK (provisional IN ('healthy', 'ailing', 'unhealthy', 'no_data', 'cant_tell')),
    is_final        INTEGER NOT NULL DEFAULT 0,
    score           REAL,
    rule            TEXT NOT NULL,
    receipt         TEXT NOT NULL DEFAULT '{}',
    decided_at      TEXT,
    evaluated_at    TEXT,
    next_look_at    TEXT NOT NULL,
    claimed_until   TEXT,
    override_state  TEXT CHECK (override_state IN ('healthy', 'unhealthy')),
    override_reason TEXT,
    override_by     TEXT,
    override_at     TEXT,
    headline        TEXT
);
INSERT INTO verdicts_next (deploy_id, state, provisional, is_final, score, rule, receipt,
    decided_at, evaluated_at, next_look_at, claimed_until, override_state, override_reason,
    override_by, override_at, headline)
SELECT deploy_id, state, provisional, is_final, score, rule, receipt,
    decided_at, evaluated_at, next_look_at, claimed_until, override_state, override_reason,
    override_by, override_at, headline FROM verdicts;
DROP TABLE verdicts;
ALTER TABLE verdicts_next RENAME TO verdicts;
CREATE INDEX verdicts_due ON verdicts (next_look_at) WHERE is_final = 0;
CREATE INDEX verdicts_by_state ON verdicts (state, deploy_id);

DROP INDEX deploys_by_verdict;
ALTER TABLE deploys DROP COLUMN verdict;
ALTER TABLE deploys ADD COLUMN verdict TEXT
    CHECK (verdict IN ('baking', 'healthy', 'ailing', 'unhealthy', 'no_data', 'cant_tell'));
UPDATE deploys SET verdict =
    (SELECT COALESCE(v.override_state, v.state) FROM verdicts v WHERE v.deploy_id = deploys.id);
CREATE INDEX deploys_by_verdict ON deploys (verdict, started_at DESC, id DESC);

CREATE TABLE notifications_next (
    id              INTEGER PRIMARY KEY,
    deploy_id       INTEGER REFERENCES deploys (id) ON DELETE CASCADE,
    url             TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('turned_bad', 'final', 'lock')),
    state           TEXT CHECK (state IN ('baking', 'healthy', 'ailing', 'unhealthy', 'no_data', 'cant_tell')),
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    last_attempt_at TEXT,
    next_attempt_at TEXT,
    claimed_until   TEXT,
    created_at      TEXT NOT NULL,
    message         TEXT,
    CHECK ((kind = 'lock') = (message IS NOT NULL AND deploy_id IS NULL AND state IS NULL))
);
INSERT INTO notifications_next (id, deploy_id, url, kind, state, status, attempts, last_error,
    last_attempt_at, next_attempt_at, claimed_until, created_at, message)
SELECT id, deploy_id, url, kind, state, status, attempts, last_error,
    last_attempt_at, next_attempt_at, claimed_until, created_at, message FROM notifications;
DROP TABLE notifications;
ALTER TABLE notifications_next RENAME TO notifications;
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notifications_by_time ON notifications (created_at DESC, id DESC);
