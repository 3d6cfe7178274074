//! The dispatcher: one background loop per node that turns committed payment events into
//! delivered webhooks, at least once.
//!
//! **Fan-out.** Each tick reads payment events of merchants with endpoints that have no
//! `merchant_events` marker yet, from a cursor that trails the clock by a window (an event can
//! commit a little after its timestamp). For each event it writes one delivery row per matching,
//! enabled endpoint created before the event, then the marker with the rendered body — in one
//! transaction. The cursor moves only after that commit; a crash before it repeats the scan,
//! and the anti-join and `ON CONFLICT DO NOTHING` make the repeat harmless.
//!
//! **Delivery.** For each endpoint with due deliveries whose breaker is closed, it leases at most
//! as many as the endpoint has free slots (`max_in_flight_per_endpoint`) — only deliveries whose
//! earlier events of the same payment are settled, so one payment's events arrive in order while
//! other payments go on. Each leased delivery is attempted in its own task; the outcomes (attempt
//! rows, each delivery's new state and next attempt time) are committed in batches by a recorder
//! loop, and a delivery stays leased until its outcome is committed. A lease expires, so a node that dies
//! mid-attempt strands nothing; on PostgreSQL, nodes skip each other's rows (`SKIP LOCKED`).
//!
//! **Pacing.** While payments saturate the database, the fan-out and delivery loops pause after
//! each round so that they take a bounded share of it (`pacing.rs`): deliveries lag, payments don't.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use payrail_core::domain::Payment;
use payrail_core::ports::StoreError;
use rand::Rng;
use tokio::sync::{mpsc, Notify, Semaphore};
use uuid::Uuid;

use crate::events::attempt::{self, Answer};
use crate::events::breaker::Breakers;
use crate::events::catalog::ATTEMPT_ID_PREFIX;
use crate::events::endpoints::{EndpointStatus, EventFilter};
use crate::events::pacing::Pacing;
use crate::events::{object, EventsError, MerchantEvents};
use crate::metrics::Metrics;
use crate::store::merchant_events::{self as db, AttemptRecord, EndpointRow, LeasedDelivery, OutboxRow};

/// Events fanned out per transaction at most.
const FAN_OUT_BATCH: i64 = 500;
/// Outcomes committed per transaction at most.
const RECORD_BATCH: usize = 256;
/// How often the pending-deliveries gauge is refreshed (a COUNT over the table).
const GAUGE_EVERY: Duration = Duration::from_secs(5);
/// How often the fan-out also looks back `SWEEP_WINDOW_MICROS` (10 minutes) instead of the usual
/// window, for an event whose commit was held up (a database stall) longer than the window.
const SWEEP_EVERY: Duration = Duration::from_secs(60);
const SWEEP_WINDOW_MICROS: i64 = 10 * 60 * 1_000_000;

pub struct Dispatcher {
    events: Arc<MerchantEvents>,
    metrics: Metrics,
    client: reqwest::Client,
    retries: Vec<Duration>,
    breakers: Breakers,
    pacing: Pacing,
    slots: Mutex<HashMap<String, Arc<Semaphore>>>,
    /// Signalled when an attempt ends, so the delivery loop leases the next one at once.
    slot_freed: Notify,
    /// Attempts' outcomes, committed in batches by the recorder loop (group commit).
    outcomes: mpsc::UnboundedSender<AttemptRecord>,
    recorder: Mutex<Option<mpsc::UnboundedReceiver<AttemptRecord>>>,
}

/// Stops the dispatcher's loops when the application stops.
pub struct DispatcherHandle(Vec<tokio::task::JoinHandle<()>>);

impl DispatcherHandle {
    pub fn stop(&self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

impl Dispatcher {
    pub fn new(events: Arc<MerchantEvents>, metrics: Metrics) -> Self {
        let timeout = Duration::from_millis(events.settings.timeout_ms);
        let client = attempt::client(events.policy, timeout);
        let retries = events.settings.retries();
        let (outcomes, recorder) = mpsc::unbounded_channel();
        let breakers = Breakers::new(
            events.settings.breaker_threshold,
            Duration::from_millis(events.settings.breaker_cooldown_ms),
            timeout * 2,
        );
        let pacing = Pacing::new(events.database.clone());
        Self {
            events,
            metrics,
            client,
            retries,
            breakers,
            pacing,
            slots: Mutex::new(HashMap::new()),
            slot_freed: Notify::new(),
            outcomes,
            recorder: Mutex::new(Some(recorder)),
        }
    }

    /// Runs the loops on the current runtime until the handle stops them: the fan-out every poll
    /// interval, delivery every poll interval or as soon as an attempt frees a slot (so a busy
    /// endpoint is fed continuously, not one batch per interval), and the outcome recorder.
    ///
    /// They run as Tokio tasks, not on actix's `LocalSet`: a runtime that shuts down drops its
    /// tasks inside its context, where a pooled connection they hold can still be given back;
    /// a `LocalSet` drops them after, and sqlx panics without a runtime.
    pub fn spawn(self) -> DispatcherHandle {
        let dispatcher = Arc::new(self);
        let interval = Duration::from_millis(dispatcher.events.settings.poll_interval_ms);
        let fan_out = {
            let dispatcher = Arc::clone(&dispatcher);
            tokio::spawn(async move {
                let mut sweep_at = Instant::now();
                loop {
                    // Now and then, a longer look back for events that committed very late.
                    let sweep = sweep_at.elapsed() >= SWEEP_EVERY;
                    if sweep {
                        sweep_at = Instant::now();
                    }
                    let started = Instant::now();
                    let fanned_out = dispatcher.fan_out(sweep).await;
                    let pause = dispatcher.pacing.pause_after(started.elapsed());
                    match fanned_out {
                        // A full batch: more are waiting, go on at once (or after the pause).
                        Ok(true) => {
                            tokio::time::sleep(pause).await;
                            continue;
                        }
                        Ok(false) => {}
                        Err(error) => {
                            tracing::warn!(error = %error, "merchant events: fan-out failed; retrying next tick");
                        }
                    }
                    tokio::time::sleep(interval.max(pause)).await;
                }
            })
        };
        let deliver = tokio::spawn({
            let dispatcher = Arc::clone(&dispatcher);
            async move {
                let mut gauge_at = Instant::now();
                loop {
                    let started = Instant::now();
                    if let Err(error) = Arc::clone(&dispatcher).dispatch_due().await {
                        tracing::warn!(error = %error, "merchant events: leasing deliveries failed; retrying next tick");
                    }
                    if gauge_at.elapsed() >= GAUGE_EVERY {
                        gauge_at = Instant::now();
                        if let Ok(pending) = db::pending_deliveries(&dispatcher.events.database).await {
                            dispatcher.metrics.set_webhook_deliveries_pending(pending);
                        }
                    }
                    let pause = dispatcher.pacing.pause_after(started.elapsed());
                    if pause.is_zero() {
                        let _ = tokio::time::timeout(interval, dispatcher.slot_freed.notified()).await;
                    } else {
                        // Freed slots wait for the pause too: that is the point of it.
                        tokio::time::sleep(pause).await;
                    }
                }
            }
        });
        let record = {
            let dispatcher = Arc::clone(&dispatcher);
            tokio::spawn(async move { dispatcher.record_outcomes().await })
        };
        DispatcherHandle(vec![fan_out, deliver, record])
    }

    /// Writes the delivery rows of new events and their markers in one transaction, then moves
    /// the cursor. Returns whether the batch was full (more may be waiting).
    async fn fan_out(&self, sweep: bool) -> Result<bool, EventsError> {
        let database = &self.events.database;
        let now = Utc::now().timestamp_micros();
        let window = i64::try_from(self.events.settings.fan_out_window_ms).unwrap_or(5_000) * 1_000;
        let horizon = now - window;
        let cursor = db::cursor(database).await?.unwrap_or(horizon);
        let since = if sweep {
            cursor.min(now - SWEEP_WINDOW_MICROS)
        } else {
            cursor
        };
        let events = db::events_to_fan_out(database, since, FAN_OUT_BATCH).await?;
        if !events.is_empty() {
            let mut endpoints: HashMap<String, Vec<EndpointRow>> = HashMap::new();
            for event in &events {
                if !endpoints.contains_key(&event.merchant_id) {
                    let rows = db::list_endpoints(database, &event.merchant_id).await?;
                    endpoints.insert(event.merchant_id.clone(), rows);
                }
            }
            let wanted = |event: &OutboxRow| -> Vec<String> {
                let rows = endpoints.get(&event.merchant_id).into_iter().flatten();
                rows.filter(|e| subscribed(e, event)).map(|e| e.id.clone()).collect()
            };
            let payments = self
                .load_payments(events.iter().filter(|e| !wanted(e).is_empty()))
                .await?;
            let mut deliveries = Vec::new();
            let mut markers = Vec::new();
            for event in &events {
                let targets = wanted(event);
                let payload = match payments.get(&event.payment_id) {
                    Some(payment) if !targets.is_empty() => {
                        let refund = object::load_refund(self.events.store.as_ref(), event).await?;
                        Some(object::render(event, payment, refund.as_ref()))
                    }
                    // One unreadable event must not hold up the others; it is logged each time.
                    None if !targets.is_empty() => continue,
                    _ => None,
                };
                for endpoint in targets {
                    deliveries.push((format!("whd_{}", Uuid::new_v4()), event, endpoint));
                }
                markers.push((event, payload));
            }
            let mut statements = db::insert_deliveries(deliveries, now);
            statements.extend(db::insert_markers(markers, now));
            db::execute_all(database, statements).await?;
        }
        let full = events.len() as i64 == FAN_OUT_BATCH;
        let next = match events.last() {
            Some(last) if full => last.created_at.min(horizon),
            _ => horizon,
        };
        db::advance_cursor(database, next.max(cursor)).await?;
        Ok(full)
    }

    /// The payments of `events`, read once each, a hundred per statement. A payment that cannot
    /// be read as stored is logged and left out (its events wait).
    async fn load_payments<'a>(
        &self,
        events: impl Iterator<Item = &'a OutboxRow>,
    ) -> Result<HashMap<String, Payment>, EventsError> {
        let mut ids: Vec<&str> = events.map(|e| e.payment_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut payments = HashMap::with_capacity(ids.len());
        let rows = db::payments(&self.events.database, &ids).await?;
        let returned: HashSet<&str> = rows.iter().map(|(id, _)| id.as_str()).collect();
        for missing in ids.iter().filter(|id| !returned.contains(**id)) {
            tracing::error!(payment_id = %missing, "merchant events: the payment of an event is missing; its events wait");
        }
        for (id, loaded) in rows {
            match loaded {
                Ok(payment) => {
                    payments.insert(id, payment);
                }
                Err(StoreError::Corrupt(reason)) => {
                    tracing::error!(payment_id = %id, %reason, "merchant events: payment cannot be read; its events wait");
                }
                Err(error) => return Err(error.into()),
            }
        }
        Ok(payments)
    }

    /// Leases due deliveries per endpoint, within its free slots, and attempts each in a task.
    async fn dispatch_due(self: Arc<Self>) -> Result<(), EventsError> {
        let now = Utc::now().timestamp_micros();
        let endpoints = db::endpoints_with_due_deliveries(&self.events.database, now).await?;
        for endpoint in endpoints {
            let allowed = self.breakers.allows(&endpoint.id);
            if allowed == 0 {
                continue;
            }
            let slots = self.slots(&endpoint.id);
            let free = slots.available_permits().min(allowed);
            if free == 0 {
                continue;
            }
            // Long enough for an attempt that times out, short enough to recover a dead node's.
            let lease = i64::try_from(self.events.settings.timeout_ms).unwrap_or(10_000) * 2_000 + 5_000_000;
            let leased = db::lease(&self.events.database, &endpoint.id, now, now + lease, free as i64).await?;
            let ids: Vec<String> = leased.iter().map(|d| d.event_id.clone()).collect();
            let mut bodies: HashMap<String, Option<String>> =
                db::payloads(&self.events.database, &ids).await?.into_iter().collect();
            for delivery in leased {
                let Some(body) = bodies.remove(&delivery.event_id).flatten() else {
                    // Not possible for a committed fan-out; the lease expires and it is looked at again.
                    tracing::error!(event_id = %delivery.event_id, "merchant events: a delivery's event has no body");
                    continue;
                };
                let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
                    break;
                };
                let dispatcher = Arc::clone(&self);
                let endpoint = endpoint.clone();
                tokio::spawn(async move {
                    if let Err(error) = dispatcher.deliver(&endpoint, &delivery, body).await {
                        // The lease expires and the delivery is attempted again.
                        tracing::warn!(endpoint_id = %endpoint.id, event_id = %delivery.event_id, error = %error,
                            "merchant events: delivery attempt could not be recorded");
                    }
                    drop(permit);
                    dispatcher.slot_freed.notify_one();
                });
            }
        }
        Ok(())
    }

    /// One attempt of one leased delivery, and its outcome committed.
    async fn deliver(
        &self,
        endpoint: &EndpointRow,
        delivery: &LeasedDelivery,
        body: String,
    ) -> Result<(), EventsError> {
        let secrets = self.events.signing_secrets(endpoint, Utc::now().timestamp_micros())?;
        let answer = attempt::post(
            &self.client,
            &self.events.policy,
            &endpoint.url,
            &delivery.event_id,
            &body,
            &secrets,
        )
        .await;
        let now = Utc::now().timestamp_micros();
        let attempt = delivery.attempts + 1;
        let (status, failures, next_attempt_at, outcome) = self.verdict(&answer, delivery, now);
        let record = AttemptRecord {
            attempt_id: format!("{ATTEMPT_ID_PREFIX}{}", Uuid::new_v4()),
            delivery_id: delivery.id.clone(),
            endpoint_id: endpoint.id.clone(),
            event_id: delivery.event_id.clone(),
            attempt,
            status_code: answer.status_code.map(i64::from),
            latency_ms: i64::try_from(answer.latency.as_millis()).unwrap_or(i64::MAX),
            error: answer.error.clone(),
            status,
            failures,
            next_attempt_at,
            at: now,
        };
        tracing::info!(
            endpoint_id = %endpoint.id,
            event_id = %delivery.event_id,
            payment_id = %delivery.payment_id,
            attempt,
            status_code = answer.status_code,
            error = answer.error.as_deref(),
            duration_ms = record.latency_ms,
            outcome,
            "merchant event delivery attempt"
        );
        self.metrics
            .webhook_delivery_attempted(outcome, answer.latency.as_secs_f64());
        // The endpoint's health first: a 410 disables the endpoint before this outcome is
        // recorded, so the payment's next event, which waits for this one, is never leased to it.
        let health = self.endpoint_health(endpoint, &answer, now).await;
        // The recorder lives as long as the dispatcher; were it gone, the lease would expire.
        let _ = self.outcomes.send(record);
        health
    }

    /// Commits attempts' outcomes as they come, many per transaction. If a commit fails, those
    /// deliveries keep their leases until they expire and are attempted again (same webhook-id).
    async fn record_outcomes(&self) {
        let Some(mut outcomes) = self.recorder.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return;
        };
        while let Some(first) = outcomes.recv().await {
            let mut batch = vec![first];
            while batch.len() < RECORD_BATCH {
                match outcomes.try_recv() {
                    Ok(record) => batch.push(record),
                    Err(_) => break,
                }
            }
            if let Err(error) = db::record_attempts(&self.events.database, &batch).await {
                tracing::warn!(error = %error, attempts = batch.len(),
                    "merchant events: attempts could not be recorded; they are attempted again when their leases expire");
            }
            // The next event of each payment may go now.
            self.slot_freed.notify_one();
        }
    }

    /// The delivery's next state after an answer: (status, failures, next attempt, outcome label).
    fn verdict(
        &self,
        answer: &Answer,
        delivery: &LeasedDelivery,
        now: i64,
    ) -> (&'static str, i64, Option<i64>, &'static str) {
        if answer.delivered() {
            return ("delivered", delivery.failures, None, "delivered");
        }
        if answer.gone() {
            return ("failed", delivery.failures + 1, None, "gone");
        }
        let failures = delivery.failures + 1;
        match self.retries.get(usize::try_from(failures - 1).unwrap_or(usize::MAX)) {
            Some(wait) => ("pending", failures, Some(now + jittered(*wait)), "retry"),
            None => ("failed", failures, None, "failed"),
        }
    }

    /// The breaker, the 3-day failure clock, and 410 Gone: each may disable the endpoint.
    async fn endpoint_health(&self, endpoint: &EndpointRow, answer: &Answer, now: i64) -> Result<(), EventsError> {
        let database = &self.events.database;
        self.breakers.record(&endpoint.id, answer.delivered());
        if answer.delivered() {
            if endpoint.failing_since.is_some() {
                db::mark_endpoint(database, &endpoint.id, None, false).await?;
            }
            return Ok(());
        }
        let since = endpoint.failing_since.unwrap_or(now);
        let limit = i64::try_from(self.events.settings.disable_after_secs).unwrap_or(i64::MAX / 2_000_000) * 1_000_000;
        let disable = answer.gone() || now - since >= limit;
        if disable {
            if db::mark_endpoint(database, &endpoint.id, Some(since), true).await? > 0 {
                self.metrics.webhook_endpoint_disabled();
                tracing::warn!(endpoint_id = %endpoint.id, gone = answer.gone(), "merchant events: endpoint disabled");
            }
        } else if endpoint.failing_since.is_none() {
            db::mark_endpoint(database, &endpoint.id, Some(since), false).await?;
        }
        Ok(())
    }

    fn slots(&self, endpoint: &str) -> Arc<Semaphore> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let max = self.events.settings.max_in_flight_per_endpoint;
        Arc::clone(
            slots
                .entry(endpoint.to_owned())
                .or_insert_with(|| Arc::new(Semaphore::new(max))),
        )
    }
}

/// Whether the endpoint gets this event: enabled, subscribed to its type, and registered before
/// it happened (an endpoint does not receive history).
fn subscribed(endpoint: &EndpointRow, event: &OutboxRow) -> bool {
    endpoint.status == EndpointStatus::Enabled.as_str()
        && endpoint.created_at <= event.created_at
        && EventFilter::from_column(&endpoint.enabled_events).matches(&event.kind)
}

/// `wait` ± 10 %, in microseconds: retries of many deliveries do not arrive in lockstep.
fn jittered(wait: Duration) -> i64 {
    let micros = i64::try_from(wait.as_micros()).unwrap_or(i64::MAX / 2);
    let spread = micros / 10;
    if spread == 0 {
        return micros;
    }
    micros + rand::thread_rng().gen_range(-spread..=spread)
}
