-- Signals: metric samples, error events and alerts.
--
-- Samples and error events are the bulk of the database, so they are kept lean:
-- one row per sample keyed by (series, time), no second index. Retention deletes
-- series by series along that key. Series and error groups are never deleted
-- (they are small), so samples and events carry no foreign key to check on every
-- insert.

CREATE TABLE metric_series (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    service_id     BIGINT NOT NULL REFERENCES services (id),
    environment_id BIGINT NOT NULL REFERENCES environments (id),
    metric         TEXT NOT NULL,
    group_name     TEXT NOT NULL DEFAULT '',
    created_at     TIMESTAMPTZ NOT NULL,
    UNIQUE (service_id, environment_id, metric, group_name)
);

CREATE TABLE metric_samples (
    series_id BIGINT NOT NULL,
    at        TIMESTAMPTZ NOT NULL,
    value     DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (series_id, at)
);

CREATE TABLE error_groups (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    service_id     BIGINT NOT NULL REFERENCES services (id),
    environment_id BIGINT NOT NULL REFERENCES environments (id),
    fingerprint    TEXT NOT NULL,
    message        TEXT NOT NULL,
    level          TEXT NOT NULL CHECK (level IN ('debug', 'info', 'warning', 'error', 'fatal')),
    first_seen     TIMESTAMPTZ NOT NULL,
    last_seen      TIMESTAMPTZ NOT NULL,
    UNIQUE (service_id, environment_id, fingerprint)
);

CREATE TABLE error_events (
    group_id BIGINT NOT NULL,
    at       TIMESTAMPTZ NOT NULL,
    version  TEXT NOT NULL DEFAULT '',
    count    BIGINT NOT NULL CHECK (count > 0),
    PRIMARY KEY (group_id, at, version)
);

CREATE TABLE alerts (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    fingerprint   TEXT NOT NULL,
    starts_at     TIMESTAMPTZ NOT NULL,
    ends_at       TIMESTAMPTZ,
    state         TEXT NOT NULL CHECK (state IN ('firing', 'resolved')),
    name          TEXT NOT NULL,
    service       TEXT,
    environment   TEXT,
    labels        JSONB NOT NULL,
    annotations   JSONB NOT NULL,
    generator_url TEXT,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
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
    updated_at   TIMESTAMPTZ NOT NULL,
    updated_by   TEXT NOT NULL,
    CHECK ((source = 'prometheus') = (query IS NOT NULL))
);
