//! Application-level group commit (DESIGN §4): concurrent payments' transitions are written in one
//! database transaction, so many payments share one fsync instead of paying one each.
//!
//! Callers hand a transition to [`GroupCommit::commit`] and wait. A writer task takes whatever is
//! queued (at most `max_batch`), commits it as one batch, and only then answers each caller with
//! its own result: nobody hears "done" before COMMIT returned, and `synchronous_commit` stays on.
//! Batching adds no waiting: the writer takes what queued up while earlier batches were in the
//! database; with no concurrency every batch has one transition.
//!
//! There is one queue per store and up to `writers` batches from it in the database at once, one
//! connection each: `database.commit_writers` connections on PostgreSQL (half the pool by
//! default), exactly one on SQLite, which has one writer anyway. A payment is never in two batches
//! at once: its actor waits for one commit before it submits the next transition. How a batch is
//! written — and how one write's conflict fails only that write — is the store's business
//! (`writes.rs`, and each backend's `batch.rs`).
//!
//! The queue is generic over what it carries; the store queues `StoreWrite`s (`writes.rs`) —
//! payments' transitions, idempotency claims and completions — all on this one queue.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use payrail_core::domain::Transition;
use payrail_core::ports::StoreError;
use tokio::sync::{mpsc, oneshot, Semaphore};

struct Queued<T, R> {
    item: T,
    reply: oneshot::Sender<Result<R, StoreError>>,
}

/// The queue in front of the store's batch writer. Cheap to share; the writer stops when the last
/// handle is dropped. `T` is what callers queue, `R` what each of them is answered with.
pub struct GroupCommit<T = Transition, R = ()> {
    queue: mpsc::UnboundedSender<Queued<T, R>>,
    stats: Arc<Stats>,
}

/// Batches written and transitions in them since start: their ratio is the mean batch size.
#[derive(Debug, Default)]
pub struct Stats {
    pub batches: AtomicU64,
    pub transitions: AtomicU64,
}

/// How many transitions one batch may hold, and how many batches may be in the database at once.
#[derive(Debug, Clone, Copy)]
pub struct GroupCommitSettings {
    pub max_batch: usize,
    pub writers: usize,
}

impl<T: Send + 'static, R: Send + 'static> GroupCommit<T, R> {
    /// Starts the writer task on the current Tokio runtime. `write_batch` commits a batch and
    /// returns one result per item, in order.
    pub fn start<W, F>(settings: GroupCommitSettings, write_batch: W) -> Self
    where
        W: Fn(Vec<T>) -> F + Send + Sync + 'static,
        F: Future<Output = Vec<Result<R, StoreError>>> + Send + 'static,
    {
        let (handle, writer) = Self::new(settings, write_batch);
        tokio::spawn(writer);
        handle
    }

    /// As [`GroupCommit::start`], but the writer and its batches run on a thread of their own
    /// (named `name`, with its own single-threaded runtime) until the last handle is dropped and
    /// the batches in flight have finished. For a writer whose batch is many short statements
    /// (SQLite's): each statement's answer is picked up at once, instead of waiting its turn behind
    /// the HTTP work on a shared runtime thread.
    pub fn start_on_own_thread<W, F>(name: &str, settings: GroupCommitSettings, write_batch: W) -> std::io::Result<Self>
    where
        W: Fn(Vec<T>) -> F + Send + Sync + 'static,
        F: Future<Output = Vec<Result<R, StoreError>>> + Send + 'static,
    {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let (handle, writer) = Self::new(settings, write_batch);
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || runtime.block_on(writer))?;
        Ok(handle)
    }

    /// The queue's handle and the writer's loop, which ends once every handle is dropped and the
    /// batches it started have answered their callers.
    fn new<W, F>(settings: GroupCommitSettings, write_batch: W) -> (Self, impl Future<Output = ()> + Send + 'static)
    where
        W: Fn(Vec<T>) -> F + Send + Sync + 'static,
        F: Future<Output = Vec<Result<R, StoreError>>> + Send + 'static,
    {
        let (queue, mut queued) = mpsc::unbounded_channel::<Queued<T, R>>();
        let max_batch = settings.max_batch.max(1);
        let writer_count = settings.writers.max(1);
        let writers = Arc::new(Semaphore::new(writer_count));
        let stats = Arc::new(Stats::default());
        let counted = Arc::clone(&stats);
        let writer = async move {
            loop {
                // Wait for a free writer first: what queues meanwhile becomes the next batch.
                let Ok(writer) = Arc::clone(&writers).acquire_owned().await else {
                    return;
                };
                let Some(first) = queued.recv().await else {
                    break;
                };
                let mut batch = vec![first];
                while batch.len() < max_batch {
                    match queued.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                counted.batches.fetch_add(1, Ordering::Relaxed);
                counted.transitions.fetch_add(batch.len() as u64, Ordering::Relaxed);
                let (transitions, replies): (Vec<_>, Vec<_>) = batch.into_iter().map(|q| (q.item, q.reply)).unzip();
                let written = write_batch(transitions);
                tokio::spawn(async move {
                    let results = written.await;
                    drop(writer);
                    let mut results = results.into_iter();
                    for reply in replies {
                        let result = results
                            .next()
                            .unwrap_or_else(|| Err(StoreError::Unavailable("batch result missing".into())));
                        // The caller may have gone away; its item's fate is in the store.
                        let _ = reply.send(result);
                    }
                });
            }
            // Every handle is gone: let the batches in flight finish before the runtime may stop.
            let all = u32::try_from(writer_count).unwrap_or(u32::MAX);
            let _ = writers.acquire_many(all).await;
        };
        (Self { queue, stats }, writer)
    }

    /// (batches, transitions) written so far.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.stats.batches.load(Ordering::Relaxed),
            self.stats.transitions.load(Ordering::Relaxed),
        )
    }

    /// Queues `item` and waits until the batch holding it has committed (or failed).
    pub async fn commit(&self, item: T) -> Result<R, StoreError> {
        let (reply, answer) = oneshot::channel();
        let queued = Queued { item, reply };
        let stopped = || StoreError::Unavailable("the store writer has stopped".into());
        self.queue.send(queued).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}
