-- Issue 17: settlement reports. One row per provider × currency × merchant × UTC day × revision,
-- built from that day's committed payment events (never from the mutable payment rows), with one
-- line per capture or refund. A report is written `open`, its lines added, then `closed`, all in
-- one transaction; once closed, neither it nor its lines change again (triggers below). A re-run
-- whose figures differ (late events) writes revision + 1 beside it.
CREATE TABLE settlements (
    id               TEXT PRIMARY KEY NOT NULL,
    batch_id         TEXT NOT NULL,
    settlement_date  TEXT NOT NULL,
    provider         TEXT NOT NULL,
    currency         TEXT NOT NULL,
    merchant_id      TEXT NOT NULL,
    revision         BIGINT NOT NULL CHECK (revision >= 1),
    captured_amount  BIGINT NOT NULL,
    captured_count   BIGINT NOT NULL,
    refunded_amount  BIGINT NOT NULL,
    refunded_count   BIGINT NOT NULL,
    -- NULL: the provider reports no fees to payrail (none do yet).
    fees             BIGINT,
    net_amount       BIGINT NOT NULL,
    -- refunded_amount is net of reversals (refunds that failed later); refunded_count counts refunds made.
    -- SHA-256 over the lines (event ids and amounts): a re-run with the same digest is the same report.
    digest           TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    created_at       BIGINT NOT NULL,
    CONSTRAINT settlements_one_revision UNIQUE (settlement_date, provider, currency, merchant_id, revision)
);

CREATE INDEX settlements_by_merchant ON settlements (merchant_id, settlement_date, provider);

CREATE TABLE settlement_lines (
    settlement_id      TEXT NOT NULL REFERENCES settlements (id),
    line_no            BIGINT NOT NULL,
    event_id           TEXT NOT NULL,
    kind               TEXT NOT NULL CHECK (kind IN ('capture', 'refund', 'refund_reversal')),
    payment_id         TEXT NOT NULL,
    refund_id          TEXT,
    amount             BIGINT NOT NULL CHECK (amount > 0),
    currency           TEXT NOT NULL,
    provider_reference TEXT,
    occurred_at        BIGINT NOT NULL,
    PRIMARY KEY (settlement_id, line_no)
);

-- The daily settlement job runs on one node at a time through `job_leases` (0006, job 'settlement').

-- Defence in depth: a closed report and its lines are immutable, like the audit log.
CREATE TRIGGER settlements_closed_no_update BEFORE UPDATE ON settlements
WHEN OLD.status = 'closed'
BEGIN
    SELECT RAISE(ABORT, 'settlement is closed');
END;

CREATE TRIGGER settlements_closed_no_delete BEFORE DELETE ON settlements
WHEN OLD.status = 'closed'
BEGIN
    SELECT RAISE(ABORT, 'settlement is closed');
END;

CREATE TRIGGER settlement_lines_closed_no_insert BEFORE INSERT ON settlement_lines
WHEN (SELECT status FROM settlements WHERE id = NEW.settlement_id) = 'closed'
BEGIN
    SELECT RAISE(ABORT, 'settlement is closed');
END;

CREATE TRIGGER settlement_lines_closed_no_update BEFORE UPDATE ON settlement_lines
WHEN (SELECT status FROM settlements WHERE id = OLD.settlement_id) = 'closed'
BEGIN
    SELECT RAISE(ABORT, 'settlement is closed');
END;

CREATE TRIGGER settlement_lines_closed_no_delete BEFORE DELETE ON settlement_lines
WHEN (SELECT status FROM settlements WHERE id = OLD.settlement_id) = 'closed'
BEGIN
    SELECT RAISE(ABORT, 'settlement is closed');
END;
