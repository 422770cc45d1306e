-- Who registered a deploy and who last changed its status (apart from the author
-- the caller claims), and the time of the report behind the current status, so a
-- late or replayed report never overwrites a newer one. API tokens get an owner and
-- an optional expiry; sessions an idle timeout.

ALTER TABLE deploys ADD COLUMN registered_by TEXT;
ALTER TABLE deploys ADD COLUMN status_changed_by TEXT;
-- SQLite cannot add a NOT NULL column without a default; the store always sets it.
ALTER TABLE deploys ADD COLUMN status_at TEXT NOT NULL DEFAULT '';
UPDATE deploys SET status_at = COALESCE(finished_at, started_at);

ALTER TABLE api_tokens ADD COLUMN expires_at TEXT;
ALTER TABLE api_tokens ADD COLUMN owner_user_id INTEGER REFERENCES users (id);
ALTER TABLE api_tokens ADD COLUMN created_by TEXT;

ALTER TABLE sessions ADD COLUMN last_seen_at TEXT NOT NULL DEFAULT '';
UPDATE sessions SET last_seen_at = created_at;

CREATE INDEX sessions_by_expiry ON sessions (expires_at);
CREATE INDEX webhook_deliveries_by_time ON webhook_deliveries (received_at);
CREATE INDEX login_failures_by_time ON login_failures (at);
