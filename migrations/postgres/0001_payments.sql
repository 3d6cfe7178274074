-- Payments, their events (history + outbox) and refunds. Money is integer minor units; timestamps
-- are microseconds since the Unix epoch (UTC), identical on SQLite and PostgreSQL.
CREATE TABLE payments (
    id                 TEXT PRIMARY KEY NOT NULL,
    merchant_id        TEXT NOT NULL,
    amount             BIGINT NOT NULL,
    currency           TEXT NOT NULL,
    status             TEXT NOT NULL,
    capture_method     TEXT NOT NULL,
    captured_amount    BIGINT NOT NULL DEFAULT 0,
    refunded_amount    BIGINT NOT NULL DEFAULT 0,
    provider           TEXT NOT NULL,
    provider_reference TEXT,
    order_id           TEXT,
    description        TEXT,
    metadata           TEXT NOT NULL DEFAULT '{}',
    card_brand         TEXT,
    card_last4         TEXT,
    card_exp_month     BIGINT,
    card_exp_year      BIGINT,
    failure_code       TEXT,
    failure_message    TEXT,
    version            BIGINT NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    -- Defence in depth for DESIGN §11.1: even a bug cannot commit an over-capture or over-refund.
    CONSTRAINT payments_money_invariants CHECK (
        amount > 0
        AND captured_amount >= 0 AND captured_amount <= amount
        AND refunded_amount >= 0 AND refunded_amount <= captured_amount
    ),
    CONSTRAINT payments_version_positive CHECK (version >= 1)
);

CREATE INDEX payments_by_merchant ON payments (merchant_id, created_at DESC, id DESC);
CREATE INDEX payments_by_order ON payments (merchant_id, order_id, created_at DESC, id DESC);

CREATE TABLE payment_events (
    id           TEXT PRIMARY KEY NOT NULL,
    payment_id   TEXT NOT NULL REFERENCES payments (id),
    merchant_id  TEXT NOT NULL,
    sequence     BIGINT NOT NULL,
    kind         TEXT NOT NULL,
    from_status  TEXT,
    to_status    TEXT NOT NULL,
    amount       BIGINT,
    refund_id    TEXT,
    failure_code TEXT,
    created_at   BIGINT NOT NULL,
    -- One event per version: a lost update would collide here.
    CONSTRAINT payment_events_one_per_version UNIQUE (payment_id, sequence)
);

CREATE TABLE refunds (
    id                 TEXT PRIMARY KEY NOT NULL,
    payment_id         TEXT NOT NULL REFERENCES payments (id),
    merchant_id        TEXT NOT NULL,
    amount             BIGINT NOT NULL CHECK (amount > 0),
    status             TEXT NOT NULL,
    reason             TEXT,
    provider_reference TEXT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);

CREATE INDEX refunds_by_payment ON refunds (payment_id, created_at);
