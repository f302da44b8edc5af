//! The feed thread: one OS thread per store running a current-thread tokio runtime, so the
//! synchronous [`RevocationStore`](crate::revocation::RevocationStore) calls and the web
//! layer's async workers never wait on the network. Disk work (fsync, compaction, position
//! files) goes to the runtime's blocking pool, never onto the runtime thread itself.
//!
//! ```text
//! revoke ─► outbox (+ local store) ─► wake ─► outbox loop ─► publish ─► publisher: XADD
//!                                                   connection loop: connect, handshake,
//!                                                   tail (XREAD BLOCK) ║ publisher ║ snapshotter
//!                                                   on error: FeedUnavailable once, backoff
//! ```

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use tokio::sync::Notify;

use super::conn::{connect, run_pipe, FeedError};
use super::names::{EntryId, FeedNames};
use super::outbox::Outbox;
use super::record::{seal_record, Field};
use super::status::Shared;
use crate::clock::Clock;
use crate::keys::Keys;
use crate::revocation::{Durability, FileStore, RevocationStore, StoreError};
use crate::session::events::{EventKind, EventSink, SecurityEvent};

/// Records per `XADD` pipeline.
const PUBLISH_BATCH: usize = 256;

/// The timing settings of a feed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Settings {
    pub(crate) retention: Duration,
    pub(crate) snapshot_every: Duration,
    pub(crate) backoff_min: Duration,
    pub(crate) backoff_max: Duration,
    /// Deadline of every command (a blocking read gets `block` on top).
    pub(crate) timeout: Duration,
    /// How long one `XREAD` blocks.
    pub(crate) block: Duration,
}

/// Everything the feed thread uses; the store holds it too, to wake and stop the thread.
pub(crate) struct Feed {
    pub(crate) names: FeedNames,
    pub(crate) node: String,
    pub(crate) client: redis::Client,
    pub(crate) keys: Keys,
    pub(crate) store: Arc<FileStore>,
    pub(crate) outbox: Arc<Outbox>,
    pub(crate) dir: PathBuf,
    pub(crate) shared: Shared,
    pub(crate) events: Arc<dyn EventSink>,
    pub(crate) settings: Settings,
    /// Picks the key ring in force and stamps the nodes hash.
    pub(crate) clock: Arc<dyn Clock>,
    /// New outbox work: queued `Background` revocations, or records a `Synced` revoke wrote.
    pub(crate) wake: Notify,
    /// Outbox records are waiting to be published.
    publish: Notify,
    /// Records were sent: the counter counts them in the outbox (off the publisher's path).
    count_wanted: Notify,
    stopping: AtomicBool,
    stop: Notify,
    /// The newest position whose records are applied but maybe not yet durable here; the
    /// syncer makes them durable and only then writes it to the position file.
    pub(crate) unsynced: std::sync::Mutex<Option<super::position::Position>>,
    pub(crate) sync_wanted: Notify,
    /// The syncer failed: the local store is unusable, the tail stops.
    pub(crate) sync_failed: AtomicBool,
}

impl Feed {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        names: FeedNames,
        node: String,
        client: redis::Client,
        keys: Keys,
        store: Arc<FileStore>,
        outbox: Arc<Outbox>,
        dir: PathBuf,
        shared: Shared,
        events: Arc<dyn EventSink>,
        settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            names,
            node,
            client,
            keys,
            store,
            outbox,
            dir,
            shared,
            events,
            settings,
            clock,
            wake: Notify::new(),
            publish: Notify::new(),
            count_wanted: Notify::new(),
            stopping: AtomicBool::new(false),
            stop: Notify::new(),
            unsynced: std::sync::Mutex::new(None),
            sync_wanted: Notify::new(),
            sync_failed: AtomicBool::new(false),
        }
    }

    /// The thread's body: runs until [`stop`](Self::stop), then writes what is still queued.
    pub(crate) fn run(self: Arc<Self>) {
        match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt.block_on(Arc::clone(&self).main()),
            Err(e) => tracing::error!(error = %e, "revocation feed: no runtime, the feed is not running"),
        }
        // On this thread, outside the runtime: blocking is fine here. Records the stream
        // acknowledged are counted, so a restart does not send them again.
        if let Err(e) = self.outbox.count_sent() {
            tracing::warn!(error = %e, "revocation feed: counting published records failed");
        }
        if let Err(e) = self.flush_outbox() {
            tracing::warn!(error = %e, "revocation feed: queued revocations not written to the outbox");
        }
    }

    /// Asks the thread to finish (the caller joins it).
    pub(crate) fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
        self.stop.notify_one();
    }

    /// Emits a security event.
    pub(crate) fn emit(&self, kind: EventKind) {
        self.events.emit(&SecurityEvent::new(kind));
    }

    /// The ring in force now (an owned `Arc`: it may be held across an `.await`).
    pub(crate) fn ring(&self) -> Arc<crate::keys::KeyRing> {
        self.keys.in_force_at(self.clock.now())
    }

    async fn main(self: Arc<Self>) {
        if self.stopping.load(Ordering::Acquire) {
            return;
        }
        tokio::select! {
            () = self.stop.notified() => {}
            () = self.outbox_loop() => {}
            () = self.connection_loop() => {}
            () = self.sync_loop() => {}
            () = self.count_loop() => {}
        }
    }

    /// Makes applied records durable and records the position, off the tail's path: the tail
    /// goes on reading (and the filter enforcing) while the fsync runs, so one batch's fsync
    /// does not delay the next batch's enforcement. Positions that arrive meanwhile collapse
    /// into the newest (one fsync covers them all).
    async fn sync_loop(self: &Arc<Self>) {
        loop {
            self.sync_wanted.notified().await;
            let pending = self
                .unsynced
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take();
            let Some(position) = pending else { continue };
            let feed = Arc::clone(self);
            // Everything applied before `position` was recorded is queued in the store, so
            // this sync covers it; the file never names a position ahead of durable records.
            let synced = blocking(move || {
                feed.store.sync()?;
                position.store(&feed.dir)
            })
            .await;
            if let Err(e) = synced {
                tracing::warn!(error = %e, "revocation feed: making applied records durable failed");
                self.sync_failed.store(true, Ordering::Release);
            }
        }
    }

    /// Counts sent records as published in the outbox, and empties it once it is long and
    /// fully published. Off the publisher's path: counting waits for the outbox lock, which a
    /// `Synced` revoke holds across its fsync, and the next batch must not wait for that.
    /// Sent-but-uncounted records are sent again after a reconnect, never lost.
    async fn count_loop(self: &Arc<Self>) {
        loop {
            self.count_wanted.notified().await;
            let feed = Arc::clone(self);
            let counted = blocking(move || {
                if feed.outbox.count_sent()? > 0 {
                    feed.outbox.empty_if_published(&|| feed.store.sync())?;
                }
                Ok(())
            })
            .await;
            if let Err(e) = counted {
                tracing::warn!(error = %e, "revocation feed: counting published records failed");
            }
        }
    }

    /// Writes queued `Background` revocations to the outbox whether or not Redis is reachable,
    /// then lets the publisher know.
    async fn outbox_loop(self: &Arc<Self>) {
        loop {
            self.wake.notified().await;
            if self.outbox.has_queued() {
                let feed = Arc::clone(self);
                if let Err(e) = blocking(move || feed.flush_outbox()).await {
                    tracing::warn!(error = %e, "revocation feed: writing the outbox failed");
                }
            }
            self.publish.notify_one();
        }
    }

    /// Appends the queued revocations to the outbox and hands them to the local store.
    pub(crate) fn flush_outbox(&self) -> Result<usize, StoreError> {
        self.outbox.append(None, &|r| self.keep(r))
    }

    /// Gives one of this node's revocations to the local store (already enforced in memory).
    pub(crate) fn keep(&self, r: &crate::revocation::Revocation) {
        if let Err(e) = self.store.revoke_with(r.clone(), Durability::Background) {
            tracing::warn!(error = %e, "revocation feed: local store refused an outbox record");
        }
    }

    async fn connection_loop(self: &Arc<Self>) {
        let mut delay = self.settings.backoff_min;
        loop {
            let mut established = false;
            let error = self.session(&mut established).await;
            self.shared.set_disconnected();
            // Whatever the failed connection sent and nobody counted yet goes again.
            self.outbox.resend_uncounted();
            if established {
                delay = self.settings.backoff_min;
            }
            match error {
                FeedError::Regressed => continue, // handshake again at once
                e if !self.shared.outage_reported.swap(true, Ordering::AcqRel) => {
                    tracing::warn!(error = %e, "revocation feed unreachable: serving from local state, retrying");
                    self.emit(EventKind::FeedUnavailable);
                }
                e => tracing::debug!(error = %e, "revocation feed: still unreachable"),
            }
            tokio::time::sleep(delay).await;
            delay = delay.saturating_mul(2).min(self.settings.backoff_max);
        }
    }

    /// One connection's life: handshake, then tail, publisher and snapshotter side by side
    /// until one fails.
    async fn session(self: &Arc<Self>, established: &mut bool) -> FeedError {
        let run = async {
            let mut tail = connect(&self.client, self.settings.timeout).await?;
            let mut cmd = connect(&self.client, self.settings.timeout).await?;
            let target = self.handshake(&mut cmd).await?;
            *established = true;
            self.shared.set_connected();
            if self.shared.outage_reported.swap(false, Ordering::AcqRel) {
                tracing::info!("revocation feed reachable again");
            }
            tokio::select! {
                r = self.tail(&mut tail, cmd.clone(), target) => r,
                r = self.publisher(cmd.clone()) => r,
                r = self.snapshotter(cmd) => r,
            }
        };
        match run.await {
            Err(e) => e,
            Ok(never) => match never {},
        }
    }

    /// Publishes outbox records in pipelined batches as they arrive, never waiting for a disk.
    async fn publisher(self: &Arc<Self>, mut conn: MultiplexedConnection) -> Result<Infallible, FeedError> {
        loop {
            let batch = self.outbox.next_batch(PUBLISH_BATCH);
            if batch.is_empty() {
                self.publish.notified().await;
                continue;
            }
            let ring = self.ring();
            let mut pipe = redis::pipe();
            for r in &batch {
                xadd(
                    &mut pipe,
                    &self.names.stream,
                    &seal_record(&ring, &self.names.stream, &self.node, r)?,
                );
            }
            let ids: Vec<Vec<u8>> = run_pipe(&mut conn, &pipe, self.settings.timeout, "XADD").await?;
            if let Some(max) = ids.iter().filter_map(|id| EntryId::from_bytes(id)).max() {
                self.shared.published(max);
            }
            // The next batch goes out at once; counting (a file write behind the outbox lock)
            // happens beside it.
            self.outbox.mark_sent(batch.len());
            self.count_wanted.notify_one();
        }
    }

    async fn snapshotter(self: &Arc<Self>, mut conn: MultiplexedConnection) -> Result<Infallible, FeedError> {
        let every = self.settings.snapshot_every;
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let covered = self.share(&mut conn, false).await?;
            self.trim(&mut conn, covered).await?;
        }
    }
}

/// Adds `XADD stream * field value …` to `pipe`.
pub(crate) fn xadd(pipe: &mut redis::Pipeline, stream: &str, fields: &[Field]) {
    let cmd = pipe.cmd("XADD").arg(stream).arg("*");
    for (name, value) in fields {
        cmd.arg(*name).arg(value.as_slice());
    }
}

/// Runs blocking disk work on the runtime's blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, FeedError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(FeedError::Store),
        Err(_) => Err(FeedError::Worker),
    }
}
