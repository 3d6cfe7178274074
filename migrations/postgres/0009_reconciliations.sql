-- Issue 17: reconciliation against the providers' own records. A run (`payrail reconcile-report`)
-- compares one provider's listing of one UTC day with payrail's committed events of that day and
-- writes one `reconciliations` row per merchant it concerns (merchant_id NULL: provider records
-- payrail cannot attribute to any merchant, seen by operators only), all sharing the run's id, with
-- one `reconciliation_items` row per mismatch. Written in one transaction and never changed.
CREATE TABLE reconciliations (
    id                  TEXT PRIMARY KEY NOT NULL,
    run_id              TEXT NOT NULL,
    reconciliation_date TEXT NOT NULL,
    provider            TEXT NOT NULL,
    merchant_id         TEXT,
    -- Records on each side (one per payment or refund reference), how many agree, how many do not.
    payrail_count       BIGINT NOT NULL,
    provider_count      BIGINT NOT NULL,
    matched_count       BIGINT NOT NULL,
    mismatch_count      BIGINT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('matched', 'mismatched')),
    created_at          BIGINT NOT NULL
);

CREATE INDEX reconciliations_by_merchant ON reconciliations (merchant_id, reconciliation_date, provider);

CREATE TABLE reconciliation_items (
    reconciliation_id  TEXT NOT NULL REFERENCES reconciliations (id),
    item_no            BIGINT NOT NULL,
    mismatch           TEXT NOT NULL CHECK (mismatch IN ('missing_at_provider', 'missing_at_payrail',
                                                         'amount_differs', 'currency_differs', 'status_differs')),
    record_type        TEXT NOT NULL CHECK (record_type IN ('payment', 'refund')),
    provider_reference TEXT NOT NULL,
    payment_id         TEXT,
    refund_id          TEXT,
    payrail_amount     BIGINT,
    provider_amount    BIGINT,
    payrail_currency   TEXT,
    provider_currency  TEXT,
    payrail_status     TEXT,
    provider_status    TEXT,
    PRIMARY KEY (reconciliation_id, item_no)
);

-- The sandbox provider's own record of what it charged, captured and refunded (it has no remote
-- ledger to list), so a reconciliation runs end to end without keys. Written by the sandbox
-- adapter when it answers, never by payrail's payment code.
CREATE TABLE sandbox_ledger (
    record_type  TEXT NOT NULL CHECK (record_type IN ('payment', 'refund')),
    reference    TEXT NOT NULL,
    payment_id   TEXT NOT NULL,
    amount       BIGINT NOT NULL,
    currency     TEXT NOT NULL,
    status       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (record_type, reference)
);

CREATE INDEX sandbox_ledger_by_created ON sandbox_ledger (created_at);

-- Operator console sessions, shared by every node (a login on one node works on the others). The
-- cookie's random id is stored only as its SHA-256, so reading this table opens no session.
CREATE TABLE console_sessions (
    id_hash     TEXT PRIMARY KEY NOT NULL,
    operator    TEXT NOT NULL,
    csrf        TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);

CREATE INDEX console_sessions_by_expiry ON console_sessions (expires_at);

CREATE FUNCTION reconciliations_refuse_update() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'reconciliation reports are immutable';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER reconciliations_no_update BEFORE UPDATE ON reconciliations
    FOR EACH ROW EXECUTE FUNCTION reconciliations_refuse_update();

CREATE TRIGGER reconciliation_items_no_update BEFORE UPDATE ON reconciliation_items
    FOR EACH ROW EXECUTE FUNCTION reconciliations_refuse_update();
