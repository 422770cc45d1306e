-- History filtered by one field, newest first, reads an index in that order and
-- stops at the page's end, instead of collecting every match and sorting it
-- (with a million deploys, thousands of rows per service or environment).
CREATE INDEX deploys_by_service ON deploys (service_id, started_at DESC, id DESC);
CREATE INDEX deploys_by_environment ON deploys (environment_id, started_at DESC, id DESC);
CREATE INDEX deploys_by_status ON deploys (status, started_at DESC, id DESC);

-- The audit log filtered by action or by actor, newest first.
CREATE INDEX audit_log_by_action ON audit_log (action, at DESC, id DESC);
CREATE INDEX audit_log_by_actor ON audit_log (actor, at DESC, id DESC);
