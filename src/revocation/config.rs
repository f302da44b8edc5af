//! Filter configuration and the geometry (bits, hash count, fill limit) derived from it.

use std::time::Duration;

use crate::error::{ConfigError, FilterError};

/// Most filters a generation grows to. The last keeps absorbing inserts once sealed (a
/// revocation is never dropped: fail closed), so its false-positive rate then rises; the
/// pressure alarm fires long before (spec/revocation.md, "Growth").
pub(crate) const MAX_FILTERS: usize = 8;
/// Largest accepted capacity per generation (2^28 entries, about 1.1 GiB of bits at 1e-6).
const MAX_CAPACITY: usize = 1 << 28;

/// How a [`RevocationSet`](super::RevocationSet) sizes its filters and how long it keeps state.
///
/// ```
/// use std::time::Duration;
/// use sealed_session::revocation::FilterConfig;
///
/// let config = FilterConfig::default()
///     .with_capacity(1_000_000)
///     .with_false_positive_rate(1e-6)
///     .with_max_lifetime(Duration::from_secs(12 * 3600));
/// # let _ = config;
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FilterConfig {
    capacity: usize,
    false_positive_rate: f64,
    max_lifetime: Duration,
    epochs_per_generation: u32,
}

impl Default for FilterConfig {
    /// Capacity 100,000 revocations per generation, false-positive rate 1e-6, longest session
    /// 24 hours, one hour-epoch per generation.
    fn default() -> Self {
        Self {
            capacity: 100_000,
            false_positive_rate: 1e-6,
            max_lifetime: Duration::from_secs(24 * 3600),
            epochs_per_generation: 1,
        }
    }
}

impl FilterConfig {
    /// Revocations one generation holds at the target rate before it grows a second filter.
    /// Memory per generation is about `capacity × c` bits, with `c` from the sizing table of
    /// spec/revocation.md (34.8 bits at the default rate: 4.16 MiB per million), allocated when
    /// the generation receives its first revocation.
    ///
    /// ```
    /// # use sealed_session::revocation::FilterConfig;
    /// let config = FilterConfig::default().with_capacity(1_000_000);
    /// # let _ = config;
    /// ```
    #[must_use]
    pub fn with_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// Highest false-positive rate of one verify (a session id and a token id looked up in one
    /// generation), however far past capacity the generation grows. A false positive logs a
    /// valid session out. The filters meet the power of two `2^(2 − j)` at or below it, where
    /// `j = ⌈log2(4 / rate)⌉` (spec/revocation.md, "Sizing"): 1e-6 gives `j` = 22, a bound of
    /// 9.5e-7 per verify and 4.8e-7 at capacity. Accepted: 1e-12 to 0.1.
    ///
    /// ```
    /// # use sealed_session::revocation::FilterConfig;
    /// let config = FilterConfig::default().with_false_positive_rate(1e-7);
    /// # let _ = config;
    /// ```
    #[must_use]
    pub fn with_false_positive_rate(mut self, rate: f64) -> Self {
        self.false_positive_rate = rate;
        self
    }

    /// Longest absolute session lifetime the manager allows: subject cutoffs older than this
    /// (plus the 60 s leeway) can no longer match a valid token and are dropped by `expire`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use sealed_session::revocation::FilterConfig;
    /// let config = FilterConfig::default().with_max_lifetime(Duration::from_secs(8 * 3600));
    /// # let _ = config;
    /// ```
    #[must_use]
    pub fn with_max_lifetime(mut self, lifetime: Duration) -> Self {
        self.max_lifetime = lifetime;
        self
    }

    /// Groups this many consecutive hour-epochs into one generation (default 1). Fewer, larger
    /// generations mean fewer filters allocated, but an entry then outlives its tokens by up to
    /// `n` hours. Every node that merges snapshots must use the same value.
    ///
    /// ```
    /// # use sealed_session::revocation::FilterConfig;
    /// let config = FilterConfig::default().with_epochs_per_generation(6);
    /// # let _ = config;
    /// ```
    #[must_use]
    pub fn with_epochs_per_generation(mut self, epochs: u32) -> Self {
        self.epochs_per_generation = epochs;
        self
    }

    /// Revocations per generation before growth.
    ///
    /// ```
    /// # use sealed_session::revocation::FilterConfig;
    /// assert_eq!(FilterConfig::default().capacity(), 100_000);
    /// assert_eq!(FilterConfig::default().with_capacity(5_000).capacity(), 5_000);
    /// ```
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The false-positive target of one probe.
    ///
    /// ```
    /// # use sealed_session::revocation::FilterConfig;
    /// assert_eq!(FilterConfig::default().false_positive_rate(), 1e-6);
    /// ```
    pub fn false_positive_rate(&self) -> f64 {
        self.false_positive_rate
    }

    /// The longest session lifetime.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use sealed_session::revocation::FilterConfig;
    /// assert_eq!(FilterConfig::default().max_lifetime(), Duration::from_secs(24 * 3600));
    /// ```
    pub fn max_lifetime(&self) -> Duration {
        self.max_lifetime
    }

    /// Hour-epochs per generation.
    ///
    /// ```
    /// # use sealed_session::revocation::FilterConfig;
    /// assert_eq!(FilterConfig::default().epochs_per_generation(), 1);
    /// ```
    pub fn epochs_per_generation(&self) -> u32 {
        self.epochs_per_generation
    }

    /// Checks every setting and derives the geometry of each filter a generation can grow.
    pub(crate) fn geometries(&self) -> Result<[Geometry; MAX_FILTERS], ConfigError> {
        if self.capacity == 0 || self.capacity > MAX_CAPACITY {
            return Err(FilterError::Capacity.into());
        }
        let p = self.false_positive_rate;
        if !(1e-12..=0.1).contains(&p) {
            return Err(FilterError::FalsePositiveRate.into());
        }
        if self.max_lifetime.as_secs() == 0 {
            return Err(FilterError::MaxLifetime.into());
        }
        if !(1..=8760).contains(&self.epochs_per_generation) {
            return Err(FilterError::EpochsPerGeneration.into());
        }
        let j = target_exponent(p).ok_or(FilterError::FalsePositiveRate)?;
        let mut out = [Geometry::EMPTY; MAX_FILTERS];
        for (i, g) in out.iter_mut().enumerate() {
            *g = Geometry::for_filter(self.capacity, j, i).ok_or(FilterError::Capacity)?;
        }
        Ok(out)
    }
}

/// Smallest and largest row of [`ROWS`]: `j` is 6 to 42 over the accepted rates, and a
/// generation's filter `i < 8` uses row `j + i`.
const FIRST_ROW: u32 = 6;
const LAST_ROW: u32 = 49;

/// The blocked filter's shape for a per-id false-positive target of `2^-t`, row `t − 6`
/// (spec/revocation.md, "Sizing"): `(h, c16, phi)` = bits set per key in each of its two
/// 512-bit blocks, bits per key in sixteenths, and the seal limit as a fraction of the bits in
/// 65536ths. Computed (offline, `examples/gen-snapshot-vectors/`) from the Poisson model of
/// block loads of Putze, Sanders & Singler, "Cache-, hash- and space-efficient Bloom filters"
/// (WEA 2007): `c16` is the smallest with `FP(h, c16/16) ≤ 2^-t` over `h`, and `phi` the
/// expected fill at that load, rounded down. Normative: another implementation uses this table,
/// so both derive the same geometry with integer arithmetic only.
#[rustfmt::skip]
const ROWS: [(u32, u64, u64); (LAST_ROW - FIRST_ROW + 1) as usize] = [
    (3, 140, 32479), (3, 164, 28997), (4, 187, 32416), (4, 211, 29743), (5, 235, 32274),
    (5, 260, 30033), (6, 284, 32093), (6, 310, 30151), (7, 335, 31824), (7, 361, 30170),
    (7, 388, 28619), (8, 414, 30074), (8, 442, 28667), (9, 469, 29901), (9, 498, 28614),
    (10, 527, 29637), (10, 557, 28454), (10, 588, 27324), (11, 618, 28252), (11, 650, 27202),
    (11, 683, 26196), (12, 716, 26983), (12, 750, 26045), (13, 785, 26720), (13, 821, 25818),
    (13, 859, 24928), (14, 896, 25535), (14, 935, 24702), (14, 975, 23902), (15, 1016, 24413),
    (15, 1058, 23645), (15, 1102, 22890), (16, 1146, 23340), (16, 1192, 22617), (16, 1240, 21908),
    (17, 1288, 22295), (17, 1338, 21618), (17, 1389, 20968), (18, 1442, 21292), (18, 1497, 20648),
    (18, 1553, 20032), (18, 1611, 19430), (19, 1670, 19709), (19, 1732, 19119),
];

/// 64-bit words in one 512-bit (cache-line) block.
pub(crate) const BLOCK_WORDS: usize = 8;

/// The fixed shape of one filter: every node derives the same from the same config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Geometry {
    /// Bits set per key: `k / 2` in each of its two blocks.
    pub(crate) k: u32,
    /// Length in 64-bit words, a multiple of 8 (`words / 8` blocks of 512 bits).
    pub(crate) words: usize,
    /// Set bits at which the filter is sealed: the expected fill at its capacity.
    pub(crate) limit: u64,
}

impl Geometry {
    const EMPTY: Self = Self {
        k: 0,
        words: 0,
        limit: 0,
    };

    /// Filter `i` of a generation (spec/revocation.md, "Sizing"): capacity `n·2^i`, table row
    /// `j + i`, so a random id's false-positive probability at its seal is at most
    /// `2^-(j+i)`, and over all filters and both ids of a verify below `2^(2-j)`, at most the
    /// target.
    fn for_filter(capacity: usize, j: u32, i: usize) -> Option<Self> {
        let shift = u32::try_from(i).ok()?;
        let n = u128::try_from(capacity).ok()?.checked_shl(shift)?;
        // Sized for n + 2·⌈√n⌉ keys, so that a random load of n keys does not seal early.
        let root = n.isqrt();
        let keys = n + 2 * if root * root == n { root } else { root + 1 };
        let row = j.checked_add(shift)?.checked_sub(FIRST_ROW)?;
        let &(h, c16, phi) = ROWS.get(usize::try_from(row).ok()?)?;
        // c16/16 bits per key, in blocks of 512 bits: ⌈c16 · N / 8192⌉ blocks.
        let blocks = (u128::from(c16) * keys).div_ceil(8192).max(1);
        let words = blocks.checked_mul(8)?;
        Some(Self {
            k: 2 * h,
            words: usize::try_from(words).ok()?,
            limit: u64::try_from(blocks * u128::from(phi) / 128).ok()?,
        })
    }

    /// Bits in the filter.
    pub(crate) fn bits(&self) -> u64 {
        (self.words as u64).saturating_mul(64)
    }

    /// Blocks of 512 bits.
    pub(crate) fn blocks(&self) -> u64 {
        (self.words / BLOCK_WORDS) as u64
    }
}

/// `j = ⌈log2(4 / p)⌉` computed exactly: the smallest `j` with `p · 2^j ≥ 4`. Doubling a
/// binary float is exact, so no rounding of `log2` can make two implementations differ.
fn target_exponent(p: f64) -> Option<u32> {
    let (mut scaled, mut j) = (p, 0u32);
    while scaled < 4.0 {
        scaled *= 2.0;
        j += 1;
        if j > LAST_ROW {
            return None;
        }
    }
    Some(j)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn default_geometry_fits_the_memory_goal() {
        let g = FilterConfig::default()
            .with_capacity(1_000_000)
            .geometries()
            .unwrap();
        assert_eq!(g[0].k, 20);
        assert_eq!(g[0].words % BLOCK_WORDS, 0);
        let bits_per_entry = g[0].bits() as f64 / 1e6;
        assert!((34.8..35.0).contains(&bits_per_entry), "{bits_per_entry}");
        // ≤ 4.5 MiB per million entries.
        assert!(g[0].bits() / 8 <= 9 << 19, "{}", g[0].bits() / 8);
        // Sealed at the expected fill of 1,002,000 keys (row 22: phi = 28454 / 65536).
        assert_eq!(g[0].limit, g[0].blocks() * 28454 / 128);
        assert_eq!(g[1].k, 20);
        assert!(g[1].words > 2 * g[0].words);
    }

    #[test]
    fn geometry_of_the_defaults_is_the_spec_table() {
        // spec/revocation.md, "Sizing": (k, words, limit) of filters 0 to 2.
        let table = [
            (
                100_000,
                [
                    (20, 54_744, 1_521_177),
                    (20, 115_360, 3_078_219),
                    (22, 242_176, 6_681_598),
                ],
            ),
            (
                1_000_000,
                [
                    (20, 545_040, 15_145_086),
                    (20, 1_150_064, 30_687_840),
                    (22, 2_416_480, 66_670_305),
                ],
            ),
        ];
        for (capacity, rows) in table {
            let g = FilterConfig::default()
                .with_capacity(capacity)
                .geometries()
                .unwrap();
            for (i, expected) in rows.into_iter().enumerate() {
                assert_eq!((g[i].k, g[i].words, g[i].limit), expected, "{capacity} {i}");
            }
        }
    }

    #[test]
    fn rows_tighten_with_the_target() {
        // Each row needs more bits per key than the one before, and fits the snapshot's k byte.
        assert!(ROWS.windows(2).all(|w| w[0].1 < w[1].1));
        assert!(ROWS
            .iter()
            .all(|&(h, _, phi)| (1..=32).contains(&h) && phi < 65536));
    }

    #[test]
    fn target_exponent_is_exact_at_powers_of_two() {
        // p = 2^-10: p·2^12 = 4 exactly, so j = 12 (the bound 2^(2-12) equals p).
        assert_eq!(target_exponent(1.0 / 1024.0), Some(12));
        assert_eq!(target_exponent(1e-6), Some(22));
        assert_eq!(target_exponent(1e-3), Some(12));
        assert_eq!(target_exponent(0.1), Some(6));
        assert_eq!(target_exponent(1e-12), Some(42));
    }

    #[test]
    fn refuses_bad_settings() {
        assert!(FilterConfig::default().with_capacity(0).geometries().is_err());
        assert!(FilterConfig::default()
            .with_false_positive_rate(0.5)
            .geometries()
            .is_err());
        assert!(FilterConfig::default()
            .with_false_positive_rate(f64::NAN)
            .geometries()
            .is_err());
        assert!(FilterConfig::default()
            .with_epochs_per_generation(0)
            .geometries()
            .is_err());
    }
}
