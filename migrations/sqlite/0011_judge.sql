-- The health judge: how each metric is judged, when each service's deploys are, and
-- the verdicts with their receipts.

-- JSON of the check (direction, tolerance, ...); NULL: charted, not judged.
ALTER TABLE metric_definitions ADD COLUMN check_spec TEXT;

-- Warm-up, bake and interval per service ('*' for all), optionally narrowed to
-- environments (a JSON list; '' for all).
CREATE TABLE service_timings (
    service       TEXT NOT NULL,
    environments  TEXT NOT NULL DEFAULT '',
    warmup_secs   INTEGER NOT NULL CHECK (warmup_secs >= 0),
    bake_secs     INTEGER NOT NULL CHECK (bake_secs > warmup_secs),
    interval_secs INTEGER NOT NULL CHECK (interval_secs >= 5),
    updated_at    TEXT NOT NULL,
    updated_by    TEXT NOT NULL,
    PRIMARY KEY (service, environments)
);

-- One row per deploy the judge follows, created with the deploy. `next_look_at` is when
-- the scheduler reads it again; a worker holds it until `claimed_until`.
CREATE TABLE verdicts (
    deploy_id       INTEGER PRIMARY KEY REFERENCES deploys (id) ON DELETE CASCADE,
    state           TEXT NOT NULL CHECK (state IN ('baking', 'healthy', 'ailing', 'unhealthy', 'no_data')),
    provisional     TEXT CHECK (provisional IN ('healthy', 'ailing', 'unhealthy', 'no_data')),
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
    override_at     TEXT
);

CREATE INDEX verdicts_due ON verdicts (next_look_at) WHERE is_final = 0;
CREATE INDEX verdicts_by_state ON verdicts (state, deploy_id);
