-- What a naive actix-web + sqlx service writes for one auto-captured payment: the same statements
-- payrail's store issues (src/store/sql.rs), one transaction per state change, each waiting for its
-- own commit. One pgbench "transaction" = one payment, so pgbench's tps is payments/s.
\set pid random(1, 9000000000000000000)
\set amount 1000
\set ts 1763780000000000
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
