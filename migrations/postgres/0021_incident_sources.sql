-- More incident sources: Alertmanager alerts of a chosen severity, Opsgenie and
-- incident.io webhooks.
ALTER TABLE incidents DROP CONSTRAINT incidents_source_check;
ALTER TABLE incidents ADD CONSTRAINT incidents_source_check
    CHECK (source IN ('pagerduty', 'webhook', 'declared', 'alertmanager', 'opsgenie', 'incident_io'));
