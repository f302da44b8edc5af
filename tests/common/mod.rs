//! Shared set-up for session-level tests: a manager on a manual clock with collected events.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;
use std::sync::Arc;

use sealed_session::revocation::{FilterConfig, MemoryStore, RevocationStore};
use sealed_session::*;

/// 2026-11-18T00:53:20Z.
pub const T0: UnixTime = UnixTime(1_795_000_000);

pub struct Rig {
    pub manager: SessionManager,
    pub clock: ManualClock,
    pub events: Arc<CollectingSink>,
    pub store: Arc<dyn RevocationStore>,
}

pub fn rig(policy: Policy) -> Rig {
    let store: Arc<dyn RevocationStore> = Arc::new(MemoryStore::new(FilterConfig::default()).unwrap());
    rig_with(policy, KeyRing::generate().unwrap(), store)
}

pub fn rig_with(policy: Policy, keys: KeyRing, store: Arc<dyn RevocationStore>) -> Rig {
    let clock = ManualClock::new(T0);
    let events = Arc::new(CollectingSink::new());
    let manager = SessionManager::builder(keys, "bank", Arc::clone(&store))
        .with_policy(policy)
        .with_clock(Arc::new(clock.clone()))
        .with_events(events.clone())
        .build()
        .unwrap();
    Rig {
        manager,
        clock,
        events,
        store,
    }
}

pub fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

/// Alice's browser at home.
pub fn alice() -> ClientContext<'static> {
    ClientContext::new(
        ip("203.0.113.7"),
        Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"),
    )
}

/// Mallory's machine, on another network with another browser.
pub fn mallory() -> ClientContext<'static> {
    ClientContext::new(
        ip("198.51.100.66"),
        Some("Mozilla/5.0 (Windows NT 10.0) Chrome/150.0"),
    )
}

pub fn reason<T: std::fmt::Debug>(r: Result<T, Rejected>) -> Reason {
    r.expect_err("expected a rejection").reason()
}

#[cfg(feature = "web")]
pub mod api;
#[cfg(feature = "web")]
pub mod web;
