-- Lock, unlock and override events go to the same webhook URLs as verdict messages:
-- such a message has no deploy and no verdict state, and carries its text.
CREATE TABLE notifications_next (
    id              INTEGER PRIMARY KEY,
    deploy_id       INTEGER REFERENCES deploys (id) ON DELETE CASCADE,
    url             TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('turned_bad', 'final', 'lock')),
    state           TEXT CHECK (state IN ('baking', 'healthy', 'ailing', 'unhealthy', 'no_data')),
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    last_attempt_at TEXT,
    next_attempt_at TEXT,
    claimed_until   TEXT,
    created_at      TEXT NOT NULL,
    message         TEXT,
    CHECK ((kind = 'lock') = (message IS NOT NULL AND deploy_id IS NULL AND state IS NULL))
);
INSERT INTO notifications_next (id, deploy_id, url, kind, state, status, attempts, last_error,
    last_attempt_at, next_attempt_at, claimed_until, created_at)
SELECT id, deploy_id, url, kind, state, status, attempts, last_error,
    last_attempt_at, next_attempt_at, claimed_until, created_at FROM notifications;
DROP TABLE notifications;
ALTER TABLE notifications_next RENAME TO notifications;
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notifications_by_time ON notifications (created_at DESC, id DESC);
