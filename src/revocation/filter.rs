//! One Bloom filter on atomic words: inserts are `fetch_or`, lookups are plain loads, so
//! neither takes a lock.

use std::sync::atomic::{AtomicU64, Ordering};

use super::config::Geometry;

/// Positions of each id read before the lookup starts stopping at clear bits.
const EAGER: u32 = 4;

/// A classic Bloom filter of `64 × words` bits with `k` positions per key.
pub(crate) struct Filter {
    geometry: Geometry,
    words: Box<[AtomicU64]>,
    /// Bits currently set, counted exactly from the `fetch_or` results.
    set_bits: AtomicU64,
}

/// The `k` bit positions of a 16-byte id in a filter of `m` bits (spec/revocation.md,
/// "Hashing"): enhanced double hashing (Dillinger & Manolios 2004) on the id's two halves,
/// each step reduced to `[0, m)` by a 64×64→128-bit multiply (Lemire 2019).
///
/// The ids are uniform random 128-bit values drawn by the server, so their halves already
/// are the two independent hashes Kirsch & Mitzenmacher (2006) require.
pub(crate) fn positions(id: &[u8; 16], m: u64, k: u32) -> impl Iterator<Item = u64> {
    let (lo, hi) = id.split_at(8);
    let mut x = u64::from_le_bytes(lo.try_into().unwrap_or([0; 8]));
    let mut y = u64::from_le_bytes(hi.try_into().unwrap_or([0; 8]));
    (0..u64::from(k)).map(move |i| {
        let wide = u128::from(x) * u128::from(m);
        x = x.wrapping_add(y);
        y = y.wrapping_add(i);
        // The high half of a product by m < 2^64 is below m, so it fits.
        u64::try_from(wide >> 64).unwrap_or(0)
    })
}

fn split(pos: u64) -> (usize, u64) {
    (
        usize::try_from(pos / 64).unwrap_or(usize::MAX),
        1u64 << (pos % 64),
    )
}

impl Filter {
    /// An empty filter.
    pub(crate) fn new(geometry: Geometry) -> Self {
        Self {
            geometry,
            words: (0..geometry.words).map(|_| AtomicU64::new(0)).collect(),
            set_bits: AtomicU64::new(0),
        }
    }

    /// The filter's shape.
    pub(crate) fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// Sets the id's bits. Returns whether the filter is now at its fill limit (sealed).
    pub(crate) fn insert(&self, id: &[u8; 16]) -> bool {
        let mut fresh = 0u64;
        for pos in positions(id, self.geometry.bits(), self.geometry.k) {
            let (word, mask) = split(pos);
            if let Some(w) = self.words.get(word) {
                // Release pairs with the Acquire loads of `contains`.
                if w.fetch_or(mask, Ordering::Release) & mask == 0 {
                    fresh += 1;
                }
            }
        }
        self.add_set_bits(fresh)
    }

    /// Whether every bit of the id is set.
    pub(crate) fn contains(&self, id: &[u8; 16]) -> bool {
        self.contains_either(id, id)
    }

    /// Whether every bit of `a`, or every bit of `b`, is set.
    ///
    /// The first [`EAGER`] positions of both ids are loaded unconditionally, so their cache
    /// misses overlap instead of waiting on each other; in a half-full filter an absent id
    /// survives them with probability 1/16, and only then are the remaining positions read,
    /// stopping at the first clear bit.
    pub(crate) fn contains_either(&self, a: &[u8; 16], b: &[u8; 16]) -> bool {
        let (m, k) = (self.geometry.bits(), self.geometry.k);
        let (mut pa, mut pb) = (positions(a, m, k), positions(b, m, k));
        let (mut live_a, mut live_b) = (true, true);
        for _ in 0..EAGER.min(k) {
            live_a &= pa.next().is_some_and(|p| self.bit(p));
            live_b &= pb.next().is_some_and(|p| self.bit(p));
        }
        (live_a && pa.all(|p| self.bit(p))) || (live_b && pb.all(|p| self.bit(p)))
    }

    fn bit(&self, pos: u64) -> bool {
        let (word, mask) = split(pos);
        self.words
            .get(word)
            .is_some_and(|w| w.load(Ordering::Acquire) & mask != 0)
    }

    /// Whether the fill limit has been reached: new inserts go to the next filter.
    pub(crate) fn is_sealed(&self) -> bool {
        self.set_bits.load(Ordering::Relaxed) >= self.geometry.limit
    }

    /// ORs little-endian words into this filter (a merge). Returns whether it is now sealed.
    /// The caller has checked the length.
    pub(crate) fn or_words(&self, other: impl Iterator<Item = u64>) -> bool {
        let mut fresh = 0u64;
        for (w, v) in self.words.iter().zip(other) {
            let old = w.fetch_or(v, Ordering::Release);
            fresh += u64::from((v & !old).count_ones());
        }
        self.add_set_bits(fresh)
    }

    /// The words as they are now (for snapshots).
    pub(crate) fn words(&self) -> impl Iterator<Item = u64> + '_ {
        self.words.iter().map(|w| w.load(Ordering::Acquire))
    }

    /// Bits set.
    pub(crate) fn set_bits(&self) -> u64 {
        self.set_bits.load(Ordering::Relaxed)
    }

    /// Estimated distinct keys inserted, from the fill (Swamidass & Baldi 2007):
    /// `n ≈ -(m/k)·ln(1 - X/m)`. Exact enough for a hint and independent of merge order.
    pub(crate) fn estimated_len(&self) -> f64 {
        let m = self.geometry.bits() as f64;
        let x = (self.set_bits() as f64).min(m - 1.0);
        -(m / f64::from(self.geometry.k)) * (1.0 - x / m).ln()
    }

    /// Current false-positive probability of one probe: `(X/m)^k`.
    pub(crate) fn false_positive_estimate(&self) -> f64 {
        let fill = self.set_bits() as f64 / self.geometry.bits() as f64;
        fill.powf(f64::from(self.geometry.k))
    }

    /// Heap bytes of the bit array.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.words.len().saturating_mul(8)
    }

    fn add_set_bits(&self, fresh: u64) -> bool {
        let now = self
            .set_bits
            .fetch_add(fresh, Ordering::Relaxed)
            .saturating_add(fresh);
        now >= self.geometry.limit
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn positions_are_in_range_and_deterministic() {
        let id = [0xffu8; 16];
        let a: Vec<u64> = positions(&id, 1000, 7).collect();
        assert_eq!(a.len(), 7);
        assert!(a.iter().all(|&p| p < 1000));
        assert_eq!(a, positions(&id, 1000, 7).collect::<Vec<_>>());
    }

    #[test]
    fn insert_then_contains_and_counts_bits() {
        let g = Geometry {
            k: 5,
            words: 4,
            limit: 200,
        };
        let f = Filter::new(g);
        let id = *b"0123456789abcdef";
        assert!(!f.contains(&id));
        f.insert(&id);
        assert!(f.contains(&id));
        let counted: u32 = f.words().map(u64::count_ones).sum();
        assert_eq!(u64::from(counted), f.set_bits());
        f.insert(&id);
        assert_eq!(u64::from(counted), f.set_bits());
    }
}
