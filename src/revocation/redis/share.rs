//! Shared snapshots and trimming (spec/revocation.md, "Snapshots and trimming"): each node
//! publishes its whole set under `snapshot:{node}`, bound to the last entry it holds, and
//! only then trims the stream, never past that entry. A node that finds entries it had not
//! read trimmed away, or that sees a peer's marker, merges the shared snapshots instead.

use std::sync::Arc;

use redis::aio::MultiplexedConnection;
use redis::Value;

use super::conn::{parse_byte_pairs, run, run_pipe, FeedError, StreamInfo};
use super::names::{check_name, EntryId};
use super::record::{open_snapshot, seal_marker, seal_snapshot, OpenedSnapshot};
use super::worker::{blocking, xadd, Feed};
use crate::revocation::RevocationStore;

impl Feed {
    /// Publishes this node's snapshot (and, with `marker`, a marker entry pointing at it).
    /// Returns the stream id the snapshot covers.
    pub(crate) async fn share(
        self: &Arc<Self>,
        conn: &mut MultiplexedConnection,
        marker: bool,
    ) -> Result<EntryId, FeedError> {
        // The position is taken before the set is copied: the copy holds at least every record
        // up to it (the tail moves the position only after applying).
        let position = self.shared.position();
        let Some(incarnation) = position.incarnation.clone() else {
            return Ok(EntryId::ZERO);
        };
        let covered = position.last;
        let (feed, ring) = (Arc::clone(self), self.ring());
        let fields = blocking(move || {
            let bytes = feed.store.set().snapshot().to_bytes(&ring)?;
            seal_snapshot(
                &ring,
                &feed.names.stream,
                &feed.node,
                &incarnation,
                covered,
                bytes,
            )
        })
        .await?;
        // One MULTI/EXEC: readers see the old snapshot or the new one, never none, and fields
        // someone else added to the hash (which would make it fail to verify) are dropped.
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("DEL")
            .arg(self.names.snapshot(&self.node))
            .ignore();
        let hset = pipe.cmd("HSET").arg(self.names.snapshot(&self.node));
        for (name, value) in &fields {
            hset.arg(*name).arg(value.as_slice());
        }
        pipe.ignore();
        pipe.cmd("HSET")
            .arg(&self.names.nodes)
            .arg(&self.node)
            .arg(format!("{covered} {}", self.clock.now().secs()))
            .ignore();
        if marker {
            let ring = self.ring();
            xadd(
                &mut pipe,
                &self.names.stream,
                &seal_marker(&ring, &self.names.stream, &self.node, covered)?,
            );
            pipe.ignore();
        }
        run_pipe::<()>(conn, &pipe, self.settings.timeout, "HSET snapshot").await?;
        tracing::debug!(covered = %covered, "revocation feed: snapshot published");
        Ok(covered)
    }

    /// `XTRIM MINID` to the older of (server time − retention) and `covered`: every entry
    /// dropped is older than the retention and held by the snapshot just published.
    pub(crate) async fn trim(
        &self,
        conn: &mut MultiplexedConnection,
        covered: EntryId,
    ) -> Result<(), FeedError> {
        let timeout = self.settings.timeout;
        // The server's clock, not this node's: stream ids are made from it.
        let (secs, micros): (u64, u64) = run(conn, &redis::cmd("TIME"), timeout, "TIME").await?;
        let retention = u64::try_from(self.settings.retention.as_millis()).unwrap_or(u64::MAX);
        let now_ms = secs.saturating_mul(1000).saturating_add(micros / 1000);
        let min_id = EntryId::at_ms(now_ms.saturating_sub(retention)).min(covered);
        if min_id == EntryId::ZERO {
            return Ok(());
        }
        let mut xtrim = redis::cmd("XTRIM");
        xtrim.arg(&self.names.stream).arg("MINID").arg(min_id.to_string());
        let trimmed: u64 = run(conn, &xtrim, timeout, "XTRIM").await?;
        if trimmed > 0 {
            tracing::debug!(trimmed, min_id = %min_id, "revocation feed: stream trimmed");
        }
        Ok(())
    }

    /// Merges every shared snapshot that verifies and moves the position to the furthest id
    /// one of them covers (entries up to it are in the merged set).
    pub(crate) async fn load_snapshots(
        self: &Arc<Self>,
        conn: &mut MultiplexedConnection,
        info: &StreamInfo,
    ) -> Result<(), FeedError> {
        let mut hkeys = redis::cmd("HKEYS");
        hkeys.arg(&self.names.nodes);
        let nodes: Vec<Vec<u8>> = run(conn, &hkeys, self.settings.timeout, "HKEYS").await?;
        let mut position = self.shared.position();
        let mut covered = EntryId::ZERO;
        let mut merged = 0usize;
        for node in nodes.iter().filter_map(|n| core::str::from_utf8(n).ok()) {
            if check_name(node, "node name").is_err() {
                continue;
            }
            let Some(opened) = self.fetch_snapshot(conn, node).await? else {
                continue;
            };
            if self.merge(node, &opened) {
                merged += 1;
                if position.incarnation.as_deref() == Some(opened.incarnation.as_str()) {
                    covered = covered.max(opened.covered);
                }
            }
        }
        let trimmed_to = info.max_deleted.or(info.first_entry).unwrap_or_default();
        if covered < trimmed_to {
            tracing::warn!(
                covered = %covered,
                trimmed = %trimmed_to,
                "revocation feed: entries were trimmed past every shared snapshot; revocations in them may be missing here"
            );
        }
        position.last = position.last.max(covered);
        let (feed, p) = (Arc::clone(self), position.clone());
        blocking(move || {
            feed.store.compact()?; // the merged state is durable before the position moves
            p.store(&feed.dir)
        })
        .await?;
        self.shared.set_position(position);
        tracing::info!(merged, covered = %covered, "revocation feed: loaded shared snapshots");
        Ok(())
    }

    /// Fetches and merges `node`'s snapshot (after a marker). True when something was merged.
    pub(crate) async fn merge_snapshot_of(
        &self,
        conn: &mut MultiplexedConnection,
        node: &str,
    ) -> Result<bool, FeedError> {
        Ok(match self.fetch_snapshot(conn, node).await? {
            Some(opened) => self.merge(node, &opened),
            None => false,
        })
    }

    fn merge(&self, node: &str, opened: &OpenedSnapshot) -> bool {
        match self.store.set().merge(&opened.snapshot) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(node, error = %e, "revocation feed: shared snapshot not merged (nodes must share one filter configuration)");
                false
            }
        }
    }

    /// `node`'s shared snapshot if it exists and verifies; a forged one is reported.
    async fn fetch_snapshot(
        &self,
        conn: &mut MultiplexedConnection,
        node: &str,
    ) -> Result<Option<OpenedSnapshot>, FeedError> {
        let mut hgetall = redis::cmd("HGETALL");
        hgetall.arg(self.names.snapshot(node));
        let reply: Value = run(conn, &hgetall, self.settings.timeout, "HGETALL").await?;
        let fields = parse_byte_pairs(reply).unwrap_or_default();
        if fields.is_empty() {
            return Ok(None);
        }
        match open_snapshot(&self.ring(), &self.names.stream, node, &fields) {
            Ok(opened) => Ok(Some(opened)),
            Err(why) => {
                self.shared
                    .forged
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::warn!(
                    node,
                    reason = why.as_str(),
                    "revocation feed: ignored a shared snapshot that failed authentication"
                );
                self.emit(crate::session::events::EventKind::ForgedFeedRecord);
                Ok(None)
            }
        }
    }
}
