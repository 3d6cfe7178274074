-- Issue 14: several nodes, one truth.
--
-- A capture or cancel is committed as an intent on its payment before the provider is asked; the
-- provider's idempotency key derives from `pending_change_id`. A capture's reserved amount counts
-- against the authorisation, so even a bug cannot commit an intent that would over-capture.
ALTER TABLE payments ADD COLUMN pending_change_id TEXT;
ALTER TABLE payments ADD COLUMN pending_change_kind TEXT
    CHECK (pending_change_kind IS NULL OR pending_change_kind IN ('capture', 'cancel'));
ALTER TABLE payments ADD COLUMN pending_change_amount BIGINT
    CHECK (pending_change_amount IS NULL
           OR (pending_change_amount > 0 AND captured_amount + pending_change_amount <= amount));

-- A refund is its own intent: `pending`, its amount already counted in `refunded_amount` (which
-- the payments CHECK bounds by `captured_amount`), and awaiting the provider's answer until the
-- sending node (or the reconciler, if that node died) records it.
ALTER TABLE refunds ADD COLUMN awaiting_provider BIGINT NOT NULL DEFAULT 0;

CREATE INDEX refunds_awaiting_provider ON refunds (updated_at) WHERE awaiting_provider = 1;
CREATE INDEX payments_pending_change ON payments (updated_at) WHERE pending_change_id IS NOT NULL;

-- Jobs that must run on one node at a time (reconciler, idempotency reaper, audit appender, and
-- any other that asks): the holder renews `expires_at` every few seconds; another node takes the
-- lease once it has expired.
CREATE TABLE job_leases (
    job        TEXT PRIMARY KEY NOT NULL,
    holder     TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    renewed_at BIGINT NOT NULL
);
