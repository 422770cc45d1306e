-- Background jobs: queued (by a change, in its transaction) or periodic (one row
-- per job name, kept by `unique_key` and rescheduled after each run). A worker
-- claims due rows for a lease; a claim whose lease ran out (its worker died) is
-- claimed again, so jobs survive restarts.

CREATE TABLE jobs (
    id            INTEGER PRIMARY KEY,
    kind          TEXT NOT NULL,
    payload       TEXT NOT NULL DEFAULT '{}',
    unique_key    TEXT UNIQUE,
    run_at        TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    max_attempts  INTEGER NOT NULL,
    claimed_by    TEXT,
    claimed_until TEXT,
    last_error    TEXT,
    failed_at     TEXT,
    created_at    TEXT NOT NULL
);

CREATE INDEX jobs_due ON jobs (run_at) WHERE failed_at IS NULL;
