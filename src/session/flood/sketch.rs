//! A fixed-size, lock-free count-min sketch of per-key event counts in fixed time windows.
//!
//! Each key maps to one cell in each of [`ROWS`] rows through a SipHash keyed with per-process
//! random keys, so a client cannot aim its keys at a victim's cells. A cell packs the window it
//! counts (high 32 bits) and the count (low 32 bits) into one `AtomicU64`: a cell last touched
//! in an earlier window restarts at zero when next touched, so windows rotate lazily, per cell,
//! with no sweep. Recording is a fixed number of compare-and-swaps; memory never grows.
//!
//! A key's estimate is the minimum over its cells (Cormode & Muthukrishnan, "An improved data
//! stream summary: the count-min sketch", 2005): never below its true count, above it only when
//! every one of its cells is shared with other busy keys.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicU64, Ordering};

/// Independent rows; a key is over-counted only if all of its cells collide.
pub(crate) const ROWS: usize = 2;
/// Cells per row (a power of two).
pub(crate) const WIDTH: usize = 8192;

/// Counts events per key in windows of `window` seconds.
pub(crate) struct Sketch {
    hasher: RandomState,
    window: u64,
    cells: Box<[AtomicU64]>,
}

impl Sketch {
    /// An empty sketch with windows of `window_secs` seconds (at least one).
    pub(crate) fn new(window_secs: u64) -> Self {
        Self {
            hasher: RandomState::new(),
            window: window_secs.max(1),
            cells: (0..ROWS * WIDTH).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Counts one event of `key` at `now` (Unix seconds) and returns the key's estimated count
    /// in the current window *before* this event. Successive events of one key return
    /// strictly increasing values within a window, so `before == limit` is true for at most one
    /// event of a key per window.
    pub(crate) fn bump(&self, key: impl Hash, now: u64) -> u32 {
        let window = window_tag(now / self.window);
        let hash = self.hasher.hash_one(key);
        let mut estimate = u32::MAX;
        for row in 0..ROWS {
            // Row r takes its own 32-bit half of the hash, reduced to the row by multiply-shift.
            let part = (hash >> (32 * (row % 2))) & 0xffff_ffff;
            let col = usize::try_from((part * WIDTH as u64) >> 32).unwrap_or(0);
            if let Some(cell) = self.cells.get(row * WIDTH + col) {
                estimate = estimate.min(bump_cell(cell, window));
            }
        }
        estimate
    }

    /// Heap bytes held: fixed at construction.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.cells.len() * std::mem::size_of::<AtomicU64>()
    }
}

/// The low 32 bits of a window number: cells only compare them for equality, and a cell left
/// untouched for exactly 2^32 windows is the only way to confuse two.
fn window_tag(window: u64) -> u64 {
    window & 0xffff_ffff
}

/// Adds one to `cell` for `window` and returns its count before.
fn bump_cell(cell: &AtomicU64, window: u64) -> u32 {
    let mut cur = cell.load(Ordering::Relaxed);
    loop {
        let before = if cur >> 32 == window { cur & 0xffff_ffff } else { 0 };
        let next = (window << 32) | (before + 1).min(0xffff_ffff);
        match cell.compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return u32::try_from(before).unwrap_or(u32::MAX),
            Err(seen) => cur = seen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_key_and_restarts_each_window() {
        let s = Sketch::new(10);
        assert_eq!(s.bump(1u8, 100), 0);
        assert_eq!(s.bump(1u8, 101), 1);
        assert_eq!(s.bump(1u8, 109), 2);
        assert_eq!(s.bump(1u8, 110), 0);
        assert_eq!(s.bump(2u8, 110), 0);
    }

    #[test]
    fn never_under_counts() {
        let s = Sketch::new(60);
        for k in 0..50_000u32 {
            s.bump(k, 0);
        }
        for k in 0..50_000u32 {
            assert!(s.bump(k, 0) >= 1);
        }
    }
}
