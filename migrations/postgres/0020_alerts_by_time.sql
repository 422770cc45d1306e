-- The timeline reads the alerts that overlap a span: by their start, with their end
-- and state in the index so the ones that ended before the span are passed over
-- without reading their rows.
CREATE INDEX alerts_by_time ON alerts (starts_at, ends_at, state);
