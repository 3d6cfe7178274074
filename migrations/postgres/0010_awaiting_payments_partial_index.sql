-- Issue 12: the reconciler's scan of payments still awaiting their provider or customer used an
-- index on (status, updated_at) over every payment, so every payment's outcome update (which
-- changes both) inserted a new entry into it, and the index grew with every payment ever made.
-- A partial index holds only the payments in the awaiting statuses: a payment that reaches an
-- outcome writes no entry there, and the index stays as small as the open work. The scan
-- (src/store/scan.rs) names the same statuses, so both databases can use it.
DROP INDEX payments_awaiting_provider;
CREATE INDEX payments_awaiting ON payments (updated_at)
    WHERE status IN ('pending', 'processing', 'requires_action');
