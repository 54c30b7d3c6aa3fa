-- Operators' console: pause, rate limits, signing-secret age, and attempts read by subscription.

-- A paused subscription keeps status 'Enabled' (it still queues deliveries) and is not claimed while
-- paused_at is set. max_per_second is its rate limit; budget_tokens and budget_at are its token
-- bucket (NULL: full), read and spent by the claim.
ALTER TABLE subscriptions ADD COLUMN paused_at INTEGER;
ALTER TABLE subscriptions ADD COLUMN max_per_second INTEGER
    CHECK (max_per_second BETWEEN 1 AND 10000);
ALTER TABLE subscriptions ADD COLUMN budget_tokens REAL;
ALTER TABLE subscriptions ADD COLUMN budget_at INTEGER;
ALTER TABLE subscriptions ADD COLUMN secret_created_at INTEGER;
-- A rotation lets the previous secret sign for 24 hours: that is when the current one was made.
UPDATE subscriptions
SET secret_created_at = COALESCE(previous_secret_expires_at - 86400000000, created_at);

-- The health figures read a subscription's attempts by time: this index bounds them by the window
-- read, whatever the history kept.
ALTER TABLE delivery_attempts ADD COLUMN subscription_id TEXT;
UPDATE delivery_attempts
SET subscription_id = (SELECT d.subscription_id FROM deliveries d WHERE d.id = delivery_id);
CREATE INDEX delivery_attempts_by_subscription ON delivery_attempts (subscription_id, started_at);
CREATE INDEX subscriptions_rate_limited ON subscriptions (id)
    WHERE max_per_second IS NOT NULL AND deleted_at IS NULL;
