//! The background writer of a [`FileStore`](super::FileStore): a bounded queue of revocations
//! that `revoke_with(.., Background)` pushes to without waiting, and the thread that encodes
//! and appends them in batches and fsyncs each batch once (group commit). Encoding (with its
//! checksum) happens on the writer's side, off the request path.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use super::log;
use super::store::{Revocation, StoreError};

/// Records queued before `Background` revocations stop being made durable (about 1 MiB of
/// id records).
pub(crate) const QUEUE_CAPACITY: usize = 32_768;

/// Revocations waiting to be appended.
pub(crate) struct Queue {
    state: Mutex<Pending>,
    wake: Condvar,
}

#[derive(Default)]
struct Pending {
    revocations: Vec<Revocation>,
    closed: bool,
    /// The writer is blocked in [`Queue::wait`]; only then does a push have to wake it (a
    /// futex wake per revocation would cost more than the revocation itself).
    sleeping: bool,
}

/// A batch taken from the queue.
pub(crate) struct Batch {
    pub(crate) revocations: Vec<Revocation>,
    pub(crate) records: usize,
}

impl Batch {
    /// The batch as framed log records, back to back.
    pub(crate) fn encode(&self) -> Result<Vec<u8>, StoreError> {
        let mut bytes = Vec::with_capacity(self.records * 32);
        for revocation in &self.revocations {
            bytes.extend_from_slice(&log::encode(revocation)?);
        }
        Ok(bytes)
    }
}

impl Queue {
    pub(crate) fn new() -> Self {
        Self {
            state: Mutex::new(Pending::default()),
            wake: Condvar::new(),
        }
    }

    /// Queues one revocation. Never waits for I/O: the mutex is only ever held to move a
    /// value in or swap the queue out. False when the queue is full or closed.
    pub(crate) fn push(&self, revocation: Revocation) -> bool {
        let mut q = self.lock();
        if q.closed || q.revocations.len() >= QUEUE_CAPACITY {
            return false;
        }
        q.revocations.push(revocation);
        let wake = std::mem::take(&mut q.sleeping);
        drop(q);
        if wake {
            self.wake.notify_one();
        }
        true
    }

    /// Everything queued so far (possibly nothing).
    pub(crate) fn take(&self) -> Batch {
        let revocations = std::mem::take(&mut self.lock().revocations);
        Batch {
            records: revocations.len(),
            revocations,
        }
    }

    /// Waits until records are queued or the queue is closed; returns whether it is closed.
    pub(crate) fn wait(&self) -> bool {
        let mut q = self.lock();
        while q.revocations.is_empty() && !q.closed {
            q.sleeping = true;
            q = self.wake.wait(q).unwrap_or_else(PoisonError::into_inner);
        }
        q.sleeping = false;
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
