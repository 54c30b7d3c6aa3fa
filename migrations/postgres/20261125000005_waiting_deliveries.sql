-- Head-of-line order without a per-claim anti-join: a delivery queued behind an older unfinished one
-- of the same (subscription, leave) is 'waiting', and becomes 'pending' (due at once) when the older
-- one finishes. Every pending delivery is then claimable by due time alone, and the claim is an
-- ordered index scan that stops after one batch however long the backlog.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_status_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_status_check
    CHECK (status IN ('waiting', 'pending', 'succeeded', 'failed', 'processed'));

UPDATE deliveries d SET status = 'waiting'
WHERE d.status = 'pending'
  AND EXISTS (SELECT 1 FROM deliveries older
              WHERE older.subscription_id = d.subscription_id AND older.leave_key = d.leave_key
                AND older.status = 'pending' AND older.change_version < d.change_version);

DROP INDEX deliveries_leave_order;
CREATE INDEX deliveries_unfinished_by_leave ON deliveries (subscription_id, leave_key, change_version)
    WHERE status IN ('pending', 'waiting');
