-- Tracking: an operator may mark a failed delivery processed (it leaves the pending-tasks dashboard and
-- is kept for audit with the note).
ALTER TABLE deliveries ADD COLUMN processed_at timestamptz;
ALTER TABLE deliveries ADD COLUMN processed_note text;
CREATE INDEX deliveries_failed ON deliveries (tenant_id, subscription_id, updated_at) WHERE status = 'failed';
CREATE INDEX deliveries_by_tenant ON deliveries (tenant_id, id);
