//! The write path of a [`FileStore`](super::FileStore): appending under the exclusive directory
//! lock, group commit, the background writer, and compaction by renaming a new log into place
//! (spec/revocation.md, "Writing", "Compaction" and "Sharing a data directory").

use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::cursor::{Hold, LogState};
use super::disk::{self, system_now, Flock};
use super::file::{io, lock, Inner};
use super::log;
use super::store::{Revocation, StoreError};

impl Inner {
    pub(crate) fn revoke_synced(&self, revocation: &Revocation) -> Result<(), StoreError> {
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
    pub(crate) fn revoke_background(&self, revocation: Revocation) -> Result<(), StoreError> {
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
    pub(crate) fn run_writer(&self) {
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
    /// of the last record and the log's length after it.
    pub(crate) fn append(&self, st: &mut LogState, own: Option<&[u8]>) -> Result<(u64, u64), StoreError> {
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
            return Ok((st.written, st.offset));
        }
        if let Err(e) = self.write_at_end(st, &bytes) {
            self.drop_durability(batch.records);
            return Err(e);
        }
        st.written += (batch.records + usize::from(own.is_some())) as u64;
        Ok((st.written, st.offset))
    }

    /// Under the exclusive lock: follows a compaction, applies the records others appended (a
    /// torn tail, which no one can be writing now, is cut), then writes `bytes` in one
    /// `write_all` to the `O_APPEND` descriptor, so they start where the cursor stands.
    fn write_at_end(&self, st: &mut LogState, bytes: &[u8]) -> Result<(), StoreError> {
        let _exclusive = Flock::exclusive(&self.lock)?;
        self.refresh(st, Hold::Exclusive)?;
        if let Err(e) = (&*st.file).write_all(bytes) {
            // A partial record followed by later ones would make the log corrupt, not torn;
            // cut it while the lock still keeps others from appending after it.
            if st.file.set_len(st.offset).is_err() {
                self.poisoned.store(true, Ordering::Release);
            }
            return Err(io("appending to the log")(e));
        }
        // Our own records are already in the set.
        st.offset += bytes.len() as u64;
        Ok(())
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
    ///
    /// The descriptor synced may be a newer log than the one `seq` went to, when a compaction
    /// (here or in another process) replaced it meanwhile; that compaction's snapshot holds the
    /// record and was synced before the new log was renamed into place.
    pub(crate) fn sync_through(&self, seq: u64) -> Result<(), StoreError> {
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
    pub(crate) fn maybe_compact(&self, len: u64) {
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
    /// revokers crossing the threshold together, here or in other processes, compact once).
    pub(crate) fn compact_if_longer(&self, min_len: u64) -> Result<(), StoreError> {
        let mut synced = lock(&self.synced);
        let mut st = lock(&self.state);
        if self.poisoned.load(Ordering::Acquire) {
            return Err(StoreError::Poisoned);
        }
        let _exclusive = Flock::exclusive(&self.lock)?;
        // Now the set holds every record of the log, whoever wrote it.
        self.refresh(&mut st, Hold::Exclusive)?;
        if st.offset < min_len || (min_len > 0 && st.offset == 0) {
            return Ok(());
        }
        let bytes = self.set.snapshot().to_bytes(&self.keys.load_at(system_now()))?;
        disk::write_snapshot(&self.dir, &bytes)?;
        self.snapshot_len.store(bytes.len() as u64, Ordering::Relaxed);
        // A crash from here until the rename leaves the new snapshot and the old log, whose
        // records it already holds: replay is idempotent.
        let (file, id) = disk::empty_log(&self.dir)?;
        disk::install_log(&self.dir)?;
        // The log is never truncated in place: the others' descriptors keep the old file, and
        // seeing the path name a new one is how they learn to load the snapshot.
        st.file = Arc::new(file);
        st.id = id;
        st.offset = 0;
        if let Err(e) = disk::sync_dir(&self.dir) {
            // Records appended to a log whose directory entry may not survive a crash would be
            // lost with it.
            self.poisoned.store(true, Ordering::Release);
            return Err(e);
        }
        *synced = st.written;
        Ok(())
    }
}
