//! One store's cursor into the shared log (spec/revocation.md, "Sharing a data directory"):
//! the log file it has open, how far it has applied it, how it follows a compaction by another
//! process, and the tail thread that reads what the others append.

use std::fs::File;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::disk::{self, FileId, Flock, Loaded};
use super::file::{io, lock, Inner, Recovery};
use super::log;
use super::store::StoreError;
use crate::keys::KeyState;

/// Shortest tail interval: a zero interval would spin.
pub(crate) const MIN_TAIL_INTERVAL: Duration = Duration::from_millis(1);
/// Default tail interval: the bound on how late a store enforces another's revocation.
pub(crate) const DEFAULT_TAIL_INTERVAL: Duration = Duration::from_millis(5);

/// The log as one store sees it; guarded by the store's state mutex.
pub(crate) struct LogState {
    pub(crate) file: Arc<File>,
    pub(crate) id: FileId,
    /// Bytes of `file` read and applied (own appends included): every record before it is in
    /// the set, and it is always a record boundary.
    pub(crate) offset: u64,
    /// Records this store appended since open (the sequence number of group commit).
    pub(crate) written: u64,
}

impl LogState {
    pub(crate) fn new(file: File, id: FileId) -> Self {
        Self {
            file: Arc::new(file),
            id,
            offset: 0,
            written: 0,
        }
    }
}

/// Where a [`FileStore`](super::FileStore)'s cursor stands in the shared log, for a status display.
///
/// ```
/// # use sealed_session::revocation::*;
/// # use sealed_session::{token::Epoch, KeyRing, Keys};
/// let dir = tempfile::tempdir()?;
/// let keys = Keys::new(KeyRing::generate()?)?;
/// let a = FileStore::open(dir.path(), &keys, FilterConfig::default())?;
/// let b = FileStore::open(dir.path(), &keys, FilterConfig::default())?;
/// a.revoke(Revocation::Id { epoch: Epoch(5), id: [0x2a; 16] })?;
/// b.catch_up()?;
/// let position = b.position();
/// assert_eq!(position.lag_bytes(), 0);
/// assert_eq!(position, a.position()); // same log, same offset
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogPosition {
    /// Which log file the store reads: its inode number on Unix (elsewhere its creation time
    /// in nanoseconds). It changes with every compaction, by any process.
    pub log_id: u64,
    /// Bytes of that log read and applied.
    pub offset: u64,
    /// The length of that log now.
    pub log_len: u64,
}

impl LogPosition {
    /// Bytes appended to the log that this store has not applied yet. A compaction by another
    /// process that the store has not noticed yet does not show here; the next poll follows it.
    ///
    /// ```
    /// # use sealed_session::revocation::LogPosition;
    /// let p = LogPosition { log_id: 7, offset: 96, log_len: 128 };
    /// assert_eq!(p.lag_bytes(), 32);
    /// ```
    pub fn lag_bytes(&self) -> u64 {
        self.log_len.saturating_sub(self.offset)
    }
}

/// How the caller of [`Inner::refresh`] holds the directory lock.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hold {
    /// Not at all: a record may be in the middle of being written.
    Nothing,
    /// Exclusively: nobody is writing, so an invalid tail is torn and may be cut.
    Exclusive,
}

/// What a [`Inner::refresh`] did.
#[derive(Default)]
pub(crate) struct Caught {
    /// Log records applied.
    pub(crate) records: usize,
    /// Bytes of torn tail cut.
    pub(crate) cut: u64,
    /// The snapshot merged because the log had been replaced.
    pub(crate) reloaded: Option<Loaded>,
}

/// The tail thread's schedule and stop signal.
pub(crate) struct Tail {
    /// True once the store is dropped. Held by the thread through each poll, so a caller that
    /// takes it knows no poll is running.
    stopped: Mutex<bool>,
    wake: Condvar,
    interval_nanos: AtomicU64,
}

impl Tail {
    pub(crate) fn new() -> Self {
        Self {
            stopped: Mutex::new(false),
            wake: Condvar::new(),
            interval_nanos: AtomicU64::new(nanos(DEFAULT_TAIL_INTERVAL)),
        }
    }

    pub(crate) fn interval(&self) -> Duration {
        Duration::from_nanos(self.interval_nanos.load(Ordering::Relaxed))
    }

    /// Sets the interval (at least [`MIN_TAIL_INTERVAL`]). Returns once no poll is running, and
    /// the wait under way is measured against the new interval.
    pub(crate) fn set_interval(&self, interval: Duration) {
        let _between_polls = lock(&self.stopped);
        let interval = interval.max(MIN_TAIL_INTERVAL);
        self.interval_nanos.store(nanos(interval), Ordering::Relaxed);
        self.wake.notify_all();
    }

    pub(crate) fn stop(&self) {
        *lock(&self.stopped) = true;
        self.wake.notify_all();
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Inner {
    /// The tail thread: every interval, reads what other stores appended, until the store is
    /// dropped. Never cuts the log (a record it cannot parse may be a write in progress).
    pub(crate) fn run_tail(&self) {
        let mut failing = false;
        let mut stopped = lock(&self.tail.stopped);
        loop {
            let since = Instant::now();
            loop {
                if *stopped {
                    return;
                }
                let Some(left) = self.tail.interval().checked_sub(since.elapsed()) else {
                    break;
                };
                stopped = self
                    .tail
                    .wake
                    .wait_timeout(stopped, left)
                    .map_or_else(|p| p.into_inner().0, |r| r.0);
            }
            let result = self.refresh(&mut lock(&self.state), Hold::Nothing);
            match result {
                Ok(_) => failing = false,
                // Once per failure, not once per poll.
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(error = %e, "revocation tail: reading the shared log failed");
                }
                Err(_) => {}
            }
        }
    }

    /// Brings `st` to the end of the current log: if another process replaced it (a
    /// compaction), merges the new snapshot and moves to the new log; then applies every
    /// complete record after the cursor.
    ///
    /// # Errors
    /// I/O; a snapshot that cannot be opened; with [`Hold::Exclusive`], a log that is corrupt
    /// after the cursor ([`StoreError::Corrupt`]).
    pub(crate) fn refresh(&self, st: &mut LogState, hold: Hold) -> Result<Caught, StoreError> {
        let mut reloaded = None;
        if disk::path_id(&self.dir)? != Some(st.id) {
            let _shared = match hold {
                Hold::Nothing => Some(Flock::shared(&self.lock)?),
                Hold::Exclusive => None,
            };
            reloaded = self.reopen(st)?;
        }
        let mut caught = self.read_new(st, hold)?;
        caught.reloaded = reloaded;
        Ok(caught)
    }

    /// Opens the log the path names now and merges the snapshot (the caller holds the lock, so
    /// the two are a consistent pair). Every record of the log this store had open is in that
    /// snapshot: the compaction that replaced it read it to its end under the exclusive lock.
    ///
    /// The directory is synced first: a compactor killed between renaming the new log into
    /// place and syncing the directory would otherwise leave records appended here, and
    /// acknowledged after their fsync, in a file whose name a power loss could take back.
    fn reopen(&self, st: &mut LogState) -> Result<Option<Loaded>, StoreError> {
        let file = disk::open_log(&self.dir)?;
        disk::sync_dir(&self.dir)?;
        let id = disk::file_id(&file.metadata().map_err(io("reading the log's metadata"))?);
        let loaded = disk::load_snapshot(&self.dir, &self.keys, &self.set)?;
        if let Some(loaded) = &loaded {
            self.snapshot_len.store(loaded.len, Ordering::Relaxed);
        }
        *st = LogState {
            file: Arc::new(file),
            id,
            offset: 0,
            written: st.written,
        };
        Ok(loaded)
    }

    /// Applies the complete records after the cursor and moves it past them.
    fn read_new(&self, st: &mut LogState, hold: Hold) -> Result<Caught, StoreError> {
        let len = st
            .file
            .metadata()
            .map_err(io("reading the log's metadata"))?
            .len();
        if len < st.offset {
            // An append that failed half-way was cut back after this store had read the
            // complete records it left (never acknowledged), or something outside the protocol
            // truncated the log. What was applied stays applied (fail closed).
            tracing::warn!(len, offset = st.offset, "revocation log shrank under the cursor");
            st.offset = len;
        }
        if len == st.offset {
            return Ok(Caught::default());
        }
        let bytes = disk::read_from(&st.file, st.offset)?;
        let scan = match hold {
            Hold::Nothing => log::prefix(&bytes),
            Hold::Exclusive => log::scan(&bytes).map_err(|e| match e {
                StoreError::Corrupt { offset } => StoreError::Corrupt {
                    offset: offset.saturating_add(st.offset),
                },
                e => e,
            })?,
        };
        for record in &scan.records {
            record.apply_to(&self.set);
        }
        st.offset += scan.valid_len as u64;
        let mut cut = 0;
        if hold == Hold::Exclusive && scan.valid_len < bytes.len() {
            cut = (bytes.len() - scan.valid_len) as u64;
            tracing::warn!(cut, "revocation log: cutting a torn or corrupt tail");
            // The fsync of the append that follows (or the caller's) makes the cut durable.
            st.file.set_len(st.offset).map_err(io("cutting the log tail"))?;
        }
        Ok(Caught {
            records: scan.records.len(),
            cut,
            reloaded: None,
        })
    }

    /// Loads the snapshot and the log as one consistent pair under the shared lock; a tail the
    /// cursor cannot pass is looked at again under the exclusive lock, where it is either
    /// another writer's record that has since completed or a torn tail to cut. Returns what was
    /// found and whether the snapshot must be sealed again under the primary key.
    pub(crate) fn recover(&self) -> Result<(Recovery, bool), StoreError> {
        let mut st = lock(&self.state);
        let (first, loaded) = {
            let _shared = Flock::shared(&self.lock)?;
            let loaded = self.reopen(&mut st)?;
            (self.read_new(&mut st, Hold::Nothing)?, loaded)
        };
        let mut recovery = Recovery {
            records_replayed: first.records,
            ..Recovery::default()
        };
        let mut loaded = loaded;
        if st
            .file
            .metadata()
            .map_err(io("reading the log's metadata"))?
            .len()
            > st.offset
        {
            let _exclusive = Flock::exclusive(&self.lock)?;
            let more = self.refresh(&mut st, Hold::Exclusive)?;
            recovery.records_replayed += more.records;
            recovery.tail_bytes_cut = more.cut;
            loaded = more.reloaded.or(loaded);
            if more.cut > 0 {
                st.file.sync_all().map_err(io("cutting the log tail"))?;
            }
        }
        recovery.snapshot_loaded = loaded.is_some();
        Ok((recovery, loaded.is_some_and(|l| l.sealed_by != KeyState::Primary)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn interval_is_clamped_so_the_thread_cannot_spin() {
        let tail = Tail::new();
        assert_eq!(tail.interval(), DEFAULT_TAIL_INTERVAL);
        tail.set_interval(Duration::ZERO);
        assert_eq!(tail.interval(), MIN_TAIL_INTERVAL);
        tail.set_interval(Duration::MAX);
        assert_eq!(tail.interval(), Duration::from_nanos(u64::MAX));
    }
}
