-- Operators' console: pause, rate limits, signing-secret age, and attempts read by subscription.

-- A paused subscription keeps status 'Enabled' (it still queues deliveries) and is not claimed while
-- paused_at is set. max_per_second is the rate summed over every instance; budget_tokens and
-- budget_at are its token bucket (NULL: full), read and spent by the claim under a row lock.
ALTER TABLE subscriptions
    ADD COLUMN paused_at timestamptz,
    ADD COLUMN max_per_second integer CHECK (max_per_second BETWEEN 1 AND 10000),
    ADD COLUMN budget_tokens double precision,
    ADD COLUMN budget_at timestamptz,
    ADD COLUMN secret_created_at timestamptz;
-- A rotation lets the previous secret sign for 24 hours: that is when the current one was made.
UPDATE subscriptions
SET secret_created_at = COALESCE(previous_secret_expires_at - interval '24 hours', created_at);
ALTER TABLE subscriptions ALTER COLUMN secret_created_at SET NOT NULL,
                          ALTER COLUMN secret_created_at SET DEFAULT now();
CREATE INDEX subscriptions_rate_limited ON subscriptions (id)
    WHERE max_per_second IS NOT NULL AND deleted_at IS NULL;

-- The health figures read a subscription's attempts by time: this index bounds them by the window
-- read, whatever the history kept.
ALTER TABLE delivery_attempts ADD COLUMN subscription_id uuid;
UPDATE delivery_attempts a SET subscription_id = d.subscription_id
FROM deliveries d WHERE d.id = a.delivery_id;
ALTER TABLE delivery_attempts ALTER COLUMN subscription_id SET NOT NULL;
CREATE INDEX delivery_attempts_by_subscription ON delivery_attempts (subscription_id, started_at);
