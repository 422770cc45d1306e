-- Security, third round.

-- Who sent an alert's resolution (the alert source's token), while it is resolved.
ALTER TABLE alerts ADD COLUMN resolved_by TEXT;

-- Which gate rules an override breaks (comma-separated: lock, freeze, alert,
-- unhealthy, promotion, branch) and the one pipeline run that claimed it. A claim
-- reserves it for that run alone; a registration over a block spends it.
ALTER TABLE lock_overrides ADD COLUMN breaks TEXT NOT NULL DEFAULT 'lock,freeze';
ALTER TABLE lock_overrides ADD COLUMN claimed_run TEXT;
ALTER TABLE lock_overrides ADD COLUMN claimed_version TEXT;
ALTER TABLE lock_overrides ADD COLUMN claimed_by TEXT;
ALTER TABLE lock_overrides ADD COLUMN claimed_at TEXT;
