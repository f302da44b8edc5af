//! Reading the stream: blocking `XREAD` from the last applied id, verifying every entry,
//! applying records to the local store; a syncer makes them durable and then records the new
//! position, while the tail reads on (spec/revocation.md, "Tail").
//!
//! A node applies every record, its own included: applying is idempotent, and a node whose
//! data directory was lost gets its own earlier revocations back this way.

use std::convert::Infallible;
use std::sync::Arc;

use redis::aio::MultiplexedConnection;
use redis::Value;

use super::conn::{parse_xinfo, parse_xread, run, FeedError, RawEntry, StreamInfo};
use super::handshake::{gap, probe, regression};
use super::names::EntryId;
use super::record::{open_entry, FeedEntry, Forged};
use super::worker::{blocking, Feed};
use crate::revocation::{Durability, Revocation, RevocationStore};
use crate::session::events::EventKind;

/// Entries per `XREAD`.
pub(crate) const READ_BATCH: usize = 500;

/// A batch whose records are enforced in memory, its position not yet recorded.
struct Enforced {
    records: Vec<Revocation>,
    /// Nodes whose snapshot markers the batch held.
    markers: Vec<String>,
    last: EntryId,
    /// The local store's background queue overflowed while enforcing.
    overflowed: bool,
}

impl Feed {
    /// Reads and applies entries until an error or a regression. `target` is the stream's
    /// last generated id when the session started: reaching it (or the end of the stream)
    /// makes the node current.
    pub(crate) async fn tail(
        self: &Arc<Self>,
        conn: &mut MultiplexedConnection,
        mut cmd: MultiplexedConnection,
        target: EntryId,
    ) -> Result<Infallible, FeedError> {
        if self.shared.position().last >= target {
            self.shared.set_current();
        }
        loop {
            let entries = self.read(conn).await?;
            if entries.is_empty() {
                self.check_regression(&mut cmd).await?;
                self.shared.set_current();
                self.shared.set_lag(Some(0));
                continue;
            }
            // Enforced first: the gap check and everything after it cost round trips, and a
            // logout elsewhere should be refused here as soon as its record arrives.
            let enforced = self.enforce(&entries)?;
            // Peers may have trimmed entries after the position before this read reached them
            // (a node reading a backlog): asked after the read, so a trim racing it is seen.
            // The position moves past this batch only after the gap is filled.
            let mut xinfo = redis::cmd("XINFO");
            xinfo.arg("STREAM").arg(&self.names.stream);
            let info =
                parse_xinfo(run::<Value>(&mut cmd, &xinfo, self.settings.timeout, "XINFO STREAM").await?)?;
            self.fill_gap(&mut cmd, &info).await?;
            let full = entries.len() >= READ_BATCH;
            let last = self.apply(&mut cmd, enforced).await?;
            if last >= target || !full {
                self.shared.set_current();
            }
            self.shared.set_lag((!full).then_some(0));
        }
    }

    async fn read(&self, conn: &mut MultiplexedConnection) -> Result<Vec<RawEntry>, FeedError> {
        let block = self.settings.block;
        let mut cmd = redis::cmd("XREAD");
        cmd.arg("COUNT")
            .arg(READ_BATCH)
            .arg("BLOCK")
            .arg(u64::try_from(block.as_millis()).unwrap_or(u64::MAX))
            .arg("STREAMS")
            .arg(&self.names.stream)
            .arg(self.shared.position().last.to_string());
        let reply: Value = run(conn, &cmd, block + self.settings.timeout, "XREAD").await?;
        parse_xread(reply)
    }

    /// Verifies one batch and enforces its records in memory (they reach the disk through the
    /// local store's background writer); forged entries are counted and skipped.
    fn enforce(&self, entries: &[RawEntry]) -> Result<Enforced, FeedError> {
        let ring = self.ring();
        let dropped_before = self.store.background_dropped();
        let mut records = Vec::with_capacity(entries.len());
        let mut markers = Vec::new();
        let mut last = EntryId::ZERO;
        for entry in entries {
            last = last.max(entry.id);
            match open_entry(&ring, &self.names.stream, &entry.fields) {
                Ok((FeedEntry::Record(r), _)) => {
                    self.store.revoke_with(r.clone(), Durability::Background)?;
                    records.push(r);
                }
                Ok((FeedEntry::Marker, node)) => markers.push(node),
                Err(why) => self.forged(entry.id, why),
            }
        }
        let overflowed = self.store.background_dropped() != dropped_before;
        Ok(Enforced {
            records,
            markers,
            last,
            overflowed,
        })
    }

    /// Finishes an enforced batch: merges the snapshots its markers announce, then moves the
    /// position past it once its records are durable here.
    async fn apply(
        self: &Arc<Self>,
        cmd: &mut MultiplexedConnection,
        enforced: Enforced,
    ) -> Result<EntryId, FeedError> {
        let Enforced {
            records,
            markers,
            last,
            overflowed,
        } = enforced;
        let mut merged = false;
        for node in markers {
            merged |= self.merge_snapshot_of(cmd, &node).await?;
        }
        let mut position = self.shared.position();
        position.last = position.last.max(last);
        let (feed, p, applied) = (Arc::clone(self), position.clone(), records.len() as u64);
        if overflowed || merged {
            blocking(move || {
                feed.store.sync()?;
                if overflowed {
                    // The local store's queue overflowed (a revocation storm): make this batch
                    // durable one record at a time rather than move past records it may lack.
                    tracing::warn!(
                        "revocation feed: local store queue full, writing the batch synchronously"
                    );
                    records
                        .into_iter()
                        .try_for_each(|r: Revocation| feed.store.revoke(r))?;
                }
                if merged {
                    feed.store.compact()?;
                }
                p.store(&feed.dir)
            })
            .await?;
        } else {
            // The common case: the records are enforced already; the syncer makes them
            // durable and then records the position, while this loop reads on.
            *self
                .unsynced
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(p);
            self.sync_wanted.notify_one();
        }
        if self.sync_failed.load(std::sync::atomic::Ordering::Acquire) {
            return Err(FeedError::Store(crate::revocation::StoreError::Poisoned));
        }
        self.shared.set_position(position);
        self.shared
            .applied
            .fetch_add(applied, std::sync::atomic::Ordering::Relaxed);
        self.report_position(cmd, last).await?;
        Ok(last)
    }

    /// `HSET nodes <node> "<last id> <unix time>"`, for operators (`feed_status`).
    pub(crate) async fn report_position(
        &self,
        cmd: &mut MultiplexedConnection,
        last: EntryId,
    ) -> Result<(), FeedError> {
        let mut hset = redis::cmd("HSET");
        hset.arg(&self.names.nodes)
            .arg(&self.node)
            .arg(format!("{last} {}", self.clock.now().secs()));
        run::<Value>(cmd, &hset, self.settings.timeout, "HSET")
            .await
            .map(|_| ())
    }

    /// Counts, reports and logs a refused entry; never its contents.
    pub(crate) fn forged(&self, id: EntryId, why: Forged) {
        self.shared
            .forged
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::warn!(entry = %id, reason = why.as_str(), "revocation feed: ignored an entry that failed authentication");
        self.emit(EventKind::ForgedFeedRecord);
    }

    /// Between reads: has the stream lost what this node saw?
    async fn check_regression(self: &Arc<Self>, cmd: &mut MultiplexedConnection) -> Result<(), FeedError> {
        let (position, published) = (self.shared.position(), self.shared.published_max());
        let probe = probe(
            cmd,
            &self.names,
            self.settings.timeout,
            &[position.last, published],
        )
        .await?;
        if regression(&position, published, &probe).is_some() {
            return Err(FeedError::Regressed);
        }
        match &probe.stream {
            Some(info) => self.fill_gap(cmd, info).await,
            None => Ok(()),
        }
    }

    /// Loads the shared snapshots if entries after the position were removed unread.
    pub(crate) async fn fill_gap(
        self: &Arc<Self>,
        cmd: &mut MultiplexedConnection,
        info: &StreamInfo,
    ) -> Result<(), FeedError> {
        if gap(self.shared.position().last, info) {
            self.load_snapshots(cmd, info).await?;
        }
        Ok(())
    }
}
