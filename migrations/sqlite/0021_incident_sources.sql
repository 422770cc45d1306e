-- More incident sources: Alertmanager alerts of a chosen severity, Opsgenie and
-- incident.io webhooks. SQLite cannot change a CHECK constraint in place, so
-- `incidents` is rebuilt; `incident_causes`, which refers to it, is set aside and
-- rebuilt after it (with foreign keys on, a referenced table cannot be dropped).
CREATE TABLE incident_causes_kept AS SELECT * FROM incident_causes;
DROP TABLE incident_causes;
CREATE TABLE incidents_next (
    id              INTEGER PRIMARY KEY,
    source          TEXT NOT NULL CHECK (source IN ('pagerduty', 'webhook', 'declared', 'alertmanager', 'opsgenie', 'incident_io')),
    external_id     TEXT NOT NULL,
    title           TEXT NOT NULL CHECK (title <> ''),
    severity        TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    state           TEXT NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),
    services        TEXT NOT NULL,
    environments    TEXT NOT NULL,
    opened_at       TEXT NOT NULL,
    acknowledged_at TEXT,
    resolved_at     TEXT,
    link            TEXT,
    opened_by       TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (source, external_id)
);
INSERT INTO incidents_next SELECT id, source, external_id, title, severity, state, services,
    environments, opened_at, acknowledged_at, resolved_at, link, opened_by, created_at,
    updated_at FROM incidents;
DROP TABLE incidents;
ALTER TABLE incidents_next RENAME TO incidents;
CREATE INDEX incidents_by_time ON incidents (opened_at DESC, id DESC);
CREATE INDEX incidents_open ON incidents (opened_at DESC, id DESC) WHERE state <> 'resolved';
CREATE TABLE incident_causes (
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    deploy_id   INTEGER NOT NULL REFERENCES deploys (id) ON DELETE CASCADE,
    decision    TEXT NOT NULL CHECK (decision IN ('confirmed', 'rejected')),
    note        TEXT,
    decided_by  TEXT NOT NULL,
    decided_at  TEXT NOT NULL,
    PRIMARY KEY (incident_id, deploy_id)
);
INSERT INTO incident_causes SELECT incident_id, deploy_id, decision, note, decided_by, decided_at
    FROM incident_causes_kept;
DROP TABLE incident_causes_kept;
CREATE INDEX incident_causes_by_deploy ON incident_causes (deploy_id);
