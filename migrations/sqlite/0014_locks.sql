-- Locks, freeze windows, break-glass overrides, the gate's counts, and deploys that
-- went out through a lock.
--
-- A lock covers a scope: everything (both NULL), one environment, or one service in
-- one environment. It is in force from `locked_at` until it is unlocked or its
-- `expires_at` passes; rows are never deleted (they are the lock history).
CREATE TABLE locks (
    id           INTEGER PRIMARY KEY,
    environment  TEXT,
    service      TEXT,
    reason       TEXT NOT NULL CHECK (reason <> ''),
    locked_by    TEXT NOT NULL,
    locked_at    TEXT NOT NULL,
    expires_at   TEXT,
    unlocked_by  TEXT,
    unlocked_at  TEXT,
    unlock_note  TEXT,
    CHECK (service IS NULL OR environment IS NOT NULL)
);
CREATE INDEX locks_open ON locks (environment, service) WHERE unlocked_at IS NULL;
CREATE INDEX locks_by_time ON locks (locked_at DESC, id DESC);

-- Recurring or one-off windows; `schedule` is the JSON of `domain::Schedule`.
CREATE TABLE freeze_windows (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL CHECK (name <> ''),
    note        TEXT,
    environment TEXT,
    service     TEXT,
    schedule    TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_by  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    CHECK (service IS NULL OR environment IS NOT NULL)
);

-- One deploy through a lock or freeze, granted by a lead, spent by the first
-- matching deploy registered while its place is locked.
CREATE TABLE lock_overrides (
    id          INTEGER PRIMARY KEY,
    service     TEXT NOT NULL,
    environment TEXT NOT NULL,
    version     TEXT,
    reason      TEXT NOT NULL CHECK (reason <> ''),
    granted_by  TEXT NOT NULL,
    granted_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_by     INTEGER REFERENCES deploys (id) ON DELETE SET NULL,
    used_at     TEXT
);
CREATE INDEX lock_overrides_open ON lock_overrides (service, environment) WHERE used_at IS NULL;

-- The gate's answers counted per day, environment, outcome and rule.
CREATE TABLE gate_answers (
    day         TEXT NOT NULL,
    environment TEXT NOT NULL,
    allowed     INTEGER NOT NULL,
    rule        TEXT NOT NULL,
    count       INTEGER NOT NULL,
    PRIMARY KEY (day, environment, allowed, rule)
);

-- What a deploy went out through, when its place was locked and no override applied.
ALTER TABLE deploys ADD COLUMN through_lock TEXT;

-- Open pull requests of linked repositories (from the `pull_request` webhook) and the
-- `houston/gate` commit status last posted on each head commit (`posted_state` NULL
-- until one was); a status is posted again when what it should say changes.
CREATE TABLE github_pull_requests (
    repository          TEXT NOT NULL,
    number              BIGINT NOT NULL,
    head_sha            TEXT NOT NULL,
    base_ref            TEXT NOT NULL,
    is_open             INTEGER NOT NULL,
    posted_state        TEXT,
    posted_description  TEXT,
    posted_at           TEXT,
    updated_at          TEXT NOT NULL,
    PRIMARY KEY (repository, number)
);
