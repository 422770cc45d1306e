-- The timeline reads the alerts that overlap a span: by their start.
CREATE INDEX alerts_by_time ON alerts (starts_at, id);
