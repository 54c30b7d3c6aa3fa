-- WatchDeliveries reads a tenant's deliveries in the order they changed.
CREATE INDEX deliveries_by_change ON deliveries (tenant_id, updated_at, id);
