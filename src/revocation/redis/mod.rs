//! The Redis Streams revocation feed (feature `redis`; Valkey speaks the same protocol).
//!
//! ```text
//!  node A                                   Redis                               node B
//!  revoke ─► set (enforced) ─► outbox.log ─► XADD sealed-session:{ctx}:revocations ─┐
//!            FileStore (durable here)      (k, n, r, m = HMAC feed subkey)          │
//!                                                                                   ▼
//!  tail ◄── XREAD BLOCK from feed.position ◄───────────────────────── verify MAC, apply,
//!                                                                     fsync, then position
//!  every snapshot_every: HSET snapshot:{node} (MAC'd, bound to the id it covers),
//!                        then XTRIM MINID min(now − retention, that id)
//! ```
//!
//! [`RedisStore`] is a [`RevocationStore`] for one node. It keeps a [`FileStore`] in the
//! node's own data directory, so a restart never resurrects a session, and runs the feed on a
//! thread of its own with a current-thread tokio runtime: neither the synchronous store calls
//! nor the web layer's async workers ever wait on the network.
//!
//! - The node's own revocations are enforced at once, written to a durable outbox (fsync'd
//!   for [`Durability::Synced`]) and published from there, so an outage or a `kill -9`
//!   loses none of them.
//! - Every entry is MAC'd under the key ring's feed subkey: someone who can write to Redis
//!   but holds no key cannot add a revocation or a kill switch. Refused entries raise
//!   [`EventKind::ForgedFeedRecord`](crate::EventKind::ForgedFeedRecord).
//! - A Redis restarted empty or failed over to a lagging replica is detected by an
//!   incarnation key and the stream's last id; nodes republish what they hold
//!   ([`EventKind::FeedRegressed`](crate::EventKind::FeedRegressed)).
//! - [`publish`] and [`feed_status`] let a CLI revoke and inspect without a node of its own.
//!
//! Layout, MAC input bytes and guarantees: spec/revocation.md, "Redis feed".

mod builder;
mod client;
mod conn;
mod handshake;
pub(crate) mod names;
mod outbox;
mod position;
pub(crate) mod record;
mod share;
mod status;
mod tail;
mod worker;

use std::fs::File;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

pub use builder::{RedisStoreBuilder, StartupPolicy};
pub use client::{feed_status, publish};
pub use status::{FeedStatus, NodePosition, StreamStatus};

use crate::keys::Keys;
use crate::revocation::{
    Durability, FileStore, Readiness, Revocation, RevocationSet, RevocationStore, StoreError,
};
use worker::Feed;

/// A node's revocation store fed by a Redis stream (see the [module docs](self)).
///
/// `revoke_with` applies the revocation to the set before anything else (the node enforces
/// it at once), then for [`Durability::Synced`] appends it to the outbox and fsyncs before
/// returning; [`Durability::Background`] only queues it for the feed thread, which writes and
/// publishes it; [`Durability::Local`] never leaves the node. Dropping the store writes what
/// is queued to the outbox and stops the feed thread; records not yet published are published
/// by the next open.
///
/// ```no_run
/// use sealed_session::revocation::redis::RedisStore;
/// use sealed_session::revocation::{Revocation, RevocationStore};
/// use sealed_session::{token::Epoch, KeyRing, Keys};
///
/// let keys = Keys::from_file("/etc/bank/session-keys".as_ref())?;
/// let store = RedisStore::builder("redis://10.0.0.5:6379", "bank", "web-1", "/var/lib/bank/revocations", &keys)
///     .open()?;
/// store.revoke(Revocation::Id { epoch: Epoch(5), id: [0x2a; 16] })?; // enforced here, durable, then published
/// assert!(store.set().contains(Epoch(5), &[0x2a; 16]));
/// println!("ready: {}", store.readiness());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RedisStore {
    feed: Arc<Feed>,
    thread: Option<JoinHandle<()>>,
    startup: StartupPolicy,
    max_staleness: Duration,
    /// Held for the store's lifetime: the lock on the data directory's outbox.
    _lock: File,
}

impl RedisStore {
    /// Starts configuring a node named `node_name` of the deployment `context`, with its local
    /// state in `data_dir` (one directory per node) and records MAC'd under `keys`.
    /// `context` and `node_name` are 1 to 64 bytes of `[A-Za-z0-9._-]`; the URL is a redis-rs
    /// connection URL (`redis://[user:password@]host[:port][/db]`).
    ///
    /// ```no_run
    /// # use sealed_session::revocation::redis::RedisStore;
    /// # use sealed_session::{KeyRing, Keys};
    /// let keys = Keys::new(KeyRing::generate()?)?;
    /// let store = RedisStore::builder("redis://127.0.0.1:6379", "bank", "web-1", "/var/lib/bank/r", &keys).open()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder(
        url: &str,
        context: &str,
        node_name: &str,
        data_dir: impl AsRef<std::path::Path>,
        keys: &Keys,
    ) -> RedisStoreBuilder {
        RedisStoreBuilder::new(url, context, node_name, data_dir.as_ref(), keys)
    }

    /// The node's view of the feed, for operators and metrics.
    ///
    /// ```no_run
    /// # use sealed_session::revocation::redis::RedisStore;
    /// # let keys = sealed_session::Keys::new(sealed_session::KeyRing::generate()?)?;
    /// # let store = RedisStore::builder("redis://127.0.0.1:6379", "bank", "web-1", "/var/lib/bank/r", &keys).open()?;
    /// let status = store.status();
    /// println!("connected {} at {:?}, {} to publish", status.connected, status.last_id, status.outbox_pending);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn status(&self) -> FeedStatus {
        let outbox = &self.feed.outbox;
        self.feed
            .shared
            .status(outbox.pending(), outbox.dropped(), self.readiness())
    }

    /// The local store under the feed (its recovery report, its data directory's state).
    ///
    /// ```no_run
    /// # use sealed_session::revocation::redis::RedisStore;
    /// # let keys = sealed_session::Keys::new(sealed_session::KeyRing::generate()?)?;
    /// # let store = RedisStore::builder("redis://127.0.0.1:6379", "bank", "web-1", "/var/lib/bank/r", &keys).open()?;
    /// println!("replayed {} records", store.local().recovery().records_replayed);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn local(&self) -> &FileStore {
        &self.feed.store
    }

    fn assemble(
        feed: Arc<Feed>,
        thread: JoinHandle<()>,
        startup: StartupPolicy,
        max_staleness: Duration,
        lock: File,
    ) -> Self {
        Self {
            feed,
            thread: Some(thread),
            startup,
            max_staleness,
            _lock: lock,
        }
    }
}

/// Names the node and its stream; never the URL (it may hold a password) or keys.
impl core::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RedisStore")
            .field("node", &self.feed.node)
            .field("stream", &self.feed.names.stream)
            .field("status", &self.status())
            .finish()
    }
}

impl RevocationStore for RedisStore {
    fn set(&self) -> &RevocationSet {
        self.feed.store.set()
    }

    fn revoke_with(&self, revocation: Revocation, durability: Durability) -> Result<(), StoreError> {
        revocation.validate()?;
        // Enforced here first, whatever the disk or the network do next (fail closed).
        self.feed
            .store
            .revoke_with(revocation.clone(), Durability::Local)?;
        match durability {
            Durability::Local => return Ok(()),
            Durability::Background => {
                if !self.feed.outbox.push_background(revocation.clone()) {
                    // Queue full: at least make it durable here.
                    self.feed.store.revoke_with(revocation, Durability::Background)?;
                }
            }
            Durability::Synced => {
                self.feed
                    .outbox
                    .append(Some(&revocation), &|r| self.feed.keep(r))?;
            }
        }
        self.feed.wake.notify_one();
        Ok(())
    }

    fn readiness(&self) -> Readiness {
        let require_feed = self.startup == StartupPolicy::RequireFeed;
        self.feed.shared.readiness(require_feed, self.max_staleness)
    }
}

impl Drop for RedisStore {
    fn drop(&mut self) {
        self.feed.stop();
        if let Some(thread) = self.thread.take() {
            // The feed thread does not panic; if it did there is nothing left to do here.
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn store_is_send_and_sync() {
        assert_send_sync::<super::RedisStore>();
    }
}
