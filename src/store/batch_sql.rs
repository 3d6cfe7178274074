//! Multi-row writes for a group-commit batch: however many transitions a batch holds, it costs
//! BEGIN, at most four statements (insert new payments, update changed ones, insert events, upsert
//! refunds) and COMMIT — not four round trips per transition. Each transition's version check is
//! still its own: the UPDATE joins on (id, expected version) and RETURNING says which rows moved,
//! so a stale transition writes nothing and its batch-mates are unaffected.
//!
//! A payment id may appear at most once in the multi-row statements; a later transition of the
//! same payment in the batch (never produced by an actor, which waits for each commit) is applied
//! one by one afterwards, in order, in the same transaction.
//!
//! The SQL works on both SQLite (3.35+: UPDATE FROM, RETURNING) and PostgreSQL; VALUES columns are
//! referred to by their default names (column1, column2, ...), which both databases use.

/// Adds `apply_many` to a store type stamped out by `sql_store!`.
macro_rules! batch_apply {
    ($store:ident, $db:ty) => {
        impl $store {
            /// Writes `batch` inside the caller's transaction; returns, per transition, whether it
            /// applied (`false`: version moved on or the payment exists; nothing of it written).
            async fn apply_many(
                conn: &mut <$db as sqlx::Database>::Connection,
                batch: &[&payrail_core::domain::Transition],
            ) -> Result<Vec<bool>, sqlx::Error> {
                use std::collections::HashSet;

                use crate::store::rows::{metadata_json, micros, EVENT_COLUMNS, PAYMENT_COLUMNS, REFUND_COLUMNS};

                let mut seen = HashSet::new();
                let (mut first, mut later) = (Vec::new(), Vec::new());
                for (i, t) in batch.iter().enumerate() {
                    if seen.insert(t.payment.id.as_str()) {
                        first.push(i);
                    } else {
                        later.push(i);
                    }
                }
                let creates: Vec<usize> = first.iter().copied().filter(|&i| batch[i].expected_version.is_none()).collect();
                let updates: Vec<usize> = first.iter().copied().filter(|&i| batch[i].expected_version.is_some()).collect();
                let mut moved: HashSet<String> = HashSet::new();

                if !creates.is_empty() {
                    let mut q = sqlx::QueryBuilder::<$db>::new(format!("INSERT INTO payments ({PAYMENT_COLUMNS}) "));
                    q.push_values(creates.iter().map(|&i| &batch[i].payment), |mut row, p| {
                        let card = p.card.as_ref();
                        row.push_bind(p.id.as_str())
                            .push_bind(p.merchant_id.as_str())
                            .push_bind(p.amount.minor_units())
                            .push_bind(p.currency.code())
                            .push_bind(p.status.as_str())
                            .push_bind(p.capture_method.as_str())
                            .push_bind(p.captured_amount)
                            .push_bind(p.refunded_amount)
                            .push_bind(p.provider.as_str())
                            .push_bind(p.provider_reference.as_deref())
                            .push_bind(p.order_id.as_deref())
                            .push_bind(p.description.as_deref())
                            .push_bind(metadata_json(&p.metadata))
                            .push_bind(card.map(|c| c.brand.as_str()))
                            .push_bind(card.map(|c| c.last4.as_str()))
                            .push_bind(card.map(|c| i64::from(c.exp_month)))
                            .push_bind(card.map(|c| i64::from(c.exp_year)))
                            .push_bind(p.failure_code.as_deref())
                            .push_bind(p.failure_message.as_deref())
                            .push_bind(p.version)
                            .push_bind(micros(p.created_at))
                            .push_bind(micros(p.updated_at))
                            .push_bind(card.and_then(|c| c.fingerprint.as_deref()));
                    });
                    q.push(" ON CONFLICT DO NOTHING RETURNING id");
                    let rows: Vec<(String,)> = q.build_query_as().fetch_all(&mut *conn).await?;
                    moved.extend(rows.into_iter().map(|(id,)| id));
                }
                if !updates.is_empty() {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "UPDATE payments SET status = v.column3, captured_amount = v.column4, \
                         refunded_amount = v.column5, provider_reference = v.column6, failure_code = v.column7, \
                         failure_message = v.column8, version = v.column9, updated_at = v.column10 FROM (",
                    );
                    q.push_values(updates.iter().map(|&i| &batch[i]), |mut row, t| {
                        let p = &t.payment;
                        row.push_bind(p.id.as_str())
                            .push_bind(t.expected_version.unwrap_or(-1))
                            .push_bind(p.status.as_str())
                            .push_bind(p.captured_amount)
                            .push_bind(p.refunded_amount)
                            .push_bind(p.provider_reference.as_deref())
                            .push_bind(p.failure_code.as_deref())
                            .push_bind(p.failure_message.as_deref())
                            .push_bind(p.version)
                            .push_bind(micros(p.updated_at));
                    });
                    q.push(") AS v WHERE payments.id = v.column1 AND payments.version = v.column2 RETURNING payments.id");
                    let rows: Vec<(String,)> = q.build_query_as().fetch_all(&mut *conn).await?;
                    moved.extend(rows.into_iter().map(|(id,)| id));
                }
                let applied: Vec<usize> =
                    first.iter().copied().filter(|&i| moved.contains(batch[i].payment.id.as_str())).collect();
                if !applied.is_empty() {
                    let mut q = sqlx::QueryBuilder::<$db>::new(format!("INSERT INTO payment_events ({EVENT_COLUMNS}) "));
                    q.push_values(applied.iter().map(|&i| &batch[i].event), |mut row, e| {
                        row.push_bind(e.id.as_str())
                            .push_bind(e.payment_id.as_str())
                            .push_bind(e.merchant_id.as_str())
                            .push_bind(e.sequence)
                            .push_bind(e.kind.as_str())
                            .push_bind(e.from_status.map(|s| s.as_str()))
                            .push_bind(e.to_status.as_str())
                            .push_bind(e.amount)
                            .push_bind(e.refund_id.as_ref().map(|r| r.as_str()))
                            .push_bind(e.failure_code.as_deref())
                            .push_bind(micros(e.created_at));
                    });
                    q.build().execute(&mut *conn).await?;
                }
                let refunds: Vec<&payrail_core::domain::Refund> =
                    applied.iter().filter_map(|&i| batch[i].refund.as_ref()).collect();
                if !refunds.is_empty() {
                    let mut q = sqlx::QueryBuilder::<$db>::new(format!("INSERT INTO refunds ({REFUND_COLUMNS}) "));
                    q.push_values(refunds, |mut row, r| {
                        row.push_bind(r.id.as_str())
                            .push_bind(r.payment_id.as_str())
                            .push_bind(r.merchant_id.as_str())
                            .push_bind(r.amount.minor_units())
                            .push_bind(r.status.as_str())
                            .push_bind(r.reason.map(|x| x.as_str()))
                            .push_bind(r.provider_reference.as_deref())
                            .push_bind(micros(r.created_at))
                            .push_bind(micros(r.updated_at));
                    });
                    q.push(
                        " ON CONFLICT (id) DO UPDATE SET status = excluded.status, \
                         provider_reference = excluded.provider_reference, updated_at = excluded.updated_at",
                    );
                    q.build().execute(&mut *conn).await?;
                }

                let mut results: Vec<bool> = (0..batch.len()).map(|i| moved.contains(batch[i].payment.id.as_str())).collect();
                for &i in &later {
                    results[i] = Self::apply(&mut *conn, batch[i]).await?;
                }
                Ok(results)
            }
        }
    };
}

pub(crate) use batch_apply;
