//! The durable embedded store: a data directory with a MAC'd snapshot and an append-only,
//! checksummed revocation log, fsync'd before a revocation is acknowledged.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::config::FilterConfig;
use super::log;
use super::set::RevocationSet;
use super::snapshot::RevocationSnapshot;
use super::store::{Durability, Revocation, RevocationStore, StoreError};
use crate::keys::KeyRing;

/// Snapshot file name inside the data directory.
pub const SNAPSHOT_FILE: &str = "revocations.snapshot";
/// Log file name inside the data directory.
pub const LOG_FILE: &str = "revocations.log";
const SNAPSHOT_TMP: &str = "revocations.snapshot.tmp";
/// Default log size that triggers a compaction (about 32,000 id revocations).
const DEFAULT_COMPACT_AFTER: u64 = 1 << 20;

/// What [`FileStore::open`] found on disk.
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
    poisoned: bool,
}

/// The revocation store kept in a data directory (spec/revocation.md, "Durable store").
///
/// `revoke` appends a checksummed record and fsyncs before returning `Ok`; concurrent revokers
/// share one fsync (group commit). When the log passes a size threshold, the whole set is
/// written as a snapshot (temp file, fsync, rename, fsync directory) and the log restarts.
/// Opening loads the snapshot, replays the log and cuts a torn tail; it never resurrects a
/// revocation that was acknowledged. One process per directory.
pub struct FileStore {
    set: RevocationSet,
    keys: Arc<KeyRing>,
    dir: PathBuf,
    state: Mutex<LogState>,
    /// Highest record sequence known durable; held while an fsync runs.
    synced: Mutex<u64>,
    compact_after: AtomicU64,
    recovery: Recovery,
}

fn io(context: &'static str) -> impl FnOnce(std::io::Error) -> StoreError {
    move |source| StoreError::Io { context, source }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking holder cannot leave the state half-written: `poisoned` covers I/O failure.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FileStore {
    /// Opens (creating if needed) the store in `dir`: loads the snapshot, replays the log, and
    /// cuts a torn or corrupt tail.
    ///
    /// # Errors
    /// I/O failure; a snapshot refused by its MAC or key ([`StoreError::Snapshot`]) or made with
    /// another filter geometry; a log corrupt before its tail ([`StoreError::Corrupt`]).
    pub fn open(dir: &Path, keys: Arc<KeyRing>, config: FilterConfig) -> Result<Self, StoreError> {
        fs::create_dir_all(dir).map_err(io("creating the data directory"))?;
        let set = RevocationSet::new(config)?;
        let mut recovery = Recovery::default();
        match fs::remove_file(dir.join(SNAPSHOT_TMP)) {
            Err(e) if e.kind() != ErrorKind::NotFound => return Err(io("removing a stale snapshot")(e)),
            _ => {}
        }
        match fs::read(dir.join(SNAPSHOT_FILE)) {
            Ok(bytes) => {
                set.merge(&RevocationSnapshot::from_bytes(&bytes, &keys)?)?;
                recovery.snapshot_loaded = true;
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(io("reading the snapshot")(e)),
        }
        let (file, len) = Self::replay(dir, &set, &mut recovery)?;
        Ok(Self {
            set,
            keys,
            dir: dir.to_path_buf(),
            state: Mutex::new(LogState {
                file: Arc::new(file),
                len,
                written: 0,
                poisoned: false,
            }),
            synced: Mutex::new(0),
            compact_after: AtomicU64::new(DEFAULT_COMPACT_AFTER),
            recovery,
        })
    }

    /// Sets the log size in bytes after which `revoke` compacts (default 1 MiB).
    #[must_use]
    pub fn compact_after(self, bytes: u64) -> Self {
        self.compact_after.store(bytes, Ordering::Relaxed);
        self
    }

    /// What opening found.
    pub fn recovery(&self) -> Recovery {
        self.recovery
    }

    /// Writes the whole set as the new snapshot and empties the log. Revocations wait while it
    /// runs. Call it after [`RevocationSet::expire`] to shrink the snapshot, and after a key
    /// rotation so the snapshot is under the current primary key.
    ///
    /// # Errors
    /// I/O failure (the store is then unusable until reopened), or no primary key.
    pub fn compact(&self) -> Result<(), StoreError> {
        self.compact_if_longer(0)
    }

    /// Compacts if the log holds at least `min_len` bytes once the locks are held (so
    /// revokers crossing the threshold together compact once).
    fn compact_if_longer(&self, min_len: u64) -> Result<(), StoreError> {
        let mut synced = lock(&self.synced);
        let mut st = lock(&self.state);
        if st.poisoned {
            return Err(StoreError::Poisoned);
        }
        if st.len < min_len || (min_len > 0 && st.len == 0) {
            return Ok(());
        }
        let bytes = self.set.snapshot().to_bytes(&self.keys)?;
        self.write_snapshot(&bytes)?;
        // The snapshot now holds every logged record; an empty log after a crash here is as
        // good as the old one (replay is idempotent).
        if let Err(e) = st.file.set_len(0).and_then(|()| st.file.sync_all()) {
            st.poisoned = true;
            return Err(io("truncating the log")(e));
        }
        st.len = 0;
        *synced = st.written;
        Ok(())
    }

    fn write_snapshot(&self, bytes: &[u8]) -> Result<(), StoreError> {
        let tmp = self.dir.join(SNAPSHOT_TMP);
        let mut f = File::create(&tmp).map_err(io("creating the snapshot"))?;
        f.write_all(bytes).map_err(io("writing the snapshot"))?;
        f.sync_all().map_err(io("syncing the snapshot"))?;
        drop(f);
        fs::rename(&tmp, self.dir.join(SNAPSHOT_FILE)).map_err(io("renaming the snapshot"))?;
        sync_dir(&self.dir)
    }

    fn replay(dir: &Path, set: &RevocationSet, recovery: &mut Recovery) -> Result<(File, u64), StoreError> {
        let path = dir.join(LOG_FILE);
        let existed = path.exists();
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(io("opening the log"))?;
        if !existed {
            sync_dir(dir)?; // the new log's directory entry must be durable before records are
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io("reading the log"))?;
        let scan = log::scan(&bytes)?;
        for record in &scan.records {
            record.apply_to(set);
        }
        recovery.records_replayed = scan.records.len();
        let valid = scan.valid_len as u64;
        if scan.valid_len < bytes.len() {
            recovery.tail_bytes_cut = (bytes.len() - scan.valid_len) as u64;
            tracing::warn!(
                cut = recovery.tail_bytes_cut,
                "revocation log: cutting a torn or corrupt tail"
            );
            file.set_len(valid)
                .and_then(|()| file.sync_all())
                .map_err(io("cutting the log tail"))?;
        }
        Ok((file, valid))
    }

    /// Waits until record `seq` is on disk, running the fsync itself if no one else has.
    fn sync_through(&self, seq: u64) -> Result<(), StoreError> {
        let mut synced = lock(&self.synced);
        if *synced >= seq {
            return Ok(()); // a concurrent revoker's fsync covered this record
        }
        let (file, target) = {
            let st = lock(&self.state);
            if st.poisoned {
                return Err(StoreError::Poisoned);
            }
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
                lock(&self.state).poisoned = true;
                Err(io("syncing the log")(e))
            }
        }
    }
}

impl RevocationStore for FileStore {
    fn set(&self) -> &RevocationSet {
        &self.set
    }

    fn revoke_with(&self, revocation: Revocation, durability: Durability) -> Result<(), StoreError> {
        revocation.validate()?;
        if durability == Durability::Local {
            revocation.apply_to(&self.set);
            return Ok(());
        }
        // TODO(background writer): `Background` is written synchronously for now.
        let record = log::encode(&revocation)?;
        let (seq, len) = {
            let mut st = lock(&self.state);
            if st.poisoned {
                return Err(StoreError::Poisoned);
            }
            // Applied first (fails closed); written under the same lock so a compaction's
            // snapshot holds every record already in the log.
            revocation.apply_to(&self.set);
            if let Err(e) = (&*st.file).write_all(&record) {
                // A partial record followed by later ones would make the log corrupt, not torn.
                if st.file.set_len(st.len).is_err() {
                    st.poisoned = true;
                }
                return Err(io("appending to the log")(e));
            }
            st.len += record.len() as u64;
            st.written += 1;
            (st.written, st.len)
        };
        self.sync_through(seq)?;
        let threshold = self.compact_after.load(Ordering::Relaxed);
        if len >= threshold {
            // The revocation is already durable; a failed compaction leaves the log in place.
            if let Err(e) = self.compact_if_longer(threshold) {
                tracing::warn!(error = %e, "revocation store: compaction failed");
            }
        }
        Ok(())
    }
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("syncing the data directory"))
}
