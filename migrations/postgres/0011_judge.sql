-- The health judge: how each metric is judged, when each service's deploys are, and
-- the verdicts with their receipts.

-- JSON of the check (direction, tolerance, ...); NULL: charted, not judged.
ALTER TABLE metric_definitions ADD COLUMN check_spec TEXT;

-- Warm-up, bake and interval per service ('*' for all), optionally narrowed to
-- environments (a JSON list; '' for all).
CREATE TABLE service_timings (
    service       TEXT NOT NULL,
    environments  TEXT NOT NULL DEFAULT '',
    warmup_secs   BIGINT NOT NULL CHECK (warmup_secs >= 0),
    bake_secs     BIGINT NOT NULL CHECK (bake_secs > warmup_secs),
    interval_secs BIGINT NOT NULL CHECK (interval_secs >= 5),
    updated_at    TIMESTAMPTZ NOT NULL,
    updated_by    TEXT NOT NULL,
    PRIMARY KEY (service, environments)
);

-- One row per deploy the judge follows, created with the deploy. `next_look_at` is when
-- the scheduler reads it again; a worker holds it until `claimed_until`.
CREATE TABLE verdicts (
    deploy_id       BIGINT PRIMARY KEY REFERENCES deploys (id) ON DELETE CASCADE,
    state           TEXT NOT NULL CHECK (state IN ('baking', 'healthy', 'ailing', 'unhealthy', 'no_data')),
    provisional     TEXT CHECK (provisional IN ('healthy', 'ailing', 'unhealthy', 'no_data')),
    is_final        BOOLEAN NOT NULL DEFAULT FALSE,
    score           DOUBLE PRECISION,
    rule            TEXT NOT NULL,
    receipt         TEXT NOT NULL DEFAULT '{}',
    decided_at      TIMESTAMPTZ,
    evaluated_at    TIMESTAMPTZ,
    next_look_at    TIMESTAMPTZ NOT NULL,
    claimed_until   TIMESTAMPTZ,
    override_state  TEXT CHECK (override_state IN ('healthy', 'unhealthy')),
    override_reason TEXT,
    override_by     TEXT,
    override_at     TIMESTAMPTZ
);

CREATE INDEX verdicts_due ON verdicts (next_look_at) WHERE NOT is_final;
CREATE INDEX verdicts_by_state ON verdicts (state, deploy_id);
