//! The durable embedded store: a data directory with a MAC'd snapshot and an append-only,
//! checksummed revocation log, fsync'd before a revocation is acknowledged, and shared by every
//! store that opens the directory (spec/revocation.md, "Sharing a data directory").

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::config::FilterConfig;
use super::cursor::{Hold, LogPosition, LogState, Tail};
use super::disk::{self, create_private_dir, Flock};
use super::set::RevocationSet;
use super::store::{Durability, Revocation, RevocationStore, StoreError};
use super::writer::Queue;
use crate::keys::Keys;

/// Snapshot file name inside the data directory.
pub const SNAPSHOT_FILE: &str = "revocations.snapshot";
/// Log file name inside the data directory.
pub const LOG_FILE: &str = "revocations.log";
pub(crate) const SNAPSHOT_TMP: &str = "revocations.snapshot.tmp";
/// Default smallest log size that triggers a compaction (about 32,000 id revocations).
const DEFAULT_COMPACT_AFTER: u64 = 1 << 20;

/// What [`FileStore::open`] found on disk.
///
/// ```
/// # use sealed_session::revocation::*;
/// # use sealed_session::{token::Epoch, KeyRing, Keys};
/// let dir = tempfile::tempdir()?;
/// let keys = Keys::new(KeyRing::generate()?)?;
/// let store = FileStore::open(dir.path(), &keys, FilterConfig::default())?;
/// assert_eq!(store.recovery(), Recovery::default()); // a new directory
/// store.revoke(Revocation::Id { epoch: Epoch(5), id: [0x2a; 16] })?;
/// drop(store);
///
/// let store = FileStore::open(dir.path(), &keys, FilterConfig::default())?;
/// let recovery = store.recovery();
/// assert!(!recovery.snapshot_loaded);
/// assert_eq!(recovery.records_replayed, 1);
/// assert_eq!(recovery.tail_bytes_cut, 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// A snapshot was loaded.
    pub snapshot_loaded: bool,
    /// Log records replayed.
    pub records_replayed: usize,
    /// Bytes of torn or corrupt tail cut from the log.
    pub tail_bytes_cut: u64,
}

/// The revocation store kept in a data directory (spec/revocation.md, "Durable store").
///
/// `revoke` appends a checksummed record and fsyncs before returning `Ok`; concurrent revokers
/// share one fsync (group commit). [`Durability::Background`] revocations are applied at once
/// and queued for a writer thread the store owns, which appends and fsyncs them in batches; a
/// `Synced` revocation returns only once every `Background` one queued before it is durable
/// too. When the log grows past the larger of [`compact_after`](Self::compact_after) and the
/// last snapshot's size, the whole set is written as a snapshot (temp file, fsync, rename,
/// fsync directory) and a new, empty log is renamed over the old one. Opening loads the
/// snapshot, replays the log and cuts a torn tail; it never resurrects a revocation that was
/// acknowledged. Files are created `0600` and a directory the store creates `0700`.
///
/// Several stores, in one process or several, may open one directory at once: each appends
/// under a brief exclusive `flock` on `dir/lock`, and a tail thread per store applies what the
/// others append within [`tail_interval`](Self::tail_interval) (default 5 ms). The directory
/// must be on a local file system. Dropping the store flushes the queue and joins both threads.
///
/// ```
/// use sealed_session::revocation::{FileStore, FilterConfig, Revocation, RevocationStore};
/// use sealed_session::{token::Epoch, KeyRing, Keys};
///
/// let dir = tempfile::tempdir()?;
/// let keys = Keys::new(KeyRing::generate()?)?;
/// let store = FileStore::open(dir.path(), &keys, FilterConfig::default())?;
/// store.revoke(Revocation::Id { epoch: Epoch(5), id: [0x2a; 16] })?; // fsync'd
/// drop(store);
///
/// // The revocation survives a restart.
/// let store = FileStore::open(dir.path(), &keys, FilterConfig::default())?;
/// assert!(store.set().contains(Epoch(5), &[0x2a; 16]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct FileStore {
    inner: Arc<Inner>,
    writer: Option<JoinHandle<()>>,
    tail: Option<JoinHandle<()>>,
    recovery: Recovery,
}

pub(crate) struct Inner {
    pub(crate) set: RevocationSet,
    pub(crate) keys: Keys,
    /// This store's own descriptor of `dir/lock`, for `flock` (never held between calls).
    pub(crate) lock: File,
    pub(crate) dir: PathBuf,
    /// The cursor; taken before the directory lock, after `synced`.
    pub(crate) state: Mutex<LogState>,
    /// Highest record sequence known durable; held while an fsync runs.
    pub(crate) synced: Mutex<u64>,
    /// After a failed fsync nothing written since the last good one can be trusted.
    pub(crate) poisoned: AtomicBool,
    pub(crate) compact_after: AtomicU64,
    /// Bytes of the snapshot last loaded or written (by any process).
    pub(crate) snapshot_len: AtomicU64,
    pub(crate) queue: Queue,
    /// `Background` revocations that were enforced but never made durable.
    pub(crate) dropped: AtomicU64,
    pub(crate) tail: Tail,
}

pub(crate) fn io(context: &'static str) -> impl FnOnce(std::io::Error) -> StoreError {
    move |source| StoreError::Io { context, source }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking holder cannot leave the state half-written: `poisoned` covers I/O failure.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FileStore {
    /// Opens (creating if needed) the store in `dir`: loads the snapshot, replays the log, cuts
    /// a torn or corrupt tail, and starts the background writer and the tail thread. Other
    /// stores may have `dir` open at the same time; opening waits while one of them appends or
    /// compacts.
    ///
    /// # Errors
    /// I/O failure; a snapshot refused by its MAC or key ([`StoreError::Snapshot`]) or made with
    /// another filter geometry; a log corrupt before its tail ([`StoreError::Corrupt`]).
    ///
    /// ```
    /// # use sealed_session::revocation::*;
    /// # use sealed_session::{token::Epoch, KeyRing, Keys};
    /// let dir = tempfile::tempdir()?;
    /// let keys = Keys::new(KeyRing::generate()?)?;
    /// let path = dir.path().join("revocations");
    /// let a = FileStore::open(&path, &keys, FilterConfig::default())?;
    /// // A second store (here, or in another process) shares the directory.
    /// let b = FileStore::open(&path, &keys, FilterConfig::default())?;
    /// a.revoke(Revocation::Id { epoch: Epoch(5), id: [0x2a; 16] })?;
    /// b.catch_up()?; // or wait for b's tail thread
    /// assert!(b.set().contains(Epoch(5), &[0x2a; 16]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(dir: &Path, keys: &Keys, config: FilterConfig) -> Result<Self, StoreError> {
        create_private_dir(dir)?;
        let lock = disk::open_lock(dir)?;
        let set = RevocationSet::new(config)?;
        let (file, id) = {
            // Leftovers of a crashed compaction are only stale while no compaction runs.
            let _exclusive = Flock::exclusive(&lock)?;
            disk::remove_stale(dir)?;
            // Created here if missing; `recover` syncs the directory before any append.
            let file = disk::open_log(dir)?;
            let meta = file.metadata().map_err(io("reading the log's metadata"))?;
            (file, disk::file_id(&meta))
        };
        let inner = Arc::new(Inner {
            set,
            keys: keys.clone(),
            lock,
            dir: dir.to_path_buf(),
            state: Mutex::new(LogState::new(file, id)),
            synced: Mutex::new(0),
            poisoned: AtomicBool::new(false),
            compact_after: AtomicU64::new(DEFAULT_COMPACT_AFTER),
            snapshot_len: AtomicU64::new(0),
            queue: Queue::new(),
            dropped: AtomicU64::new(0),
            tail: Tail::new(),
        });
        let (recovery, reseal) = inner.recover()?;
        let mut store = Self {
            writer: Some(spawn("revocation-writer", &inner, Inner::run_writer)?),
            tail: None,
            inner,
            recovery,
        };
        store.tail = Some(spawn("revocation-tail", &store.inner, Inner::run_tail)?);
        if reseal {
            // Sealed before a rotation: written again under the primary key at once.
            store.compact()?;
        }
        Ok(store)
    }

    /// Sets the smallest log size in bytes after which the log is compacted (default 1 MiB).
    /// The log is compacted when it reaches the larger of this and the last snapshot's size,
    /// so compaction costs O(1) amortized per logged byte however large the set grows.
    ///
    /// ```
    /// # use sealed_session::{KeyRing, Keys, revocation::*};
    /// # let dir = tempfile::tempdir()?;
    /// let store = FileStore::open(dir.path(), &Keys::new(KeyRing::generate()?)?, FilterConfig::default())?
    ///     .compact_after(4 << 20);
    /// # drop(store);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn compact_after(self, bytes: u64) -> Self {
        self.inner.compact_after.store(bytes, Ordering::Relaxed);
        self
    }

    /// What opening found.
    ///
    /// ```
    /// # use sealed_session::revocation::*;
    /// # use sealed_session::{token::Epoch, KeyRing, Keys};
    /// # let dir = tempfile::tempdir()?;
    /// # let keys = Keys::new(KeyRing::generate()?)?;
    /// let store = FileStore::open(dir.path(), &keys, FilterConfig::default())?;
    /// store.revoke(Revocation::Id { epoch: Epoch(5), id: [0x2a; 16] })?;
    /// store.compact()?;
    /// drop(store);
    /// let store = FileStore::open(dir.path(), &keys, FilterConfig::default())?;
    /// assert!(store.recovery().snapshot_loaded);
    /// assert_eq!(store.recovery().records_replayed, 0); // compaction emptied the log
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recovery(&self) -> Recovery {
        self.recovery
    }

    /// [`Durability::Background`] revocations that were enforced in memory but not made
    /// durable because the writer's queue was full or a write failed. Nonzero means a crash
    /// could have forgotten some; each was also logged with `tracing::warn!`.
    ///
    /// ```
    /// # use sealed_session::revocation::*;
    /// # use sealed_session::{token::Epoch, KeyRing, Keys};
    /// # let dir = tempfile::tempdir()?;
    /// # let keys = Keys::new(KeyRing::generate()?)?;
    /// let store = FileStore::open(dir.path(), &keys, FilterConfig::default())?;
    /// store.revoke_with(Revocation::Id { epoch: Epoch(5), id: [0x2a; 16] }, Durability::Background)?;
    /// drop(store); // flushes the queue
    /// let store = FileStore::open(dir.path(), &keys, FilterConfig::default())?;
    /// assert_eq!(store.background_dropped(), 0);
    /// assert!(store.set().contains(Epoch(5), &[0x2a; 16]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn background_dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }

    /// Reads the log to its end, writes the whole set as the new snapshot and renames a new,
    /// empty log over the old one. Revocations wait while it runs, in every store sharing the
    /// directory. Call it after [`RevocationSet::expire`] to shrink the snapshot, and after a key
    /// rotation so the snapshot is under the current primary key.
    ///
    /// # Errors
    /// I/O failure (the old log then stays in place, except after a failed directory fsync,
    /// which leaves the store unusable until reopened); a log corrupt after this store's cursor
    /// ([`StoreError::Corrupt`]); no primary key.
    ///
    /// ```
    /// # use sealed_session::revocation::*;
    /// # use sealed_session::{token::Epoch, KeyRing, Keys};
    /// # let dir = tempfile::tempdir()?;
    /// # let keys = Keys::new(KeyRing::generate()?)?;
    /// let store = FileStore::open(dir.path(), &keys, FilterConfig::default())?;
    /// store.revoke(Revocation::Id { epoch: Epoch(5), id: [0x2a; 16] })?;
    /// store.compact()?;
    /// assert!(dir.path().join(SNAPSHOT_FILE).exists());
    /// assert_eq!(std::fs::metadata(dir.path().join(LOG_FILE))?.len(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn compact(&self) -> Result<(), StoreError> {
        self.inner.compact_if_longer(0)
    }

    /// Makes every revocation taken so far durable, [`Durability::Background`] ones included:
    /// appends what the writer has queued and fsyncs. Blocks on I/O.
    ///
    /// # Errors
    /// The append or fsync failed (the store is then unusable until reopened).
    ///
    /// ```
    /// # use sealed_session::revocation::*;
    /// # use sealed_session::{token::Epoch, KeyRing, Keys};
    /// # let dir = tempfile::tempdir()?;
    /// # let keys = Keys::new(KeyRing::generate()?)?;
    /// let store = FileStore::open(dir.path(), &keys, FilterConfig::default())?;
    /// for i in 0..100u8 {
    ///     store.revoke_with(Revocation::Id { epoch: Epoch(5), id: [i; 16] }, Durability::Background)?;
    /// }
    /// store.sync()?; // all 100 are on disk now
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sync(&self) -> Result<(), StoreError> {
        let (seq, len) = {
            let mut st = lock(&self.inner.state);
            self.inner.append(&mut st, None)?
        };
        self.inner.sync_through(seq)?;
        self.inner.maybe_compact(len);
        Ok(())
    }

    /// Sets how often the tail thread reads what other stores appended (default 5 ms, at least
    /// 1 ms): the bound on how late this store enforces their revocations, plus the time to
    /// read them. Each poll with nothing new costs two `stat` calls.
    ///
    /// ```
    /// # use sealed_session::{KeyRing, Keys, revocation::*};
    /// # use std::time::Duration;
    /// # let dir = tempfile::tempdir()?;
    /// let store = FileStore::open(dir.path(), &Keys::new(KeyRing::generate()?)?, FilterConfig::default())?
    ///     .tail_every(Duration::from_millis(20));
    /// assert_eq!(store.tail_interval(), Duration::from_millis(20));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn tail_every(self, interval: Duration) -> Self {
        self.inner.tail.set_interval(interval);
        self
    }

    /// How often the tail thread polls the log (see [`tail_every`](Self::tail_every)).
    ///
    /// ```
    /// # use sealed_session::{KeyRing, Keys, revocation::*};
    /// # let dir = tempfile::tempdir()?;
    /// let store = FileStore::open(dir.path(), &Keys::new(KeyRing::generate()?)?, FilterConfig::default())?;
    /// assert_eq!(store.tail_interval(), std::time::Duration::from_millis(5));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn tail_interval(&self) -> Duration {
        self.inner.tail.interval()
    }

    /// Applies now whatever other stores appended since this one last read the log (following
    /// a compaction first if one replaced it), instead of waiting for the tail thread. Returns
    /// the log records applied; a snapshot merged after a compaction is not counted.
    ///
    /// # Errors
    /// I/O failure, or the snapshot another store wrote cannot be opened with this key ring.
    ///
    /// ```
    /// # use sealed_session::revocation::*;
    /// # use sealed_session::{token::Epoch, KeyRing, Keys};
    /// # use std::time::Duration;
    /// # let dir = tempfile::tempdir()?;
    /// # let keys = Keys::new(KeyRing::generate()?)?;
    /// let a = FileStore::open(dir.path(), &keys, FilterConfig::default())?;
    /// let b = FileStore::open(dir.path(), &keys, FilterConfig::default())?.tail_every(Duration::from_secs(3600));
    /// a.revoke(Revocation::Id { epoch: Epoch(5), id: [0x2a; 16] })?;
    /// assert_eq!(b.catch_up()?, 1);
    /// assert!(b.set().contains(Epoch(5), &[0x2a; 16]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn catch_up(&self) -> Result<usize, StoreError> {
        let mut st = lock(&self.inner.state);
        self.inner.refresh(&mut st, Hold::Nothing).map(|c| c.records)
    }

    /// Where this store stands in the shared log (see [`LogPosition`]).
    ///
    /// ```
    /// # use sealed_session::revocation::*;
    /// # use sealed_session::{token::Epoch, KeyRing, Keys};
    /// # let dir = tempfile::tempdir()?;
    /// # let keys = Keys::new(KeyRing::generate()?)?;
    /// let store = FileStore::open(dir.path(), &keys, FilterConfig::default())?;
    /// store.revoke(Revocation::Id { epoch: Epoch(5), id: [0x2a; 16] })?;
    /// let before = store.position();
    /// assert!(before.offset > 0 && before.lag_bytes() == 0);
    /// store.compact()?;
    /// assert_ne!(store.position().log_id, before.log_id); // a new log file
    /// assert_eq!(store.position().offset, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn position(&self) -> LogPosition {
        let st = lock(&self.inner.state);
        LogPosition {
            log_id: st.id.ino,
            offset: st.offset,
            // fstat of an open descriptor does not fail in practice; if it did, reporting no
            // lag is the only answer that claims nothing.
            log_len: st.file.metadata().map_or(st.offset, |m| m.len()),
        }
    }
}

impl Drop for FileStore {
    fn drop(&mut self) {
        self.inner.queue.close();
        self.inner.tail.stop();
        // The writer flushes what is queued before it exits; the tail thread, woken, exits once
        // a poll under way is done. Neither panics, and if one did there would be nothing left
        // to do here.
        for thread in [self.writer.take(), self.tail.take()].into_iter().flatten() {
            let _ = thread.join();
        }
    }
}

fn spawn(name: &str, inner: &Arc<Inner>, run: fn(&Inner)) -> Result<JoinHandle<()>, StoreError> {
    let inner = Arc::clone(inner);
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || run(&inner))
        .map_err(io("starting a revocation store thread"))
}

impl RevocationStore for FileStore {
    fn set(&self) -> &RevocationSet {
        &self.inner.set
    }

    fn revoke_with(&self, revocation: Revocation, durability: Durability) -> Result<(), StoreError> {
        revocation.validate()?;
        match durability {
            Durability::Local => {
                revocation.apply_to(&self.inner.set);
                Ok(())
            }
            Durability::Background => self.inner.revoke_background(revocation),
            Durability::Synced => self.inner.revoke_synced(&revocation),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::KeyRing;

    #[test]
    fn dropping_the_store_ends_both_threads() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::new(KeyRing::generate().unwrap()).unwrap();
        let store = FileStore::open(dir.path(), &keys, FilterConfig::default())
            .unwrap()
            .tail_every(Duration::from_secs(3600));
        let inner = Arc::downgrade(&store.inner);
        assert_eq!(
            inner.strong_count(),
            3,
            "the store, its writer and its tail thread"
        );
        drop(store); // wakes the tail thread although its interval is an hour, and joins it
        assert_eq!(inner.strong_count(), 0, "no thread outlives the store");
    }
}
