-- Messages about verdicts to the webhook URLs in the `notifications.webhooks` setting:
-- one row per message and URL, written with the verdict's look that called for it, and
-- its delivery attempts. A deliverer claims due rows until `claimed_until`.
CREATE TABLE notifications (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    deploy_id       BIGINT NOT NULL REFERENCES deploys (id) ON DELETE CASCADE,
    url             TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('turned_bad', 'final')),
    state           TEXT NOT NULL CHECK (state IN ('baking', 'healthy', 'ailing', 'unhealthy', 'no_data')),
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    last_attempt_at TIMESTAMPTZ,
    next_attempt_at TIMESTAMPTZ,
    claimed_until   TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL
);

CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notifications_by_time ON notifications (created_at DESC, id DESC);
