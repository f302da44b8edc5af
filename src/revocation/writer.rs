//! The background writer of a [`FileStore`](super::FileStore): a bounded queue of encoded
//! records that `revoke_with(.., Background)` pushes to without waiting, and the thread that
//! appends them in batches and fsyncs each batch once (group commit).

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// Records queued before `Background` revocations stop being made durable (about 1 MiB of
/// id records).
pub(crate) const QUEUE_CAPACITY: usize = 32_768;

/// Encoded records waiting to be appended, as one contiguous buffer.
pub(crate) struct Queue {
    state: Mutex<Pending>,
    wake: Condvar,
}

#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    records: usize,
    closed: bool,
}

/// A batch taken from the queue: framed records, back to back.
pub(crate) struct Batch {
    pub(crate) bytes: Vec<u8>,
    pub(crate) records: usize,
}

impl Queue {
    pub(crate) fn new() -> Self {
        Self {
            state: Mutex::new(Pending::default()),
            wake: Condvar::new(),
        }
    }

    /// Queues one framed record. Never waits for I/O: the mutex is only ever held to copy
    /// bytes in or swap them out. False when the queue is full or closed.
    pub(crate) fn push(&self, record: &[u8]) -> bool {
        let mut q = self.lock();
        if q.closed || q.records >= QUEUE_CAPACITY {
            return false;
        }
        q.bytes.extend_from_slice(record);
        q.records += 1;
        drop(q);
        self.wake.notify_one();
        true
    }

    /// Everything queued so far (possibly nothing).
    pub(crate) fn take(&self) -> Batch {
        let mut q = self.lock();
        let records = std::mem::take(&mut q.records);
        Batch {
            bytes: std::mem::take(&mut q.bytes),
            records,
        }
    }

    /// Waits until records are queued or the queue is closed; returns whether it is closed.
    pub(crate) fn wait(&self) -> bool {
        let mut q = self.lock();
        while q.records == 0 && !q.closed {
            q = self.wake.wait(q).unwrap_or_else(PoisonError::into_inner);
        }
        q.closed
    }

    /// Refuses further records and wakes the writer so it flushes and exits.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_all();
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        // Every critical section is a copy or a swap: a panic cannot leave it half done.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
