-- Settings admins change at run time (today: which roles must use a second factor),
-- shared by every replica. Each change is audited.

CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    updated_by TEXT NOT NULL
);
