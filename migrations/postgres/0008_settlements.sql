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
CREATE FUNCTION settlements_refuse_closed() RETURNS trigger AS $$
BEGIN
    IF OLD.status = 'closed' THEN
        RAISE EXCEPTION 'settlement is closed';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER settlements_closed_immutable BEFORE UPDATE OR DELETE ON settlements
    FOR EACH ROW EXECUTE FUNCTION settlements_refuse_closed();

CREATE FUNCTION settlement_lines_refuse_closed() RETURNS trigger AS $$
DECLARE
    parent TEXT;
BEGIN
    IF TG_OP = 'INSERT' THEN
        parent := NEW.settlement_id;
    ELSE
        parent := OLD.settlement_id;
    END IF;
    IF (SELECT status FROM settlements WHERE id = parent) = 'closed' THEN
        RAISE EXCEPTION 'settlement is closed';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER settlement_lines_closed_immutable BEFORE INSERT OR UPDATE OR DELETE ON settlement_lines
    FOR EACH ROW EXECUTE FUNCTION settlement_lines_refuse_closed();
