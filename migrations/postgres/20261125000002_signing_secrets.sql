-- Standard Webhooks signing: one secret per subscription; after a rotation the previous one keeps
-- signing (beside the new one) until previous_secret_expires_at.
ALTER TABLE subscriptions ADD COLUMN signing_secret text;
UPDATE subscriptions
SET signing_secret = 'whsec_' || encode(sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8')), 'base64');
ALTER TABLE subscriptions ALTER COLUMN signing_secret SET NOT NULL;
ALTER TABLE subscriptions ADD COLUMN previous_signing_secret text;
ALTER TABLE subscriptions ADD COLUMN previous_secret_expires_at timestamptz;
