-- What a naive actix-web + sqlx service writes for one auto-captured payment with an idempotency
-- key: the same statements payrail issues (src/store/sql.rs, src/store/idempotency.rs), one
-- transaction per state change, each waiting for its own commit: claim the key, insert the payment
-- `pending` + its event, record the capture + its event, store the response. (payrail's audit-log
-- appends are batched by its AuditActor and are not included here.) One pgbench "transaction" =
-- one payment, so pgbench's tps is payments/s.
\set pid random(1, 9000000000000000000)
\set amount 1000
\set ts 1763780000000000
INSERT INTO idempotency_keys (merchant_id, idempotency_key, fingerprint, payment_id, payment_version, lock_token,
    locked_at, created_at)
  VALUES ('merchant_dev', 'key_' || :client_id || '_' || :pid, 'f0e1d2c3b4a5968778695a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1e0f',
    'pay_' || :client_id || '_' || :pid, NULL, 'lock_' || :pid, :ts, :ts)
  ON CONFLICT (merchant_id, idempotency_key) DO NOTHING;
BEGIN;
INSERT INTO payments (id, merchant_id, amount, currency, status, capture_method, captured_amount, refunded_amount,
    provider, provider_reference, order_id, description, metadata, card_brand, card_last4, card_exp_month,
    card_exp_year, failure_code, failure_message, version, created_at, updated_at)
  VALUES ('pay_' || :client_id || '_' || :pid, 'merchant_dev', :amount, 'usd', 'pending', 'automatic', 0, 0,
    'sandbox', NULL, NULL, NULL, '{}', 'visa', '4242', 12, 2034, NULL, NULL, 1, :ts, :ts)
  ON CONFLICT DO NOTHING;
INSERT INTO payment_events (id, payment_id, merchant_id, sequence, kind, from_status, to_status, amount, refund_id,
    failure_code, created_at)
  VALUES ('evt_' || :client_id || '_' || :pid || '_1', 'pay_' || :client_id || '_' || :pid, 'merchant_dev', 1,
    'created', NULL, 'pending', :amount, NULL, NULL, :ts);
COMMIT;
BEGIN;
UPDATE payments SET status = 'succeeded', captured_amount = :amount, refunded_amount = 0,
    provider_reference = 'sb_' || :pid, failure_code = NULL, failure_message = NULL, version = 2, updated_at = :ts
  WHERE id = 'pay_' || :client_id || '_' || :pid AND version = 1;
INSERT INTO payment_events (id, payment_id, merchant_id, sequence, kind, from_status, to_status, amount, refund_id,
    failure_code, created_at)
  VALUES ('evt_' || :client_id || '_' || :pid || '_2', 'pay_' || :client_id || '_' || :pid, 'merchant_dev', 2,
    'authorization_recorded', 'pending', 'succeeded', :amount, NULL, NULL, :ts);
COMMIT;
UPDATE idempotency_keys SET response_status = 201,
    response_body = '{"id":"pay_x","object":"payment","amount":1000,"currency":"usd","status":"succeeded","captured_amount":1000,"refunded_amount":0,"provider":"sandbox"}',
    completed_at = :ts
  WHERE merchant_id = 'merchant_dev' AND idempotency_key = 'key_' || :client_id || '_' || :pid
    AND lock_token = 'lock_' || :pid AND response_status IS NULL;
