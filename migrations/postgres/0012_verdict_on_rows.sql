-- What deploy rows show of their verdict. `deploys.verdict` is the shown state (the
-- lead's override, else the judge's; NULL for deploys the judge never followed), kept
-- beside the status so history filters by it through an index; `verdicts.headline` is
-- the badge's bake bounds and the deltas beside it, rewritten at each look.
ALTER TABLE verdicts ADD COLUMN headline TEXT;
ALTER TABLE deploys ADD COLUMN verdict TEXT
    CHECK (verdict IN ('baking', 'healthy', 'ailing', 'unhealthy', 'no_data'));
UPDATE deploys d SET verdict = COALESCE(v.override_state, v.state)
    FROM verdicts v WHERE v.deploy_id = d.id;
CREATE INDEX deploys_by_verdict ON deploys (verdict, started_at DESC, id DESC);
