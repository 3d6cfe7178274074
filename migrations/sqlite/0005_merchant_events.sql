-- Issue 11: merchant events. Webhook endpoints per merchant, the fan-out of committed payment
-- events (the outbox, `payment_events`) into one delivery per event and endpoint, and every
-- delivery attempt. Timestamps are microseconds since the Unix epoch, as in 0001.

-- Secrets are sealed with the data-at-rest key (AES-256-GCM, the endpoint id as associated data).
-- During a rotation the previous secret keeps signing until previous_secret_expires_at.
CREATE TABLE webhook_endpoints (
    id                         TEXT PRIMARY KEY NOT NULL,
    merchant_id                TEXT NOT NULL,
    url                        TEXT NOT NULL,
    description                TEXT,
    -- JSON array of event types, or ["*"].
    enabled_events             TEXT NOT NULL,
    status                     TEXT NOT NULL,
    secret_sealed              TEXT NOT NULL,
    secret_key_id              TEXT NOT NULL,
    secret_prefix              TEXT NOT NULL,
    previous_secret_sealed     TEXT,
    previous_secret_key_id     TEXT,
    previous_secret_expires_at BIGINT,
    -- Set by the first failed attempt after a success, cleared by the next success: an endpoint
    -- failing for longer than the configured period is disabled.
    failing_since              BIGINT,
    created_at                 BIGINT NOT NULL,
    updated_at                 BIGINT NOT NULL
);

CREATE INDEX webhook_endpoints_by_merchant ON webhook_endpoints (merchant_id, created_at);

-- One row per payment event fanned out: the marker the fan-out's anti-join looks for (committed
-- with the event's deliveries) and the event body every delivery of it sends (NULL when no
-- endpoint wanted it: the events API renders those when read).
CREATE TABLE merchant_events (
    event_id     TEXT PRIMARY KEY NOT NULL,
    merchant_id  TEXT NOT NULL,
    payload      TEXT,
    fanned_out_at BIGINT NOT NULL
);

-- Where the fan-out's scan of payment_events starts (created_at, microseconds). It trails the
-- clock by a window, so an event committed late with an earlier timestamp is still found.
CREATE TABLE merchant_event_cursor (
    name     TEXT PRIMARY KEY NOT NULL,
    position BIGINT NOT NULL
);

-- One row per (event, endpoint). pending until delivered or failed; a node attempting it holds a
-- lease (leased_until) so no other node attempts it at the same time, and a dead node's lease
-- simply expires.
CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY NOT NULL,
    event_id        TEXT NOT NULL,
    endpoint_id     TEXT NOT NULL,
    merchant_id     TEXT NOT NULL,
    payment_id      TEXT NOT NULL,
    sequence        BIGINT NOT NULL,
    status          TEXT NOT NULL,
    -- Attempts ever made (numbers the attempts) and failures since the last (re)delivery request
    -- (the position in the retry schedule).
    attempts        BIGINT NOT NULL,
    failures        BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    leased_until    BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    CONSTRAINT webhook_deliveries_one_per_endpoint UNIQUE (event_id, endpoint_id)
);

-- Pending deliveries only: by due time, and per endpoint and payment in sequence order (what the
-- lease's ordering check reads: the oldest pending event of a payment for an endpoint). Only the
-- second starts with endpoint_id, so the check cannot use the first, however young the table's
-- statistics are (it did, on a never-analysed table, and turned the lease quadratic).
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_in_order ON webhook_deliveries (endpoint_id, payment_id, sequence)
    WHERE status = 'pending';
-- The pending-deliveries gauge.
CREATE INDEX webhook_deliveries_by_status ON webhook_deliveries (status);

CREATE TABLE webhook_delivery_attempts (
    id              TEXT PRIMARY KEY NOT NULL,
    delivery_id     TEXT NOT NULL,
    endpoint_id     TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    attempt         BIGINT NOT NULL,
    status_code     BIGINT,
    latency_ms      BIGINT NOT NULL,
    error           TEXT,
    next_attempt_at BIGINT,
    attempted_at    BIGINT NOT NULL
);

CREATE INDEX webhook_delivery_attempts_by_endpoint ON webhook_delivery_attempts (endpoint_id, attempted_at);
