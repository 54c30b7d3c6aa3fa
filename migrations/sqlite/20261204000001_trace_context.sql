-- Traces (OpenTelemetry): each leave event keeps the W3C traceparent of the change that wrote it,
-- so that the attempts to deliver it link to that trace. NULL when traces were not exported (and for
-- every event written before).
ALTER TABLE leave_events ADD COLUMN traceparent TEXT;
