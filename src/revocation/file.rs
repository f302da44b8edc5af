//! The durable embedded store: a data directory with a MAC'd snapshot and an append-only,
//! checksummed revocation log, fsync'd before a revocation is acknowledged.

use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use super::config::FilterConfig;
use super::disk::{create_private_dir, lock_dir, replay, write_snapshot};
use super::log;
use super::set::RevocationSet;
use super::snapshot::{RevocationSnapshot, SnapshotError};
use super::store::{Durability, Revocation, RevocationStore, StoreError};
use super::writer::Queue;
use crate::keys::{KeyState, Keys};

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

struct LogState {
    file: Arc<File>,
    len: u64,
    /// Records appended since open (a sequence number for group commit).
    written: u64,
}

/// The revocation store kept in a data directory (spec/revocation.md, "Durable store").
///
/// `revoke` appends a checksummed record and fsyncs before returning `Ok`; concurrent revokers
/// share one fsync (group commit). [`Durability::Background`] revocations are applied at once
/// and queued for a writer thread the store owns, which appends and fsyncs them in batches; a
/// `Synced` revocation returns only once every `Background` one queued before it is durable
/// too. When the log grows past the larger of [`compact_after`](Self::compact_after) and the
/// last snapshot's size, the whole set is written as a snapshot (temp file, fsync, rename,
/// fsync directory) and the log restarts. Opening loads the snapshot, replays the log and cuts
/// a torn tail; it never resurrects a revocation that was acknowledged. Files are created
/// `0600` and a directory the store creates `0700`. One process per directory. Dropping the
/// store flushes the queue and joins the writer.
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
}

struct Inner {
    set: RevocationSet,
    keys: Keys,
    /// Held for the store's lifetime: the advisory lock on the data directory.
    _lock: File,
    dir: PathBuf,
    state: Mutex<LogState>,
    /// Highest record sequence known durable; held while an fsync runs.
    synced: Mutex<u64>,
    /// After a failed fsync nothing written since the last good one can be trusted.
    poisoned: AtomicBool,
    compact_after: AtomicU64,
    /// Bytes of the snapshot last loaded or written.
    snapshot_len: AtomicU64,
    queue: Queue,
    /// `Background` revocations that were enforced but never made durable.
    dropped: AtomicU64,
    recovery: Recovery,
}

pub(crate) fn io(context: &'static str) -> impl FnOnce(std::io::Error) -> StoreError {
    move |source| StoreError::Io { context, source }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking holder cannot leave the state half-written: `poisoned` covers I/O failure.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FileStore {
    /// Opens (creating if needed) the store in `dir`: loads the snapshot, replays the log, cuts
    /// a torn or corrupt tail, and starts the background writer.
    ///
    /// # Errors
    /// I/O failure; a snapshot refused by its MAC or key ([`StoreError::Snapshot`]) or made with
    /// another filter geometry; a log corrupt before its tail ([`StoreError::Corrupt`]).
    /// [`StoreError::Locked`] when another open store holds `dir`.
    ///
    /// ```
    /// # use sealed_session::revocation::*;
    /// # use sealed_session::{token::Epoch, KeyRing, Keys};
    /// let dir = tempfile::tempdir()?;
    /// let keys = Keys::new(KeyRing::generate()?)?;
    /// let store = FileStore::open(&dir.path().join("revocations"), &keys, FilterConfig::default())?;
    /// // One process, one store per directory.
    /// let second = FileStore::open(&dir.path().join("revocations"), &keys, FilterConfig::default());
    /// assert!(matches!(second, Err(StoreError::Locked { .. })));
    /// # drop(store);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(dir: &Path, keys: &Keys, config: FilterConfig) -> Result<Self, StoreError> {
        create_private_dir(dir)?;
        let lock = lock_dir(dir)?;
        let set = RevocationSet::new(config)?;
        let mut recovery = Recovery::default();
        match fs::remove_file(dir.join(SNAPSHOT_TMP)) {
            Err(e) if e.kind() != ErrorKind::NotFound => return Err(io("removing a stale snapshot")(e)),
            _ => {}
        }
        let mut snapshot_len = 0;
        let mut reseal = false;
        match fs::read(dir.join(SNAPSHOT_FILE)) {
            Ok(bytes) => {
                let (snapshot, sealed_by) =
                    match RevocationSnapshot::from_bytes_by(&bytes, &keys.load_at(system_now())) {
                        Err(SnapshotError::UnknownKey) => {
                            return Err(StoreError::SnapshotKeyMissing {
                                dir: dir.display().to_string(),
                                key_id: RevocationSnapshot::key_id_of(&bytes).map_or(0, |k| k.0),
                            })
                        }
                        other => other?,
                    };
                set.merge(&snapshot)?;
                recovery.snapshot_loaded = true;
                snapshot_len = bytes.len() as u64;
                // Sealed before a rotation: written again under the primary key at once.
                reseal = sealed_by != KeyState::Primary;
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(io("reading the snapshot")(e)),
        }
        let (file, len) = replay(dir, &set, &mut recovery)?;
        let inner = Arc::new(Inner {
            set,
            keys: keys.clone(),
            _lock: lock,
            dir: dir.to_path_buf(),
            state: Mutex::new(LogState {
                file: Arc::new(file),
                len,
                written: 0,
            }),
            synced: Mutex::new(0),
            poisoned: AtomicBool::new(false),
            compact_after: AtomicU64::new(DEFAULT_COMPACT_AFTER),
            snapshot_len: AtomicU64::new(snapshot_len),
            queue: Queue::new(),
            dropped: AtomicU64::new(0),
            recovery,
        });
        let worker = Arc::clone(&inner);
        let writer = std::thread::Builder::new()
            .name("revocation-writer".into())
            .spawn(move || worker.run_writer())
            .map_err(io("starting the revocation writer"))?;
        let store = Self {
            inner,
            writer: Some(writer),
        };
        if reseal {
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
        self.inner.recovery
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

    /// Writes the whole set as the new snapshot and empties the log. Revocations wait while it
    /// runs. Call it after [`RevocationSet::expire`] to shrink the snapshot, and after a key
    /// rotation so the snapshot is under the current primary key.
    ///
    /// # Errors
    /// I/O failure (the store is then unusable until reopened), or no primary key.
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
}

impl Drop for FileStore {
    fn drop(&mut self) {
        self.inner.queue.close();
        if let Some(writer) = self.writer.take() {
            // The writer flushes what is queued before it exits; it does not panic, and if it
            // did there is nothing left to do here.
            let _ = writer.join();
        }
    }
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

impl Inner {
    fn revoke_synced(&self, revocation: &Revocation) -> Result<(), StoreError> {
        let record = log::encode(revocation)?;
        let (seq, len) = {
            let mut st = lock(&self.state);
            // Applied first (fails closed); written under the same lock so a compaction's
            // snapshot holds every record already in the log.
            revocation.apply_to(&self.set);
            self.append(&mut st, Some(&record))?
        };
        self.sync_through(seq)?;
        self.maybe_compact(len);
        Ok(())
    }

    /// Applies at once and queues the record; never touches the log mutex or the disk.
    fn revoke_background(&self, revocation: Revocation) -> Result<(), StoreError> {
        revocation.apply_to(&self.set);
        if self.poisoned.load(Ordering::Acquire) {
            return Err(StoreError::Poisoned);
        }
        if !self.queue.push(revocation) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("revocation writer queue full: revocation enforced but not durable");
        }
        Ok(())
    }

    /// The writer thread: appends and fsyncs whatever is queued, until the store is dropped.
    fn run_writer(&self) {
        loop {
            let closed = self.queue.wait();
            let appended = {
                let mut st = lock(&self.state);
                self.append(&mut st, None)
            };
            match appended {
                Ok((seq, len)) => match self.sync_through(seq) {
                    Ok(()) => self.maybe_compact(len),
                    Err(e) => tracing::warn!(error = %e, "revocation writer: fsync failed"),
                },
                Err(e) => tracing::warn!(error = %e, "revocation writer: append failed"),
            }
            if closed {
                return;
            }
        }
    }

    /// Appends every queued `Background` record, then `own` (caller holds the log mutex, so
    /// nothing queued before this call can be appended after it). Returns the sequence number
    /// of the last record and the log length.
    fn append(&self, st: &mut LogState, own: Option<&[u8]>) -> Result<(u64, u64), StoreError> {
        let batch = self.queue.take();
        if self.poisoned.load(Ordering::Acquire) {
            self.drop_durability(batch.records);
            return Err(StoreError::Poisoned);
        }
        let mut bytes = match batch.encode() {
            Ok(bytes) => bytes,
            Err(e) => {
                self.drop_durability(batch.records);
                return Err(e);
            }
        };
        bytes.extend_from_slice(own.unwrap_or_default());
        if bytes.is_empty() {
            return Ok((st.written, st.len));
        }
        if let Err(e) = (&*st.file).write_all(&bytes) {
            // A partial record followed by later ones would make the log corrupt, not torn.
            if st.file.set_len(st.len).is_err() {
                self.poisoned.store(true, Ordering::Release);
            }
            self.drop_durability(batch.records);
            return Err(io("appending to the log")(e));
        }
        st.len += bytes.len() as u64;
        st.written += (batch.records + usize::from(own.is_some())) as u64;
        Ok((st.written, st.len))
    }

    fn drop_durability(&self, records: usize) {
        if records > 0 {
            self.dropped.fetch_add(records as u64, Ordering::Relaxed);
            tracing::warn!(
                records,
                "revocation writer: queued revocations enforced but not durable"
            );
        }
    }

    /// Waits until record `seq` is on disk, running the fsync itself if no one else has.
    fn sync_through(&self, seq: u64) -> Result<(), StoreError> {
        let mut synced = lock(&self.synced);
        if *synced >= seq {
            return Ok(()); // a concurrent revoker's fsync covered this record
        }
        if self.poisoned.load(Ordering::Acquire) {
            return Err(StoreError::Poisoned);
        }
        let (file, target) = {
            let st = lock(&self.state);
            (Arc::clone(&st.file), st.written)
        };
        match file.sync_data() {
            Ok(()) => {
                *synced = target;
                Ok(())
            }
            Err(e) => {
                // After a failed fsync the kernel may have dropped the dirty pages: nothing
                // written since the last good fsync can be trusted (PostgreSQL "fsyncgate").
                self.poisoned.store(true, Ordering::Release);
                Err(io("syncing the log")(e))
            }
        }
    }

    /// Compacts once the log is at least as long as the threshold and the last snapshot, so
    /// rewriting the snapshot is paid for by as many bytes of log.
    fn maybe_compact(&self, len: u64) {
        let threshold = self
            .compact_after
            .load(Ordering::Relaxed)
            .max(self.snapshot_len.load(Ordering::Relaxed))
            .max(1);
        if len >= threshold {
            // The records are already durable; a failed compaction leaves the log in place.
            if let Err(e) = self.compact_if_longer(threshold) {
                tracing::warn!(error = %e, "revocation store: compaction failed");
            }
        }
    }

    /// Compacts if the log holds at least `min_len` bytes once the locks are held (so
    /// revokers crossing the threshold together compact once).
    fn compact_if_longer(&self, min_len: u64) -> Result<(), StoreError> {
        let mut synced = lock(&self.synced);
        let mut st = lock(&self.state);
        if self.poisoned.load(Ordering::Acquire) {
            return Err(StoreError::Poisoned);
        }
        if st.len < min_len || (min_len > 0 && st.len == 0) {
            return Ok(());
        }
        let bytes = self.set.snapshot().to_bytes(&self.keys.load_at(system_now()))?;
        write_snapshot(&self.dir, &bytes)?;
        self.snapshot_len.store(bytes.len() as u64, Ordering::Relaxed);
        // The snapshot now holds every logged record; an empty log after a crash here is as
        // good as the old one (replay is idempotent).
        if let Err(e) = st.file.set_len(0).and_then(|()| st.file.sync_all()) {
            self.poisoned.store(true, Ordering::Release);
            return Err(io("truncating the log")(e));
        }
        st.len = 0;
        *synced = st.written;
        Ok(())
    }
}

/// The store keeps no clock of its own: which key seals its snapshot follows the schedule by
/// the system time (any key the ring still accepts opens it again).
fn system_now() -> crate::clock::UnixTime {
    crate::clock::Clock::now(&crate::clock::SystemClock)
}
