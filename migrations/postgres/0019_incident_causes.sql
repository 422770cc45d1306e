-- A person's word on a suspect: this deploy caused the incident (confirmed) or did
-- not (rejected). One per incident and deploy; a later word replaces it (audited).
CREATE TABLE incident_causes (
    incident_id BIGINT NOT NULL REFERENCES incidents (id),
    deploy_id   BIGINT NOT NULL REFERENCES deploys (id) ON DELETE CASCADE,
    decision    TEXT NOT NULL CHECK (decision IN ('confirmed', 'rejected')),
    note        TEXT,
    decided_by  TEXT NOT NULL,
    decided_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (incident_id, deploy_id)
);
CREATE INDEX incident_causes_by_deploy ON incident_causes (deploy_id);
