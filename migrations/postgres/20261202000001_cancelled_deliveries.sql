-- A delivery whose subscription is deleted, disabled or expired before it is sent is 'cancelled',
-- with the reason. It leaves the claim index (which holds only 'pending' rows) and the counts of work
-- to do, and retention purges it like a succeeded one. The cancellation is written in the same
-- transaction as the subscription's change.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_status_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_status_check
    CHECK (status IN ('waiting', 'pending', 'succeeded', 'failed', 'processed', 'cancelled'));
ALTER TABLE deliveries ADD COLUMN cancel_reason text
    CHECK (cancel_reason IN ('subscription deleted', 'subscription disabled', 'subscription expired'));

-- What earlier versions left pending or waiting for good.
UPDATE deliveries d
SET status = 'cancelled', lease_until = NULL, updated_at = now(),
    cancel_reason = CASE WHEN s.deleted_at IS NOT NULL THEN 'subscription deleted'
                         WHEN s.status = 'Disabled' THEN 'subscription disabled'
                         ELSE 'subscription expired' END
FROM subscriptions s
WHERE s.id = d.subscription_id
  AND d.status IN ('pending', 'waiting')
  AND (s.deleted_at IS NOT NULL OR s.status = 'Disabled' OR s.valid_until <= now());
