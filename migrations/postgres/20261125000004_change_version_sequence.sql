-- Change versions come from one sequence instead of a counter row per tenant: the row's lock, held
-- until commit, serialised every ingest of a tenant. Versions stay strictly increasing per tenant and,
-- for each leave, in commit order (writes to one absence are serialised by its row version).
CREATE SEQUENCE change_versions AS bigint;
SELECT setval('change_versions', GREATEST(COALESCE(max(change_version), 0), 1), COALESCE(max(change_version), 0) > 0)
FROM tenants;
ALTER TABLE tenants DROP COLUMN change_version;
