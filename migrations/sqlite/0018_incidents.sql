-- Incidents, from an incident tool's webhook or declared by a person. One row per
-- incident (its source and the source's id); its places are JSON arrays of names,
-- empty for "every".
CREATE TABLE incidents (
    id              INTEGER PRIMARY KEY,
    source          TEXT NOT NULL CHECK (source IN ('pagerduty', 'webhook', 'declared')),
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
CREATE INDEX incidents_by_time ON incidents (opened_at DESC, id DESC);
-- The open incidents, which the gate reads where an environment stops the line.
CREATE INDEX incidents_open ON incidents (opened_at DESC, id DESC) WHERE state <> 'resolved';
