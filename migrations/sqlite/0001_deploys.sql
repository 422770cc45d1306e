-- Services, environments, deploys and their commits; API tokens; webhook deliveries.
-- Times are stored as RFC 3339 text in UTC (sqlx's encoding), which sorts in time order.

CREATE TABLE services (
    id             INTEGER PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    repository_url TEXT,
    created_at     TEXT NOT NULL
);

CREATE TABLE environments (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    stage_order INTEGER NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE deploys (
    id               INTEGER PRIMARY KEY,
    service_id       INTEGER NOT NULL REFERENCES services (id),
    environment_id   INTEGER NOT NULL REFERENCES environments (id),
    version          TEXT NOT NULL CHECK (version <> ''),
    previous_version TEXT,
    author           TEXT,
    description      TEXT,
    ci_url           TEXT,
    status           TEXT NOT NULL CHECK (status IN ('in_progress', 'succeeded', 'failed', 'rolled_back')),
    started_at       TEXT NOT NULL,
    finished_at      TEXT,
    source           TEXT NOT NULL CHECK (source IN ('api', 'github_webhook', 'demo')),
    external_id      TEXT UNIQUE,
    created_at       TEXT NOT NULL
);

CREATE INDEX deploys_by_start ON deploys (started_at DESC, id DESC);
CREATE INDEX deploys_by_place ON deploys (service_id, environment_id, started_at DESC, id DESC);
CREATE INDEX deploys_by_author ON deploys (author, started_at DESC);

CREATE TABLE deploy_commits (
    deploy_id    INTEGER NOT NULL REFERENCES deploys (id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    sha          TEXT NOT NULL,
    message      TEXT NOT NULL,
    author       TEXT,
    committed_at TEXT,
    PRIMARY KEY (deploy_id, position)
);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);

-- One active token per name; revoked ones keep their name for the record.
CREATE UNIQUE INDEX api_tokens_active_name ON api_tokens (name) WHERE revoked_at IS NULL;

CREATE TABLE webhook_deliveries (
    delivery_id TEXT PRIMARY KEY,
    received_at TEXT NOT NULL
);
