-- Failed sign-ins, kept for the throttling window: at most 10 per account and per
-- client address in 15 minutes. Shared by every replica through the database.

CREATE TABLE login_failures (
    id        INTEGER PRIMARY KEY,
    username  TEXT NOT NULL,
    address   TEXT,
    at        TEXT NOT NULL
);

CREATE INDEX login_failures_by_username ON login_failures (username, at);
CREATE INDEX login_failures_by_address ON login_failures (address, at);
