//! Filter configuration and the geometry (bits, hash count, fill limit) derived from it.

use std::time::Duration;

use crate::error::{ConfigError, FilterError};

/// Most filters a generation grows to. The last keeps absorbing inserts once sealed (a
/// revocation is never dropped: fail closed), so its false-positive rate then rises; the
/// pressure alarm fires long before (spec/revocation.md, "Growth").
pub(crate) const MAX_FILTERS: usize = 8;
/// Largest accepted capacity per generation (2^28 entries, about 1 GiB of bits at 1e-6).
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
    /// Memory per generation is about `capacity × 1.44 × ⌈log2(2 / rate)⌉` bits, allocated
    /// when the generation receives its first revocation.
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

    /// Highest false-positive rate of one probe (one id looked up in one generation), however
    /// far past capacity the generation grows. A false positive logs a valid session out.
    /// The filters meet the power of two `2^(1 − k0)` at or below it, where
    /// `k0 = ⌈log2(2 / rate)⌉` is the first filter's hash count (spec/revocation.md,
    /// "Sizing"): 1e-6 gives `k0` = 21 and a bound of 9.5e-7. Accepted: 1e-12 to 0.1.
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
        let k0 = base_hashes(p).ok_or(FilterError::FalsePositiveRate)?;
        let mut out = [Geometry::EMPTY; MAX_FILTERS];
        for (i, g) in out.iter_mut().enumerate() {
            *g = Geometry::for_filter(self.capacity, k0, i).ok_or(FilterError::Capacity)?;
        }
        Ok(out)
    }
}

/// 1/ln 2 rounded up to nine decimals, as a fraction. Sizing is integer arithmetic on it, so
/// every implementation derives the same geometry bit for bit (spec/revocation.md, "Sizing").
const INV_LN2: (u128, u128) = (1_442_695_041, 1_000_000_000);

/// The fixed shape of one filter: every node derives the same from the same config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Geometry {
    /// Hash functions (bits set per key).
    pub(crate) k: u32,
    /// Length in 64-bit words (m = 64 × words bits).
    pub(crate) words: usize,
    /// Set bits at which the filter is sealed: half the bits, so `(limit / m)^k = 2^-k`.
    pub(crate) limit: u64,
}

impl Geometry {
    const EMPTY: Self = Self {
        k: 0,
        words: 0,
        limit: 0,
    };

    /// Filter `i` of a generation (spec/revocation.md, "Sizing"): capacity `n·2^i`, `k0 + i`
    /// positions per key, sealed at half full, so its rate is at most `2^-(k0+i)` and the rates
    /// of all filters sum to less than `2^(1-k0)`, which is at most the target.
    fn for_filter(capacity: usize, k0: u32, i: usize) -> Option<Self> {
        let shift = u32::try_from(i).ok()?;
        let n = u128::try_from(capacity).ok()?.checked_shl(shift)?;
        // Sized for n + 2·⌈√n⌉ keys: the set bits after n random keys vary by about
        // 0.26·√n keys' worth, so a random load of n keys does not seal early (> 7σ).
        let root = n.isqrt();
        let keys = n + 2 * if root * root == n { root } else { root + 1 };
        let k = k0.checked_add(shift)?;
        // m = k·N / ln 2 makes the expected fill after N keys 1 − e^(−ln 2) = 1/2.
        let bits = (u128::from(k) * keys * INV_LN2.0).div_ceil(INV_LN2.1);
        let words = bits.div_ceil(64).max(1);
        Some(Self {
            k,
            words: usize::try_from(words).ok()?,
            limit: u64::try_from(words).ok()?.checked_mul(32)?,
        })
    }

    /// Bits in the filter.
    pub(crate) fn bits(&self) -> u64 {
        (self.words as u64).saturating_mul(64)
    }
}

/// `k0 = ⌈log2(2 / p)⌉` computed exactly: the smallest `k` with `p · 2^k ≥ 2`. Doubling a
/// binary float is exact, so no rounding of `log2` can make two implementations differ.
fn base_hashes(p: f64) -> Option<u32> {
    let (mut scaled, mut k) = (p, 0u32);
    while scaled < 2.0 {
        scaled *= 2.0;
        k += 1;
        if k > 64 {
            return None;
        }
    }
    Some(k)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn default_geometry_is_near_optimal() {
        let g = FilterConfig::default()
            .with_capacity(1_000_000)
            .geometries()
            .unwrap();
        assert_eq!(g[0].k, 21);
        let bits_per_entry = g[0].bits() as f64 / 1e6;
        assert!((30.0..30.5).contains(&bits_per_entry), "{bits_per_entry}");
        assert_eq!(2 * g[0].limit, g[0].bits());
        assert!(0.5f64.powi(21) <= 5e-7);
        assert_eq!(g[1].k, 22);
        assert!(g[1].words > 2 * g[0].words);
    }

    #[test]
    fn geometry_of_the_defaults_is_the_spec_table() {
        // spec/revocation.md, "Sizing": (k, words, limit) of filters 0 to 2.
        let table = [
            (100_000, [(21, 47_639), (22, 99_630), (23, 208_044)]),
            (1_000_000, [(21, 474_332), (22, 993_257), (23, 2_075_948)]),
        ];
        for (capacity, rows) in table {
            let g = FilterConfig::default()
                .with_capacity(capacity)
                .geometries()
                .unwrap();
            for (i, (k, words)) in rows.into_iter().enumerate() {
                assert_eq!((g[i].k, g[i].words, g[i].limit), (k, words, 32 * words as u64));
            }
        }
    }

    #[test]
    fn base_hashes_is_exact_at_powers_of_two() {
        // p = 2^-10: p·2^11 = 2 exactly, so k0 = 11 (the bound 2^(1-11) equals p).
        assert_eq!(base_hashes(1.0 / 1024.0), Some(11));
        assert_eq!(base_hashes(1e-6), Some(21));
        assert_eq!(base_hashes(1e-3), Some(11));
        assert_eq!(base_hashes(0.1), Some(5));
        assert_eq!(base_hashes(1e-12), Some(41));
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
