//! The connection cap. Each connection holds a slot; when all `max` are taken, a new
//! connection closes the oldest *idle* one (waiting for a TLS handshake, a request head or a
//! keep-alive request: slowloris and idle floods hold exactly these) and takes its slot, so
//! a flood of idle connections cannot keep a new visitor out. Refusing new connections
//! instead would hand the server to whoever opened the most. Connections in the middle of
//! a request are never closed; when every slot is busy, the new connection is closed
//! unanswered (the client's retry finds a slot once a request ends, within the body timeout
//! plus the handler's time).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

/// The open connections, oldest first.
#[derive(Clone)]
pub struct Connections(Arc<Shared>);

struct Shared {
    max: usize,
    live: Mutex<Live>,
}

#[derive(Default)]
struct Live {
    next: u64,
    slots: BTreeMap<u64, Arc<Slot>>,
}

#[derive(Default)]
struct Slot {
    busy: AtomicBool,
    close: Notify,
}

impl Connections {
    /// At most `max` connections (at least one).
    pub fn new(max: usize) -> Self {
        Self(Arc::new(Shared {
            max: max.max(1),
            live: Mutex::new(Live::default()),
        }))
    }

    /// A slot for a new connection, closing the oldest idle one when full; `None` when every
    /// connection is busy.
    pub fn admit(&self) -> Option<Connection> {
        let mut live = self.lock();
        if live.slots.len() >= self.0.max {
            let oldest_idle = live
                .slots
                .iter()
                .find(|(_, s)| !s.busy.load(Ordering::SeqCst))
                .map(|(id, _)| *id)?;
            if let Some(slot) = live.slots.remove(&oldest_idle) {
                // `notify_one` keeps the wake-up if the connection is not waiting yet.
                slot.close.notify_one();
            }
        }
        let id = live.next;
        live.next += 1;
        let slot = Arc::new(Slot::default());
        live.slots.insert(id, slot.clone());
        Some(Connection {
            id,
            slot,
            connections: self.clone(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Live> {
        self.0.live.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One connection's slot, given back when dropped.
pub struct Connection {
    id: u64,
    slot: Arc<Slot>,
    connections: Connections,
}

impl Connection {
    /// Resolves when the cap closes this connection to admit a newer one.
    pub async fn closed(&self) {
        self.slot.close.notified().await;
    }

    /// Marks the connection busy while a request is handled.
    pub fn busy_flag(&self) -> BusyFlag {
        BusyFlag(self.slot.clone())
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.connections.lock().slots.remove(&self.id);
    }
}

/// Shared with the connection's request handler.
#[derive(Clone)]
pub struct BusyFlag(Arc<Slot>);

impl BusyFlag {
    /// Busy until the returned guard drops.
    pub fn enter(&self) -> Busy {
        self.0.busy.store(true, Ordering::SeqCst);
        Busy(self.0.clone())
    }
}

/// A request in progress on the connection.
pub struct Busy(Arc<Slot>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.store(false, Ordering::SeqCst);
    }
}
