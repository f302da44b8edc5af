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
    /// Memory per generation is about `capacity × 1.44 × log2(2 / rate)` bits, allocated when
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

    /// Highest false-positive rate of one probe (one id looked up in one generation), however
    /// far past capacity the generation grows. A false positive logs a valid session out.
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
        let mut out = [Geometry::EMPTY; MAX_FILTERS];
        for (i, g) in out.iter_mut().enumerate() {
            *g = Geometry::for_filter(self.capacity, p, i).ok_or(FilterError::Capacity)?;
        }
        Ok(out)
    }
}

/// The fixed shape of one filter: every node derives the same from the same config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Geometry {
    /// Hash functions (bits set per key).
    pub(crate) k: u32,
    /// Length in 64-bit words (m = 64 × words bits).
    pub(crate) words: usize,
    /// Set bits at which the filter is sealed: (limit / m)^k ≤ the filter's rate.
    pub(crate) limit: u64,
}

impl Geometry {
    const EMPTY: Self = Self {
        k: 0,
        words: 0,
        limit: 0,
    };

    /// Filter `i` of a generation (spec/revocation.md, "Sizing"): capacity `n·2^i`, rate
    /// `P/2 · 2^-i`, so the rates of all filters sum to less than `P`.
    fn for_filter(capacity: usize, target: f64, i: usize) -> Option<Self> {
        let shift = u32::try_from(i).ok()?;
        let n = (capacity as f64) * f64::from(2u32.checked_pow(shift)?);
        // Sized for n + 2·sqrt(n) keys: the set bits after n random keys vary by about
        // 0.26·sqrt(n) keys' worth, so a random load of n keys does not seal early (> 7σ).
        let n = n + 2.0 * n.sqrt();
        let rate = target / 2.0 / f64::from(2u32.checked_pow(shift)?);
        let k_real = (1.0 / rate).log2().ceil();
        let fill = rate.powf(1.0 / k_real);
        let bits = (k_real * n / -(1.0 - fill).ln()).ceil();
        let words = float_to_u64((bits / 64.0).ceil())?.max(1);
        let m = words.checked_mul(64)?;
        let limit = float_to_u64((fill * m as f64).floor())?;
        Some(Self {
            k: u32::try_from(float_to_u64(k_real)?).ok()?,
            words: usize::try_from(words).ok()?,
            limit,
        })
    }

    /// Bits in the filter.
    pub(crate) fn bits(&self) -> u64 {
        (self.words as u64).saturating_mul(64)
    }
}

/// A non-negative finite float below 2^53 as an integer (no silent truncation).
fn float_to_u64(x: f64) -> Option<u64> {
    if x.is_finite() && (0.0..9.007_199_254_740_992e15).contains(&x) {
        // In range and integral after ceil/floor: the conversion is exact.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Some(x as u64)
    } else {
        None
    }
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
        assert!((30.0..30.3).contains(&bits_per_entry), "{bits_per_entry}");
        let fill = g[0].limit as f64 / g[0].bits() as f64;
        assert!(fill.powi(21) <= 5e-7);
        assert_eq!(g[1].k, 22);
        assert!(g[1].words > 2 * g[0].words);
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
