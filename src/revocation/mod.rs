//! Revocation: which sessions and tokens are refused although their seal is valid.
//!
//! ```text
//! logout / rotation / mismatch ──► RevocationStore::revoke ──► RevocationSet (atomic bits)
//!                                        │                          ▲   │
//!                                        ▼                          │   ▼ snapshot / merge
//!                          FileStore: log + fsync, snapshots        │  peers (bitwise OR)
//!                                                                   │
//! verify ── contains_either(epoch, session id, token id) ───────────┘  (no lock)
//!        ── subject_cutoff(subject), kill_switch()
//! ```
//!
//! - Ids live in Bloom filters grouped by *generation*: the hour-epoch a token carries (the one
//!   containing its session's absolute deadline), so one generation holds every revocation
//!   that can match a token and is dropped once that hour has passed.
//! - Each generation grows further, tighter filters past its capacity, so the false-positive
//!   rate of a probe stays below the target however many revocations arrive.
//! - Subject cutoffs (logout-everywhere) and the kill switch are exact.
//! - [`MemoryStore`] keeps the set in memory; [`FileStore`] makes every revocation durable in a
//!   data directory that several processes may share, each tailing what the others append;
//!   `redis::RedisStore` (feature `redis`) shares revocations between nodes through a Redis
//!   stream.
//!
//! The layout, hashing, sizing math and byte formats are in `spec/revocation.md`.

mod commit;
mod config;
mod cursor;
mod cutoffs;
mod disk;
mod file;
mod filter;
mod log;
mod pressure;
#[cfg(feature = "redis")]
pub mod redis;
mod set;
mod snapshot;
mod store;
mod writer;

pub use config::FilterConfig;
pub use cursor::LogPosition;
pub use file::{FileStore, Recovery, LOG_FILE, SNAPSHOT_FILE};
pub use pressure::{Pressure, PressureLevel};
pub use set::{GenerationStats, RevocationSet};
pub use snapshot::{GeometryError, RevocationSnapshot, SnapshotError};
pub use store::{Durability, MemoryStore, Readiness, Revocation, RevocationStore, StoreError};

/// Scans revocation-log bytes as [`FileStore::open`] does before cutting a torn tail: the
/// records of the valid prefix and its length. Not part of the API: the `log_recovery` fuzz
/// target runs it on most inputs, since a data directory per input is slow.
///
/// # Errors
/// [`StoreError::Corrupt`] for an invalid record followed by a valid one.
#[doc(hidden)]
pub fn __scan_log(bytes: &[u8]) -> Result<(Vec<Revocation>, usize), StoreError> {
    log::scan(bytes).map(|scan| (scan.records, scan.valid_len))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn shared_types_are_send_and_sync() {
        assert_send_sync::<RevocationSet>();
        assert_send_sync::<MemoryStore>();
        assert_send_sync::<FileStore>();
    }
}
