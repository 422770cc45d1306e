-- Services, environments, deploys and their commits; API tokens; webhook deliveries.

CREATE TABLE services (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    repository_url TEXT,
    created_at     TIMESTAMPTZ NOT NULL
);

CREATE TABLE environments (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    stage_order INTEGER NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE deploys (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    service_id       BIGINT NOT NULL REFERENCES services (id),
    environment_id   BIGINT NOT NULL REFERENCES environments (id),
    version          TEXT NOT NULL CHECK (version <> ''),
    previous_version TEXT,
    author           TEXT,
    description      TEXT,
    ci_url           TEXT,
    status           TEXT NOT NULL CHECK (status IN ('in_progress', 'succeeded', 'failed', 'rolled_back')),
    started_at       TIMESTAMPTZ NOT NULL,
    finished_at      TIMESTAMPTZ,
    source           TEXT NOT NULL CHECK (source IN ('api', 'github_webhook', 'demo')),
    external_id      TEXT UNIQUE,
    created_at       TIMESTAMPTZ NOT NULL
);

CREATE INDEX deploys_by_start ON deploys (started_at DESC, id DESC);
CREATE INDEX deploys_by_place ON deploys (service_id, environment_id, started_at DESC, id DESC);
CREATE INDEX deploys_by_author ON deploys (author, started_at DESC);

CREATE TABLE deploy_commits (
    deploy_id    BIGINT NOT NULL REFERENCES deploys (id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    sha          TEXT NOT NULL,
    message      TEXT NOT NULL,
    author       TEXT,
    committed_at TIMESTAMPTZ,
    PRIMARY KEY (deploy_id, position)
);

CREATE TABLE api_tokens (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);

CREATE UNIQUE INDEX api_tokens_active_name ON api_tokens (name) WHERE revoked_at IS NULL;

CREATE TABLE webhook_deliveries (
    delivery_id TEXT PRIMARY KEY,
    received_at TIMESTAMPTZ NOT NULL
);
