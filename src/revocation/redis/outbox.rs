//! The outbox: this node's own revocations, durable before they are published.
//!
//! `outbox.log` uses the revocation log's record framing (spec/revocation.md, "Log record");
//! `outbox.published` holds how many of its records are known to be in the stream. Losing or
//! tearing that count only publishes records again, which is harmless: applying is idempotent.
//! Once every record is published, and the local store has fsync'd them, the outbox is emptied.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::position::replace_file;
use crate::revocation::file::io;
use crate::revocation::{log, Revocation, StoreError};

/// The outbox file inside the data directory.
pub(crate) const OUTBOX_FILE: &str = "outbox.log";
/// The published-record count inside the data directory.
pub(crate) const PUBLISHED_FILE: &str = "outbox.published";
/// Outbox size from which a fully published outbox is emptied.
const EMPTY_AFTER: u64 = 64 << 10;
/// `Background` revocations waiting for the feed thread to write them.
const PENDING_CAPACITY: usize = 32_768;

/// The outbox of one data directory (the caller holds the directory's feed lock).
pub(crate) struct Outbox {
    dir: PathBuf,
    /// Held across writes and fsyncs: never taken on the feed's runtime thread.
    state: Mutex<State>,
    /// The records after `published`, in file order. Its own lock, only ever held to copy or
    /// move records, so the feed's runtime thread can read it without waiting for an fsync.
    unpublished: Mutex<Unpublished>,
    /// `Background` revocations not yet written (the request path never writes a file).
    pending: Mutex<Vec<Revocation>>,
    /// Records taken from `pending` and not yet in `unpublished` (being written).
    in_flight: AtomicU64,
    /// `Background` revocations refused by a full queue or a failed write: enforced here,
    /// never published.
    dropped: AtomicU64,
}

/// The records not yet counted as published, and how many of them (a prefix) were already
/// sent: the publisher sends the next batch while the count of the previous one is still
/// being written, so a slow disk never holds up propagation.
struct Unpublished {
    records: VecDeque<Revocation>,
    /// Records at the front already in the stream (by `XADD` replies) but not yet counted.
    sent: usize,
}

struct State {
    file: File,
    len: u64,
    /// Records in the file.
    records: u64,
    /// Records known to be in the stream (a prefix of the file).
    published: u64,
    /// A write or fsync failed: nothing after the last good fsync can be trusted.
    poisoned: bool,
}

impl Outbox {
    /// Opens (creating) the outbox in `dir`, cutting a torn tail. Returns every record in it,
    /// for the caller to apply to the local store.
    pub(crate) fn open(dir: &Path) -> Result<(Self, Vec<Revocation>), StoreError> {
        let mut file = private()
            .open(dir.join(OUTBOX_FILE))
            .map_err(io("opening the outbox"))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io("reading the outbox"))?;
        let scan = log::scan(&bytes)?;
        if scan.valid_len < bytes.len() {
            tracing::warn!(
                cut = bytes.len() - scan.valid_len,
                "revocation outbox: cutting a torn tail"
            );
            file.set_len(scan.valid_len as u64)
                .and_then(|()| file.sync_all())
                .map_err(io("cutting the outbox tail"))?;
        }
        let records = scan.records.len() as u64;
        let published = read_published(dir).filter(|&p| p <= records).unwrap_or(0);
        let unpublished = Unpublished {
            records: scan
                .records
                .iter()
                .skip(usize::try_from(published).unwrap_or(0))
                .cloned()
                .collect(),
            sent: 0,
        };
        let state = State {
            file,
            len: scan.valid_len as u64,
            records,
            published,
            poisoned: false,
        };
        let outbox = Self {
            dir: dir.to_path_buf(),
            state: Mutex::new(state),
            unpublished: Mutex::new(unpublished),
            pending: Mutex::new(Vec::new()),
            in_flight: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        };
        Ok((outbox, scan.records))
    }

    /// Queues a `Background` revocation for the feed thread; never touches a file. False when
    /// the queue is full (the revocation is then counted in [`dropped`](Self::dropped)).
    pub(crate) fn push_background(&self, revocation: Revocation) -> bool {
        let mut pending = lock(&self.pending);
        if pending.len() >= PENDING_CAPACITY {
            drop(pending);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("revocation outbox queue full: revocation enforced here but not published");
            return false;
        }
        pending.push(revocation);
        true
    }

    /// Appends everything queued and then `own`, and fsyncs. `keep` is called for each record
    /// while the outbox is locked (the caller hands it to the local store there, so the outbox
    /// is never emptied of a record the store has not been given). Blocks on I/O.
    pub(crate) fn append(
        &self,
        own: Option<&Revocation>,
        keep: &dyn Fn(&Revocation),
    ) -> Result<usize, StoreError> {
        let mut st = lock(&self.state);
        let mut batch = {
            let mut pending = lock(&self.pending);
            // Counted as pending until they are in `unpublished` (or dropped).
            self.in_flight.fetch_add(pending.len() as u64, Ordering::AcqRel);
            std::mem::take(&mut *pending)
        };
        let queued = batch.len();
        batch.extend(own.cloned());
        let written = if batch.is_empty() {
            Ok(())
        } else {
            self.write(&mut st, &batch)
        };
        match written {
            Ok(()) => {
                st.records += batch.len() as u64;
                batch.iter().for_each(keep);
                lock(&self.unpublished).records.extend(batch);
            }
            Err(_) if queued > 0 => {
                // Still made durable here, but they will not be published.
                batch.iter().take(queued).for_each(keep);
                self.dropped.fetch_add(queued as u64, Ordering::Relaxed);
                tracing::warn!(
                    queued,
                    "revocation outbox: write failed, queued revocations kept here but not published"
                );
            }
            Err(_) => {}
        }
        self.in_flight.fetch_sub(queued as u64, Ordering::AcqRel);
        written.map(|()| queued + usize::from(own.is_some()))
    }

    /// One write of the framed records, then `fdatasync`.
    fn write(&self, st: &mut State, batch: &[Revocation]) -> Result<(), StoreError> {
        if st.poisoned {
            return Err(StoreError::Poisoned);
        }
        let mut bytes = Vec::with_capacity(batch.len() * 32);
        for r in batch {
            bytes.extend_from_slice(&log::encode(r)?);
        }
        if let Err(e) = st.file.write_all(&bytes) {
            // A partial record followed by later ones would read as corruption, not a torn tail.
            let len = st.len;
            st.poisoned = st.file.set_len(len).is_err();
            return Err(io("appending to the outbox")(e));
        }
        if let Err(e) = st.file.sync_data() {
            // After a failed fsync the kernel may have dropped the pages: nothing written since
            // the last good one can be trusted (PostgreSQL's "fsyncgate").
            st.poisoned = true;
            return Err(io("syncing the outbox")(e));
        }
        st.len += bytes.len() as u64;
        Ok(())
    }

    /// Up to `max` unpublished records not yet sent, oldest first (still unpublished until
    /// [`mark_published`](Self::mark_published)).
    pub(crate) fn next_batch(&self, max: usize) -> Vec<Revocation> {
        let unpublished = lock(&self.unpublished);
        unpublished
            .records
            .iter()
            .skip(unpublished.sent)
            .take(max)
            .cloned()
            .collect()
    }

    /// The next `n` unsent records are in the stream; [`next_batch`](Self::next_batch) moves
    /// past them at once, before they are counted.
    pub(crate) fn mark_sent(&self, n: usize) {
        let mut unpublished = lock(&self.unpublished);
        unpublished.sent = unpublished.sent.saturating_add(n).min(unpublished.records.len());
    }

    /// The connection failed: records sent but not yet counted may or may not be in the
    /// stream, so they are sent again (harmless: applying is idempotent).
    pub(crate) fn resend_uncounted(&self) {
        lock(&self.unpublished).sent = 0;
    }

    /// The first `n` unpublished records are in the stream (tests count by hand).
    #[cfg(test)]
    pub(crate) fn mark_published(&self, n: usize) -> Result<(), StoreError> {
        self.count(|_| n).map(|_| ())
    }

    /// Counts every record [`mark_sent`](Self::mark_sent) reported as published; returns how
    /// many. Blocks on the state lock (held across the outbox's fsyncs).
    pub(crate) fn count_sent(&self) -> Result<usize, StoreError> {
        self.count(|sent| sent)
    }

    fn count(&self, how_many: impl FnOnce(usize) -> usize) -> Result<usize, StoreError> {
        let mut st = lock(&self.state);
        let n = {
            let mut unpublished = lock(&self.unpublished);
            let n = how_many(unpublished.sent).min(unpublished.records.len());
            unpublished.records.drain(..n);
            unpublished.sent = unpublished.sent.saturating_sub(n);
            n
        };
        if n == 0 {
            return Ok(0);
        }
        st.published += n as u64;
        write_published(&self.dir, st.published).map(|()| n)
    }

    /// Publishes everything again (the stream lost it): every record in the file counts as
    /// unpublished. Used after the feed regressed; the records are also in the snapshot the
    /// node republishes, so this only speeds up peers that read the stream.
    pub(crate) fn republish_all(&self) -> Result<(), StoreError> {
        let mut st = lock(&self.state);
        let bytes = std::fs::read(self.dir.join(OUTBOX_FILE)).map_err(io("reading the outbox"))?;
        let mut unpublished: VecDeque<Revocation> = log::scan(&bytes)?.records.into();
        // Records appended after the file was read cannot exist: appends hold this lock.
        unpublished.truncate(usize::try_from(st.records).unwrap_or(usize::MAX));
        *lock(&self.unpublished) = Unpublished {
            records: unpublished,
            sent: 0,
        };
        st.published = 0;
        write_published(&self.dir, 0)
    }

    /// Empties the outbox once it is long and fully published. `sync_store` must make every
    /// record handed to `keep` durable in the local store; it runs with the outbox locked.
    pub(crate) fn empty_if_published(
        &self,
        sync_store: &dyn Fn() -> Result<(), StoreError>,
    ) -> Result<bool, StoreError> {
        let mut st = lock(&self.state);
        if st.poisoned || st.len < EMPTY_AFTER || st.published < st.records || !lock(&self.pending).is_empty()
        {
            return Ok(false);
        }
        sync_store()?;
        // Count first: a crash between the two leaves published records counted unpublished
        // (published again), never the reverse.
        write_published(&self.dir, 0)?;
        if let Err(e) = st.file.set_len(0).and_then(|()| st.file.sync_all()) {
            st.poisoned = true;
            return Err(io("emptying the outbox")(e));
        }
        st.len = 0;
        st.records = 0;
        st.published = 0;
        Ok(true)
    }

    /// Records not yet known to be published, queued ones included.
    pub(crate) fn pending(&self) -> u64 {
        // Read in the order records move (pending → in flight → unpublished), so a record
        // moving meanwhile is counted twice at worst, never missed.
        let queued = lock(&self.pending).len() as u64;
        let in_flight = self.in_flight.load(Ordering::Acquire);
        lock(&self.unpublished).records.len() as u64 + in_flight + queued
    }

    /// Whether `Background` revocations are queued for writing.
    pub(crate) fn has_queued(&self) -> bool {
        !lock(&self.pending).is_empty()
    }

    /// `Background` revocations dropped because the queue was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

fn read_published(dir: &Path) -> Option<u64> {
    let text = match std::fs::read_to_string(dir.join(PUBLISHED_FILE)) {
        Ok(text) => text,
        Err(e) if e.kind() == ErrorKind::NotFound => return Some(0),
        Err(_) => return None,
    };
    text.strip_suffix('\n')?.parse().ok()
}

fn write_published(dir: &Path, n: u64) -> Result<(), StoreError> {
    replace_file(dir, PUBLISHED_FILE, format!("{n}\n").as_bytes())
}

/// Revocation files reveal which sessions ended: readable by the owner only.
fn private() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.read(true).append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section either completes or marks the outbox poisoned.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests;
