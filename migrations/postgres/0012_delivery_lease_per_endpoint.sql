-- The delivery lease (issue 11) reads one endpoint's due deliveries in next-attempt order and
-- stops at its limit: with this index it visits about `limit` rows, where the old index on
-- next_attempt_at alone (all endpoints) made it read and sort the endpoint's whole backlog on
-- every lease, so a backlog slowed the very deliveries that would clear it.
--
-- `next_attempt_at >= 0` (always true) is in the predicate so that only queries that say it —
-- the lease and the due-endpoints scan — can use this index: the lease's "no earlier pending
-- event of this payment" lookup must use webhook_deliveries_in_order, and on a table whose
-- statistics lag behind its growth the planner could otherwise take this one for it and read
-- the whole backlog per row (72 ms against 0.3 ms with 13 000 pending).
CREATE INDEX webhook_deliveries_due_per_endpoint ON webhook_deliveries (endpoint_id, next_attempt_at)
    WHERE status = 'pending' AND next_attempt_at >= 0;
DROP INDEX webhook_deliveries_due;
