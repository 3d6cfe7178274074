-- Issue 11: the retention purge (src/events/retention.rs) deletes merchant-event rows older than
-- the retention period in bounded batches; these let each batch find its oldest rows by index
-- instead of scanning the tables. payment_events (the outbox, also the audit chain's and the
-- settlements' source) is never purged.
CREATE INDEX webhook_delivery_attempts_by_time ON webhook_delivery_attempts (attempted_at);
CREATE INDEX webhook_deliveries_by_update ON webhook_deliveries (updated_at);
CREATE INDEX merchant_events_by_fan_out ON merchant_events (fanned_out_at);
