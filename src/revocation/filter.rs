//! One blocked Bloom filter on atomic words: inserts are `fetch_or`, lookups are plain loads,
//! so neither takes a lock. Each key lives in two 512-bit blocks, each one cache line.

use std::sync::atomic::{AtomicU64, Ordering};

use super::config::{Geometry, BLOCK_WORDS};

/// The multiplier that steps a key's in-block positions: ⌊2^64 / φ⌋, odd (Knuth,
/// TAOCP vol. 3, §6.4, multiplicative hashing). Normative (spec/revocation.md, "Hashing").
const STEP: u64 = 0x9e37_79b9_7f4a_7c15;

/// One 512-bit block, aligned so that it is exactly one 64-byte cache line.
#[repr(align(64))]
struct Block([AtomicU64; BLOCK_WORDS]);

/// One block of a key: its index and the bits the key sets there, as eight word masks.
pub(crate) type Probe = (usize, [u64; BLOCK_WORDS]);

/// A blocked Bloom filter (Putze, Sanders & Singler, "Cache-, hash- and space-efficient Bloom
/// filters", WEA 2007) of `words / 8` blocks, a key setting `k / 2` bits in each of two.
pub(crate) struct Filter {
    geometry: Geometry,
    blocks: Box<[Block]>,
    /// Bits currently set, counted exactly from the `fetch_or` results.
    set_bits: AtomicU64,
}

/// The block a 64-bit half selects among `blocks` (a 64×64→128-bit multiply, Lemire 2019).
fn block_of(half: u64, blocks: u64) -> usize {
    // The high half of a product by blocks < 2^64 is below blocks, so it fits.
    usize::try_from((u128::from(half) * u128::from(blocks)) >> 64).unwrap_or(usize::MAX)
}

/// The word masks of `per_block` positions stepped from `seed`: position `s >> 55` of the
/// block after each `s ← s · STEP`, i.e. word `s >> 61`, bit `(s >> 55) mod 64`.
fn masks(seed: u64, per_block: u32) -> [u64; BLOCK_WORDS] {
    let mut out = [0u64; BLOCK_WORDS];
    let mut s = seed;
    for _ in 0..per_block {
        s = s.wrapping_mul(STEP);
        let word = usize::try_from(s >> 61).unwrap_or(0);
        if let Some(m) = out.get_mut(word) {
            *m |= 1u64 << ((s >> 55) & 63);
        }
    }
    out
}

/// The two probes of a 16-byte id in a filter of `blocks` blocks with `k` bits per key
/// (spec/revocation.md, "Hashing"): `h1 = id[0..8]`, `h2 = id[8..16]` little-endian; the first
/// block from `h1` with positions stepped from `h2`, the second from `h2` with positions stepped from
/// `h1`, so each block's positions are independent of which block it is.
///
/// The ids are uniform random 128-bit values drawn by the server, so their halves already are
/// independent uniform hashes.
pub(crate) fn probes(id: &[u8; 16], blocks: u64, k: u32) -> [Probe; 2] {
    let [h1, h2] = halves(id);
    [
        (block_of(h1, blocks), masks(h2, k / 2)),
        (block_of(h2, blocks), masks(h1, k / 2)),
    ]
}

/// `h1 = id[0..8]` and `h2 = id[8..16]`, little-endian.
fn halves(id: &[u8; 16]) -> [u64; 2] {
    let (lo, hi) = id.split_at(8);
    [lo, hi].map(|half| u64::from_le_bytes(half.try_into().unwrap_or([0; 8])))
}

/// Whether every bit of `masks` is set in `words` (one block's words, however stored).
pub(crate) fn block_has(words: impl Iterator<Item = u64>, masks: &[u64; BLOCK_WORDS]) -> bool {
    words.zip(masks).fold(true, |all, (w, &m)| all & (w & m == m))
}

impl Filter {
    /// An empty filter.
    pub(crate) fn new(geometry: Geometry) -> Self {
        let blocks = geometry.words / BLOCK_WORDS;
        Self {
            geometry,
            blocks: (0..blocks)
                .map(|_| Block(std::array::from_fn(|_| AtomicU64::new(0))))
                .collect(),
            set_bits: AtomicU64::new(0),
        }
    }

    /// The filter's shape.
    pub(crate) fn geometry(&self) -> Geometry {
        self.geometry
    }

    fn probes(&self, id: &[u8; 16]) -> [Probe; 2] {
        probes(id, self.geometry.blocks(), self.geometry.k)
    }

    /// Sets the id's bits. Returns whether the filter is now at its fill limit (sealed).
    pub(crate) fn insert(&self, id: &[u8; 16]) -> bool {
        let mut fresh = 0u64;
        for (block, masks) in self.probes(id) {
            let Some(b) = self.blocks.get(block) else { continue };
            for (w, &m) in b.0.iter().zip(&masks).filter(|(_, &m)| m != 0) {
                // Release pairs with the Acquire loads of `contains`.
                let old = w.fetch_or(m, Ordering::Release);
                fresh += u64::from((m & !old).count_ones());
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
    /// The first block of both ids is read first, without a branch between them, so the two cache
    /// misses overlap; an absent id fails there with probability about 1 − 2^-11, and only
    /// an id that passes has its second block computed and read (a second line).
    pub(crate) fn contains_either(&self, a: &[u8; 16], b: &[u8; 16]) -> bool {
        let ([a1, a2], [b1, b2]) = (halves(a), halves(b));
        let (live_a, live_b) = (self.has_bits(a1, a2), self.has_bits(b1, b2));
        (live_a && self.has_bits(a2, a1)) || (live_b && self.has_bits(b2, b1))
    }

    /// Whether the bits stepped from `seed` are all set in the block `chooser` selects: the
    /// read path of [`probes`], testing each bit where it lies (no mask array), without a
    /// branch, so the block's one cache miss is all it waits for.
    fn has_bits(&self, chooser: u64, seed: u64) -> bool {
        let Some(block) = self.blocks.get(block_of(chooser, self.geometry.blocks())) else {
            return false;
        };
        let (mut s, mut all) = (seed, u64::MAX);
        for _ in 0..self.geometry.k / 2 {
            s = s.wrapping_mul(STEP);
            // s >> 61 < 8: always a word of the block.
            let word = block.0.get(usize::try_from(s >> 61).unwrap_or(0));
            all &= word.map_or(0, |w| w.load(Ordering::Acquire) >> ((s >> 55) & 63));
        }
        all & 1 == 1
    }

    /// Whether the fill limit has been reached: new inserts go to the next filter.
    pub(crate) fn is_sealed(&self) -> bool {
        self.set_bits.load(Ordering::Relaxed) >= self.geometry.limit
    }

    /// ORs little-endian words into this filter (a merge). Returns whether it is now sealed.
    /// The caller has checked the length.
    pub(crate) fn or_words(&self, other: impl Iterator<Item = u64>) -> bool {
        let mut fresh = 0u64;
        for (w, v) in self.atomic_words().zip(other) {
            let old = w.fetch_or(v, Ordering::Release);
            fresh += u64::from((v & !old).count_ones());
        }
        self.add_set_bits(fresh)
    }

    fn atomic_words(&self) -> impl Iterator<Item = &AtomicU64> + '_ {
        self.blocks.iter().flat_map(|b| b.0.iter())
    }

    /// The words as they are now, block 0 word 0 first (for snapshots).
    pub(crate) fn words(&self) -> impl Iterator<Item = u64> + '_ {
        self.atomic_words().map(|w| w.load(Ordering::Acquire))
    }

    /// Bits set.
    pub(crate) fn set_bits(&self) -> u64 {
        self.set_bits.load(Ordering::Relaxed)
    }

    /// Estimated distinct keys inserted, from the fill (after Swamidass & Baldi 2007, for
    /// blocks): with `λ` keys per block on average (Poisson), each drawing `h = k/2` of its
    /// 512 bits, a bit is clear with probability `exp(−λ (1 − (511/512)^h))`, so a fraction
    /// `X/m` set gives `λ`, and `n = λ · blocks / 2` (two blocks per key). Exact enough for a
    /// hint and independent of merge order.
    pub(crate) fn estimated_len(&self) -> f64 {
        let m = self.geometry.bits() as f64;
        let x = (self.set_bits() as f64).min(m - 1.0);
        let per_block = i32::try_from(self.geometry.k / 2).unwrap_or(i32::MAX);
        let bits_per_key_and_block = 1.0 - (511.0f64 / 512.0).powi(per_block);
        let keys_per_block = -(1.0 - x / m).ln() / bits_per_key_and_block;
        keys_per_block * self.geometry.blocks() as f64 / 2.0
    }

    /// Current false-positive probability of one probe of a random id, from the fill of every
    /// block: `(mean over blocks of (x_b / 512)^(k/2))²` for `x_b` set bits in block `b`. It
    /// reads the whole filter, and sees blocks that chosen keys overfilled, which the total
    /// fill alone would not show.
    pub(crate) fn false_positive_estimate(&self) -> f64 {
        let per_block = i32::try_from(self.geometry.k / 2).unwrap_or(i32::MAX);
        let sum: f64 = self
            .blocks
            .iter()
            .map(|b| {
                let x: u32 = b.0.iter().map(|w| w.load(Ordering::Relaxed).count_ones()).sum();
                (f64::from(x) / 512.0).powi(per_block)
            })
            .sum();
        let mean = sum / (self.blocks.len().max(1) as f64);
        mean * mean
    }

    /// The false-positive probability of one probe of a random id if the keys inserted so
    /// far were random: the Poisson model of block loads (Putze, Sanders & Singler 2007) at the
    /// load the total fill implies. Constant time (a short sum), for the insert path; blind to
    /// chosen keys that overfill some blocks, which [`false_positive_estimate`] sees.
    ///
    /// [`false_positive_estimate`]: Self::false_positive_estimate
    pub(crate) fn false_positive_model(&self) -> f64 {
        let m = self.geometry.bits() as f64;
        let fill = (self.set_bits() as f64 / m).min(1.0);
        if fill >= 1.0 {
            return 1.0;
        }
        let per_block = i32::try_from(self.geometry.k / 2).unwrap_or(i32::MAX);
        let q = (511.0f64 / 512.0).powi(per_block);
        let lambda = -(1.0 - fill).ln() / (1.0 - q);
        // P(J = j) for J ~ Poisson(λ), times P(a probe's bits are all set | j keys).
        let (mut p, mut sum) = ((-lambda).exp(), 0.0);
        let terms = (lambda + 12.0 * lambda.sqrt() + 30.0).min(5000.0);
        let mut j = 0.0f64;
        while j <= terms {
            let set = 1.0 - q.powf(j);
            sum += p * set.powi(per_block);
            j += 1.0;
            p *= lambda / j;
        }
        sum * sum
    }

    /// Heap bytes of the bit array.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.blocks.len().saturating_mul(std::mem::size_of::<Block>())
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
    fn blocks_are_cache_lines() {
        assert_eq!(std::mem::size_of::<Block>(), 64);
        assert_eq!(std::mem::align_of::<Block>(), 64);
    }

    #[test]
    fn probes_are_in_range_and_deterministic() {
        let id = [0xffu8; 16];
        let p = probes(&id, 1000, 14);
        assert!(p.iter().all(|(b, _)| *b < 1000));
        let bits: u32 = p.iter().flat_map(|(_, m)| m).map(|m| m.count_ones()).sum();
        assert!((1..=14).contains(&bits));
        assert_eq!(p, probes(&id, 1000, 14));
    }

    #[test]
    fn probes_follow_the_spec() {
        // spec/revocation.md, "Hashing", by hand for h1 = 1, h2 = 2 and 4 blocks: both select
        // block 0 (1·4 >> 64 = 0); A steps from 2, B from 1, one bit each (k = 2).
        let mut id = [0u8; 16];
        id[0] = 1;
        id[8] = 2;
        let [(a, ma), (b, mb)] = probes(&id, 4, 2);
        assert_eq!((a, b), (0, 0));
        let s = 2u64.wrapping_mul(STEP);
        assert_eq!(ma[(s >> 61) as usize], 1 << ((s >> 55) & 63));
        let s = STEP;
        assert_eq!(mb[(s >> 61) as usize], 1 << ((s >> 55) & 63));
        // A half of all ones selects the last block.
        assert_eq!(block_of(u64::MAX, 4), 3);
    }

    #[test]
    fn insert_then_contains_and_counts_bits() {
        let g = Geometry {
            k: 10,
            words: 32,
            limit: 200,
        };
        let f = Filter::new(g);
        let id = *b"0123456789abcdef";
        assert!(!f.contains(&id));
        f.insert(&id);
        assert!(f.contains(&id));
        assert!(f.contains_either(&[0; 16], &id));
        let counted: u32 = f.words().map(u64::count_ones).sum();
        assert_eq!(u64::from(counted), f.set_bits());
        assert!((1..=10).contains(&counted));
        f.insert(&id);
        assert_eq!(u64::from(counted), f.set_bits());
        assert_eq!(f.words().count(), 32);
        assert_eq!(f.memory_bytes(), 256);
    }

    #[test]
    fn estimates_follow_the_fill() {
        let g = Geometry {
            k: 20,
            words: 8 * 1024,
            limit: u64::MAX,
        };
        let f = Filter::new(g);
        assert_eq!(f.false_positive_estimate(), 0.0);
        let mut x = 7u64;
        for _ in 0..10_000 {
            let mut id = [0u8; 16];
            for half in id.chunks_exact_mut(8) {
                x = x
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                half.copy_from_slice(&(x ^ (x >> 29)).to_le_bytes());
            }
            f.insert(&id);
        }
        let n = f.estimated_len();
        assert!((9_800.0..10_200.0).contains(&n), "{n}");
        let fp = f.false_positive_estimate();
        assert!(fp > 0.0 && fp < 1e-3, "{fp}");
    }
}
