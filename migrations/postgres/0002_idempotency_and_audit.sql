-- Idempotency keys (DESIGN §5) and the hash-chained audit log (DESIGN §4). Timestamps are
-- microseconds since the Unix epoch, as in 0001.

-- One row per (merchant, key): the row is the claim, so it holds across processes and nodes.
-- In progress while response_status IS NULL; lock_token names the request holding it.
CREATE TABLE idempotency_keys (
    merchant_id     TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    -- HMAC-SHA256 (server secret) of method, path and canonical body: nothing PAN-derived unkeyed.
    fingerprint     TEXT NOT NULL,
    -- The payment the request creates or changes, and its version when claimed: what a retry after
    -- a crash consults to finish the work exactly once.
    payment_id      TEXT,
    payment_version BIGINT,
    lock_token      TEXT NOT NULL,
    locked_at       BIGINT NOT NULL,
    response_status BIGINT,
    response_body   TEXT,
    created_at      BIGINT NOT NULL,
    completed_at    BIGINT,
    PRIMARY KEY (merchant_id, idempotency_key)
);

CREATE INDEX idempotency_keys_by_created ON idempotency_keys (created_at);

-- Append-only and hash-chained: hash = SHA-256 over (seq, kind, event_id, payload, recorded_at,
-- prev_hash). `payrail audit verify` recomputes it. At most one entry per payment event.
CREATE TABLE audit_log (
    seq         BIGINT PRIMARY KEY NOT NULL,
    kind        TEXT NOT NULL,
    event_id    TEXT UNIQUE,
    payload     TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);

-- The AuditActor's anti-join looks at recent events first.
CREATE INDEX payment_events_by_created ON payment_events (created_at);

-- Defence in depth: the application never changes or deletes an audit entry.
CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
