//! `AuditActor`: the audit log's single writer in this process.
//!
//! Every tick it reads committed payment events that have no audit entry yet (an anti-join, not a
//! high-water mark: on PostgreSQL an event can commit after a later-created one, and a high-water
//! mark would skip it), adds the refusals recorded since the last tick, and appends them all as one
//! chained batch. After a crash nothing is lost from the events: whatever was not appended is still
//! unaudited and is found again. Refusals are buffered in memory, so a crash may lose the last
//! tick's worth of them.
//!
//! The anti-join costs one probe per event in the window it scans, so the window is kept short:
//! every tick looks back `lookback` (1 s) before the newest event audited so far; every
//! `wide_sweep_every` (10 s) a tick looks back `wide_lookback` (60 s), for events whose
//! transaction committed late; a full sweep runs at start and then every `full_sweep_every`
//! (10 min), for anything later still. A late event is audited late, never lost.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use chrono::{DateTime, Utc};

use crate::audit::{payment_event_entry, AuditRecord, AuditStore, NewAuditEntry};
use crate::ports::{Clock, JobLease, SoleNode, StoreError};

#[derive(Clone, Debug)]
pub struct AuditSettings {
    /// How often new events are looked for.
    pub interval: Duration,
    /// Most entries appended in one transaction.
    pub batch_size: u32,
    /// Steady-state ticks look back this far before the newest audited event.
    pub lookback: Duration,
    /// Every `wide_sweep_every`, a tick looks back this far instead.
    pub wide_lookback: Duration,
    pub wide_sweep_every: Duration,
    /// How often the whole events table is checked for unaudited events.
    pub full_sweep_every: Duration,
    /// Refusals kept in memory while the database is unavailable; beyond this they are dropped
    /// (and logged).
    pub max_buffered: usize,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            interval: Duration::from_millis(200),
            batch_size: 500,
            // The window is what each tick scans (anti-join): at 2,000 payments/s, 300 s would be
            // over a million events per tick. payrail's transactions commit within milliseconds of
            // their events' timestamps; later ones are found by the wide or the full sweeps.
            lookback: Duration::from_secs(1),
            wide_lookback: Duration::from_secs(60),
            wide_sweep_every: Duration::from_secs(10),
            full_sweep_every: Duration::from_secs(600),
            max_buffered: 10_000,
        }
    }
}

/// Audit a refusal (appended with the next batch).
#[derive(Clone, Debug, Message)]
#[rtype(result = "()")]
pub struct Record(pub AuditRecord);

#[derive(Message)]
#[rtype(result = "()")]
struct Tick;

/// Appends everything committed and not yet audited, and every buffered refusal, then answers:
/// the last thing graceful shutdown does before the pool closes.
#[derive(Message)]
#[rtype(result = "Result<(), StoreError>")]
pub struct Flush;

pub struct AuditActor {
    store: Arc<dyn AuditStore>,
    clock: Arc<dyn Clock>,
    settings: AuditSettings,
    /// Only the node holding the `audit_appender` lease sweeps new events into the chain (one
    /// appender, not N racing for the head); every node appends its own buffered refusals.
    lease: Arc<dyn JobLease>,
    buffered: Vec<NewAuditEntry>,
    busy: bool,
    /// Newest `created_at` among audited events; `None` until the first sweep finishes.
    newest_audited: Option<DateTime<Utc>>,
    sweep_due: bool,
    last_sweep: Instant,
    last_wide_sweep: Instant,
}

/// What one batch did.
struct Batch {
    events: usize,
    newest: Option<DateTime<Utc>>,
    swept: bool,
}

impl AuditActor {
    pub fn new(store: Arc<dyn AuditStore>, clock: Arc<dyn Clock>, settings: AuditSettings) -> Self {
        Self {
            store,
            clock,
            settings,
            lease: Arc::new(SoleNode),
            buffered: Vec::new(),
            busy: false,
            newest_audited: None,
            sweep_due: true,
            last_sweep: Instant::now(),
            last_wide_sweep: Instant::now(),
        }
    }

    /// Sweeps new events only while `lease` is this node's (several nodes on one database).
    pub fn with_lease(mut self, lease: Arc<dyn JobLease>) -> Self {
        self.lease = lease;
        self
    }

    fn run_batch(&mut self, ctx: &mut Context<Self>) {
        if self.busy {
            return;
        }
        if self.last_sweep.elapsed() >= self.settings.full_sweep_every {
            self.sweep_due = true;
        }
        self.busy = true;
        let since = match (self.sweep_due, self.newest_audited) {
            (false, Some(newest)) => {
                let wide = self.last_wide_sweep.elapsed() >= self.settings.wide_sweep_every;
                let lookback = match wide {
                    true => {
                        self.last_wide_sweep = Instant::now();
                        self.settings.wide_lookback
                    }
                    false => self.settings.lookback,
                };
                let lookback = chrono::Duration::from_std(lookback).unwrap_or(chrono::Duration::MAX);
                newest.checked_sub_signed(lookback)
            }
            _ => None,
        };
        let swept = since.is_none();
        let records = std::mem::take(&mut self.buffered);
        let store = Arc::clone(&self.store);
        let clock = Arc::clone(&self.clock);
        let lease = Arc::clone(&self.lease);
        let limit = self.settings.batch_size;
        let work = async move {
            let result = async {
                let events = match lease.hold("audit_appender").await {
                    true => store.unaudited_events(since, limit).await?,
                    false => Vec::new(),
                };
                let now = clock.now();
                let mut entries: Vec<NewAuditEntry> = events.iter().map(|e| payment_event_entry(e, now)).collect();
                entries.extend(records.iter().cloned());
                if !entries.is_empty() {
                    store.append(&entries).await?;
                }
                Ok::<_, StoreError>(Batch {
                    events: events.len(),
                    newest: events.iter().map(|e| e.created_at).max(),
                    swept,
                })
            }
            .await;
            (result, records)
        };
        ctx.spawn(work.into_actor(self).map(|(result, records), actor, ctx| {
            actor.busy = false;
            match result {
                Ok(batch) => {
                    actor.newest_audited = actor.newest_audited.max(batch.newest);
                    let full = batch.events >= usize::try_from(actor.settings.batch_size).unwrap_or(usize::MAX);
                    if batch.swept && !full {
                        actor.sweep_due = false;
                        actor.last_sweep = Instant::now();
                    }
                    if full {
                        // More are waiting: don't sleep until the next tick.
                        ctx.notify(Tick);
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "audit batch not appended; will retry");
                    let mut records = records;
                    records.append(&mut actor.buffered);
                    actor.buffered = records;
                    actor.trim_buffer();
                }
            }
        }));
    }

    fn trim_buffer(&mut self) {
        let excess = self.buffered.len().saturating_sub(self.settings.max_buffered);
        if excess > 0 {
            self.buffered.drain(..excess);
            tracing::error!(dropped = excess, "audit buffer full; oldest refusals dropped");
        }
    }
}

impl Actor for AuditActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.notify(Tick);
        ctx.run_interval(self.settings.interval, |actor, ctx| actor.run_batch(ctx));
    }
}

impl Handler<Tick> for AuditActor {
    type Result = ();

    fn handle(&mut self, _: Tick, ctx: &mut Self::Context) {
        self.run_batch(ctx);
    }
}

impl Handler<Flush> for AuditActor {
    type Result = ResponseActFuture<Self, Result<(), StoreError>>;

    fn handle(&mut self, _: Flush, _ctx: &mut Self::Context) -> Self::Result {
        let mut records = Some(std::mem::take(&mut self.buffered));
        let store = Arc::clone(&self.store);
        let clock = Arc::clone(&self.clock);
        let limit = self.settings.batch_size;
        Box::pin(
            async move {
                // A full sweep (no lookback): shutdown is when nothing may be left behind. A batch
                // already in flight may append the same events first; the log's unique event id
                // then refuses this append, and the next attempt finds them audited.
                let mut attempts = 0;
                loop {
                    let events = store.unaudited_events(None, limit).await?;
                    let now = clock.now();
                    let mut entries: Vec<NewAuditEntry> = events.iter().map(|e| payment_event_entry(e, now)).collect();
                    entries.extend(records.clone().unwrap_or_default());
                    if entries.is_empty() {
                        return Ok(());
                    }
                    match store.append(&entries).await {
                        Ok(()) => {
                            records = None;
                            if events.len() < usize::try_from(limit).unwrap_or(usize::MAX) {
                                return Ok(());
                            }
                        }
                        Err(error) if attempts < 3 => {
                            attempts += 1;
                            tracing::debug!(%error, "audit flush raced a batch; retrying");
                            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                        }
                        Err(error) => return Err(error),
                    }
                }
            }
            .into_actor(self),
        )
    }
}

impl Handler<Record> for AuditActor {
    type Result = ();

    fn handle(&mut self, Record(record): Record, _ctx: &mut Self::Context) {
        tracing::info!(
            kind = record.kind,
            actor = record.actor.as_deref().unwrap_or("-"),
            address = record.address.as_deref().unwrap_or("-"),
            action = %record.action,
            outcome = %record.outcome,
            "audited refusal"
        );
        self.buffered.push(record.entry());
        self.trim_buffer();
    }
}
