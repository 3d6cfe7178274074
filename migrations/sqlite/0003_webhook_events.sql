-- Provider webhook events, one row per (provider, event id): the dedupe key that makes a
-- redelivered event a no-op, and the record of events for payments payrail does not know (yet).
CREATE TABLE webhook_events (
    provider    TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    payment_id  TEXT,
    payload     TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (provider, event_id)
);

CREATE INDEX webhook_events_by_payment ON webhook_events (payment_id);
-- The reconciler's scan: payments still waiting for their provider's answer.
CREATE INDEX payments_awaiting_provider ON payments (status, updated_at);
