//! Verifier settings: the acceptance window, the length cap, the algorithm allow-list and the
//! replay cache size. Every setter is consuming; [`DpopVerifier::new`](super::DpopVerifier::new)
//! validates the whole, so no setting silently falls back.

use std::time::Duration;

use super::error::DpopConfigError;

/// A JWS signature algorithm this verifier implements (RFC 7518 §3.4, RFC 8037 §3.1).
///
/// ```
/// use sealed_session::dpop::Algorithm;
/// let names: Vec<&str> = Algorithm::ALL.iter().map(|a| a.name()).collect();
/// assert_eq!(names, ["ES256", "EdDSA"]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// ECDSA on P-256 with SHA-256, the 64-byte `r ‖ s` signature of RFC 7518 §3.4.
    Es256,
    /// Ed25519 (`EdDSA` with `crv` `Ed25519`, RFC 8037 §3.1).
    EdDsa,
}

impl Algorithm {
    /// Every algorithm this build implements, in the order of the `algs` parameter.
    ///
    /// ```
    /// use sealed_session::dpop::Algorithm;
    /// assert!(Algorithm::ALL.contains(&Algorithm::Es256));
    /// ```
    pub const ALL: [Self; 2] = [Self::Es256, Self::EdDsa];

    /// The JOSE `alg` value (case-sensitive, RFC 7515 §4.1.1).
    ///
    /// ```
    /// assert_eq!(sealed_session::dpop::Algorithm::EdDsa.name(), "EdDSA");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    const fn bit(self) -> u8 {
        match self {
            Self::Es256 => 1,
            Self::EdDsa => 2,
        }
    }
}

/// Settings of a [`DpopVerifier`](super::DpopVerifier).
///
/// Defaults: proofs up to 4 KiB, `iat` at most 60 s old and 5 s ahead, ES256 and EdDSA, a
/// replay cache of 131,072 proofs (about 8 MB at most).
///
/// ```
/// use std::time::Duration;
/// use sealed_session::dpop::{Algorithm, DpopConfig, DpopVerifier};
/// let config = DpopConfig::default()
///     .with_max_age(Duration::from_secs(30))
///     .with_algorithms(&[Algorithm::Es256]);
/// let verifier = DpopVerifier::new(config)?;
/// assert_eq!(verifier.algs_parameter(), "ES256");
/// # Ok::<(), sealed_session::dpop::DpopConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DpopConfig {
    pub(crate) max_proof_len: usize,
    pub(crate) max_age: Duration,
    pub(crate) max_future: Duration,
    algorithms: u8,
    pub(crate) replay_capacity: usize,
}

impl Default for DpopConfig {
    fn default() -> Self {
        Self {
            // A P-256 proof with a UUID `jti`, a long `htu`, `ath` and `nonce` is about 700
            // characters; 4 KiB leaves room for extension claims and still bounds the work.
            max_proof_len: 4096,
            // A proof is made right before its request (RFC 9449 §4.2): its age is latency
            // plus client clock lag. §11.1 asks for "seconds or minutes"; a minute covers slow
            // links, and the replay cache must remember every proof for the whole window.
            max_age: Duration::from_secs(60),
            // A proof from the future only means a fast client clock, and every second of it
            // extends the life of a captured proof: keep it small.
            max_future: Duration::from_secs(5),
            algorithms: Algorithm::Es256.bit() | Algorithm::EdDsa.bit(),
            // Honest clients stay served through a flood of ~18,000 accepted proofs/s, most of
            // what two cores can verify (benches/dpop.rs; spec/dpop.md §6, "Sizing").
            replay_capacity: 131_072,
        }
    }
}

impl DpopConfig {
    /// The longest `DPoP` header value accepted, in bytes (256 to 65,536). Checked before any
    /// decoding, so an oversized header costs one comparison.
    ///
    /// ```
    /// use sealed_session::dpop::{DpopConfig, DpopVerifier};
    /// let verifier = DpopVerifier::new(DpopConfig::default().with_max_proof_len(2048))?;
    /// # let _ = verifier;
    /// # Ok::<(), sealed_session::dpop::DpopConfigError>(())
    /// ```
    #[must_use]
    pub fn with_max_proof_len(mut self, bytes: usize) -> Self {
        self.max_proof_len = bytes;
        self
    }

    /// How old `iat` may be (1 to 300 s, whole seconds). The replay cache keeps each proof
    /// this long, so a longer window needs a larger cache for the same request rate.
    ///
    /// ```
    /// use std::time::Duration;
    /// use sealed_session::dpop::DpopConfig;
    /// let config = DpopConfig::default().with_max_age(Duration::from_secs(120));
    /// # let _ = config;
    /// ```
    #[must_use]
    pub fn with_max_age(mut self, age: Duration) -> Self {
        self.max_age = age;
        self
    }

    /// How far in the future `iat` may be (0 to 60 s, whole seconds), for client clocks that
    /// run fast.
    ///
    /// ```
    /// use std::time::Duration;
    /// use sealed_session::dpop::DpopConfig;
    /// let config = DpopConfig::default().with_max_future(Duration::from_secs(10));
    /// # let _ = config;
    /// ```
    #[must_use]
    pub fn with_max_future(mut self, skew: Duration) -> Self {
        self.max_future = skew;
        self
    }

    /// The `alg` allow-list (at least one). Anything else, `none` and every MAC or RSA
    /// algorithm included, is refused.
    ///
    /// ```
    /// use sealed_session::dpop::{Algorithm, DpopConfig};
    /// let config = DpopConfig::default().with_algorithms(&[Algorithm::EdDsa]);
    /// # let _ = config;
    /// ```
    #[must_use]
    pub fn with_algorithms(mut self, algorithms: &[Algorithm]) -> Self {
        self.algorithms = algorithms.iter().fold(0, |set, a| set | a.bit());
        self
    }

    /// How many accepted proofs the replay cache remembers (1 to 2^22; about 64 bytes each
    /// at most). When full it forgets the oldest and refuses proofs that old
    /// (`spec/dpop.md` §6): memory stays fixed whatever the load.
    ///
    /// # Warning
    /// Size it for the busiest node: `accepted proofs per second × (max age + max future)`.
    /// Below that, a burst narrows the window of proofs that still verify.
    ///
    /// ```
    /// use sealed_session::dpop::DpopConfig;
    /// let config = DpopConfig::default().with_replay_capacity(1 << 18);
    /// # let _ = config;
    /// ```
    #[must_use]
    pub fn with_replay_capacity(mut self, entries: usize) -> Self {
        self.replay_capacity = entries;
        self
    }

    pub(crate) fn allows(&self, algorithm: Algorithm) -> bool {
        self.algorithms & algorithm.bit() != 0
    }

    pub(crate) fn validate(&self) -> Result<(), DpopConfigError> {
        if !(256..=65_536).contains(&self.max_proof_len) {
            return Err(DpopConfigError::MaxProofLen);
        }
        if !(1..=300).contains(&self.max_age.as_secs()) {
            return Err(DpopConfigError::MaxAge);
        }
        if self.max_future.as_secs() > 60 {
            return Err(DpopConfigError::MaxFuture);
        }
        if !(1..=1 << 22).contains(&self.replay_capacity) {
            return Err(DpopConfigError::ReplayCapacity);
        }
        if self.algorithms == 0 {
            return Err(DpopConfigError::NoAlgorithm);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn defaults_validate_and_bounds_are_enforced() {
        assert_eq!(DpopConfig::default().validate(), Ok(()));
        let d = DpopConfig::default;
        let secs = Duration::from_secs;
        assert_eq!(
            d().with_max_proof_len(255).validate(),
            Err(DpopConfigError::MaxProofLen)
        );
        assert_eq!(
            d().with_max_proof_len(65_537).validate(),
            Err(DpopConfigError::MaxProofLen)
        );
        assert_eq!(d().with_max_age(secs(0)).validate(), Err(DpopConfigError::MaxAge));
        assert_eq!(
            d().with_max_age(secs(301)).validate(),
            Err(DpopConfigError::MaxAge)
        );
        assert_eq!(
            d().with_max_future(secs(61)).validate(),
            Err(DpopConfigError::MaxFuture)
        );
        assert_eq!(
            d().with_replay_capacity(0).validate(),
            Err(DpopConfigError::ReplayCapacity)
        );
        assert_eq!(
            d().with_replay_capacity((1 << 22) + 1).validate(),
            Err(DpopConfigError::ReplayCapacity)
        );
        assert_eq!(
            d().with_algorithms(&[]).validate(),
            Err(DpopConfigError::NoAlgorithm)
        );
    }

    #[test]
    fn algorithm_names_are_case_sensitive() {
        assert_eq!(Algorithm::from_name("ES256"), Some(Algorithm::Es256));
        assert_eq!(Algorithm::from_name("EdDSA"), Some(Algorithm::EdDsa));
        for refused in ["es256", "EDDSA", "none", "HS256", "RS256", "ES384", "PS256", ""] {
            assert_eq!(Algorithm::from_name(refused), None, "{refused}");
        }
    }

    #[test]
    fn the_allow_list_is_exact() {
        let config = DpopConfig::default().with_algorithms(&[Algorithm::EdDsa]);
        assert!(config.allows(Algorithm::EdDsa));
        assert!(!config.allows(Algorithm::Es256));
    }
}
