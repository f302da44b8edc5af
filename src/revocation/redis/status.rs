//! What operators see: a node's [`FeedStatus`], a deployment's [`StreamStatus`], and the
//! state the feed thread shares with the store to answer them and the health check.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::names::EntryId;
use super::position::Position;
use crate::clock::UnixTime;
use crate::revocation::Readiness;

/// One node's view of the feed, from [`RedisStore::status`](super::RedisStore::status).
///
/// ```no_run
/// # use sealed_session::revocation::redis::RedisStore;
/// # use sealed_session::{KeyRing, Keys};
/// # let keys = Keys::new(KeyRing::generate()?)?;
/// let store = RedisStore::builder("redis://127.0.0.1:6379", "bank", "web-1", "/var/lib/bank/revocations", &keys)
///     .open()?;
/// let status = store.status();
/// if !status.connected || status.outbox_pending > 0 {
///     eprintln!("feed: {status:?}");
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FeedStatus {
    /// The feed thread holds a working connection.
    pub connected: bool,
    /// The last stream entry id whose records are durable here (`None` before the first one).
    pub last_id: Option<String>,
    /// Entries in the stream after `last_id`, when known: `Some(0)` right after a read found
    /// nothing newer, `None` while disconnected or reading a backlog.
    pub lag: Option<u64>,
    /// This node's own revocations not yet known to be in the stream.
    pub outbox_pending: u64,
    /// `Background` revocations refused by a full outbox queue (a revocation storm): enforced
    /// and kept here, but never published. Nonzero means peers may lack some.
    pub outbox_dropped: u64,
    /// Records read from the stream and applied since the store opened (own ones included).
    pub records_applied: u64,
    /// Stream entries and shared snapshots refused since the store opened (bad or missing MAC,
    /// unknown key, unparseable payload).
    pub forged_records: u64,
    /// What [`readiness`](crate::revocation::RevocationStore::readiness) answers now.
    pub readiness: Readiness,
}

/// A deployment's feed as Redis holds it, from [`feed_status`](super::feed_status).
///
/// ```no_run
/// let status = sealed_session::revocation::redis::feed_status("redis://127.0.0.1:6379", "bank")?;
/// for node in &status.nodes {
///     println!("{} at {} ({})", node.node, node.last_id, node.at.secs());
/// }
/// # Ok::<(), sealed_session::revocation::StoreError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamStatus {
    /// Entries in the stream (0 when it does not exist).
    pub length: u64,
    /// The oldest entry still held.
    pub first_id: Option<String>,
    /// The newest entry id ever generated (held or trimmed).
    pub last_id: Option<String>,
    /// The incarnation (32 hex digits), `None` when missing: Redis lost its data, or no node
    /// has connected yet.
    pub incarnation: Option<String>,
    /// Where each node last reported itself.
    pub nodes: Vec<NodePosition>,
}

/// One node's last report in the deployment's `nodes` hash.
///
/// ```
/// # use sealed_session::revocation::redis::NodePosition;
/// # fn show(p: &NodePosition) {
/// println!("{}: {} at {}", p.node, p.last_id, p.at.secs());
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NodePosition {
    /// The node name.
    pub node: String,
    /// The last entry id it had applied.
    pub last_id: String,
    /// When it said so (its clock).
    pub at: UnixTime,
}

/// State the feed thread updates and the store reads (lock-free except for the position).
pub(crate) struct Shared {
    pub(crate) connected: AtomicBool,
    caught_up_once: AtomicBool,
    /// A connection attempt failed and none has succeeded since.
    unreachable: AtomicBool,
    /// When the node stopped being current (connected and caught up); `None` while it is.
    lost_at: Mutex<Option<Instant>>,
    position: Mutex<Position>,
    /// The highest id this node's own `XADD`s returned in the current incarnation.
    published_max: Mutex<EntryId>,
    lag: AtomicU64,
    pub(crate) applied: AtomicU64,
    pub(crate) forged: AtomicU64,
    /// `FeedUnavailable` was emitted for the outage in progress.
    pub(crate) outage_reported: AtomicBool,
}

const LAG_UNKNOWN: u64 = u64::MAX;

impl Shared {
    pub(crate) fn new(position: Position) -> Self {
        Self {
            connected: AtomicBool::new(false),
            caught_up_once: AtomicBool::new(false),
            unreachable: AtomicBool::new(false),
            lost_at: Mutex::new(Some(Instant::now())),
            position: Mutex::new(position),
            published_max: Mutex::new(EntryId::ZERO),
            lag: AtomicU64::new(LAG_UNKNOWN),
            applied: AtomicU64::new(0),
            forged: AtomicU64::new(0),
            outage_reported: AtomicBool::new(false),
        }
    }

    /// The readiness rule of spec/revocation.md, "Readiness".
    pub(crate) fn readiness(&self, require_feed: bool, max_staleness: Duration) -> Readiness {
        if !self.caught_up_once.load(Ordering::Acquire) {
            return match (require_feed, self.unreachable.load(Ordering::Acquire)) {
                (false, _) => Readiness::Ready,
                (true, true) => Readiness::FeedUnavailable,
                (true, false) => Readiness::CatchingUp,
            };
        }
        let stale = lock(&self.lost_at).is_some_and(|t| t.elapsed() >= max_staleness);
        if require_feed && stale {
            Readiness::FeedUnavailable
        } else {
            Readiness::Ready
        }
    }

    /// Connected and read the stream up to where it stood (or further).
    pub(crate) fn set_current(&self) {
        self.caught_up_once.store(true, Ordering::Release);
        *lock(&self.lost_at) = None;
    }

    /// The session handshake succeeded.
    pub(crate) fn set_connected(&self) {
        self.connected.store(true, Ordering::Release);
        self.unreachable.store(false, Ordering::Release);
    }

    /// The session ended or a connection attempt failed.
    pub(crate) fn set_disconnected(&self) {
        self.connected.store(false, Ordering::Release);
        self.unreachable.store(true, Ordering::Release);
        self.lag.store(LAG_UNKNOWN, Ordering::Relaxed);
        lock(&self.lost_at).get_or_insert_with(Instant::now);
    }

    pub(crate) fn set_lag(&self, lag: Option<u64>) {
        self.lag.store(lag.unwrap_or(LAG_UNKNOWN), Ordering::Relaxed);
    }

    pub(crate) fn position(&self) -> Position {
        lock(&self.position).clone()
    }

    pub(crate) fn set_position(&self, p: Position) {
        *lock(&self.position) = p;
    }

    pub(crate) fn published_max(&self) -> EntryId {
        *lock(&self.published_max)
    }

    pub(crate) fn published(&self, id: EntryId) {
        let mut max = lock(&self.published_max);
        *max = (*max).max(id);
    }

    pub(crate) fn reset_published(&self) {
        *lock(&self.published_max) = EntryId::ZERO;
    }

    pub(crate) fn status(
        &self,
        outbox_pending: u64,
        outbox_dropped: u64,
        readiness: Readiness,
    ) -> FeedStatus {
        let position = self.position();
        let lag = self.lag.load(Ordering::Relaxed);
        FeedStatus {
            connected: self.connected.load(Ordering::Acquire),
            last_id: (position.last != EntryId::ZERO).then(|| position.last.to_string()),
            lag: (lag != LAG_UNKNOWN).then_some(lag),
            outbox_pending,
            outbox_dropped,
            records_applied: self.applied.load(Ordering::Relaxed),
            forged_records: self.forged.load(Ordering::Relaxed),
            readiness,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each critical section is one assignment: a panic cannot leave it half done.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_follows_the_policy() {
        let s = Shared::new(Position::default());
        let long = Duration::from_secs(3600);
        assert_eq!(s.readiness(true, long), Readiness::CatchingUp);
        assert_eq!(s.readiness(false, long), Readiness::Ready);
        s.set_disconnected();
        assert_eq!(s.readiness(true, long), Readiness::FeedUnavailable);
        s.set_connected();
        assert_eq!(s.readiness(true, long), Readiness::CatchingUp);
        s.set_current();
        assert_eq!(s.readiness(true, long), Readiness::Ready);
        s.set_disconnected();
        assert_eq!(s.readiness(true, long), Readiness::Ready, "within max_staleness");
        assert_eq!(s.readiness(true, Duration::ZERO), Readiness::FeedUnavailable);
        assert_eq!(
            s.readiness(false, Duration::ZERO),
            Readiness::Ready,
            "ServeLocal stays ready"
        );
    }
}
