-- Signals: metric samples, error events and alerts.
--
-- Samples and error events are the bulk of the database, so they are kept lean:
-- one row per sample in a WITHOUT ROWID table keyed by (series, time), times as
-- Unix microseconds (INTEGER, 8 bytes at most) rather than RFC 3339 text, and no
-- second index. Retention deletes series by series along that key. Series and
-- error groups are never deleted (they are small), so samples and events carry
-- no foreign key to check on every insert.

CREATE TABLE metric_series (
    id             INTEGER PRIMARY KEY,
    service_id     INTEGER NOT NULL REFERENCES services (id),
    environment_id INTEGER NOT NULL REFERENCES environments (id),
    metric         TEXT NOT NULL,
    group_name     TEXT NOT NULL DEFAULT '',
    created_at     TEXT NOT NULL,
    UNIQUE (service_id, environment_id, metric, group_name)
);

CREATE TABLE metric_samples (
    series_id INTEGER NOT NULL,
    at        INTEGER NOT NULL,
    value     REAL NOT NULL,
    PRIMARY KEY (series_id, at)
) WITHOUT ROWID;

CREATE TABLE error_groups (
    id             INTEGER PRIMARY KEY,
    service_id     INTEGER NOT NULL REFERENCES services (id),
    environment_id INTEGER NOT NULL REFERENCES environments (id),
    fingerprint    TEXT NOT NULL,
    message        TEXT NOT NULL,
    level          TEXT NOT NULL CHECK (level IN ('debug', 'info', 'warning', 'error', 'fatal')),
    first_seen     INTEGER NOT NULL,
    last_seen      INTEGER NOT NULL,
    UNIQUE (service_id, environment_id, fingerprint)
);

CREATE TABLE error_events (
    group_id INTEGER NOT NULL,
    at       INTEGER NOT NULL,
    version  TEXT NOT NULL DEFAULT '',
    count    INTEGER NOT NULL CHECK (count > 0),
    PRIMARY KEY (group_id, at, version)
) WITHOUT ROWID;

CREATE TABLE alerts (
    id            INTEGER PRIMARY KEY,
    fingerprint   TEXT NOT NULL,
    starts_at     TEXT NOT NULL,
    ends_at       TEXT,
    state         TEXT NOT NULL CHECK (state IN ('firing', 'resolved')),
    name          TEXT NOT NULL,
    service       TEXT,
    environment   TEXT,
    labels        TEXT NOT NULL,
    annotations   TEXT NOT NULL,
    generator_url TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    UNIQUE (fingerprint, starts_at)
);

CREATE INDEX alerts_by_state ON alerts (state, starts_at DESC);
CREATE INDEX alerts_by_place ON alerts (service, environment, starts_at DESC);

-- Metric definitions: what Houston watches and where the data comes from. Lists
-- are JSON arrays; `environments` NULL means every environment.
CREATE TABLE metric_definitions (
    name         TEXT PRIMARY KEY,
    unit         TEXT NOT NULL DEFAULT '',
    source       TEXT NOT NULL CHECK (source IN ('push', 'prometheus')),
    query        TEXT,
    services     TEXT NOT NULL,
    environments TEXT,
    updated_at   TEXT NOT NULL,
    updated_by   TEXT NOT NULL,
    CHECK ((source = 'prometheus') = (query IS NOT NULL))
);
