//! Session policy: lifetimes, rotation, grace, binding and leeway, with documented defaults.

use std::time::Duration;

use crate::error::{ConfigError, PolicyError};
use crate::session::binding::Binding;

/// Longest grace window a rotated-away token may keep working.
pub(crate) const MAX_GRACE: Duration = Duration::from_secs(30);

/// When `verify` replaces a token with a fresh one (rolling rotation).
///
/// ```
/// use std::time::Duration;
/// use sealed_session::{Policy, Rotation};
/// // An API whose clients never see Set-Cookie: no rolling rotation.
/// Policy::default().with_rotation(Rotation::Off).validate()?;
/// Policy::default().with_rotation(Rotation::After(Duration::from_secs(120))).validate()?;
/// assert!(Policy::default().with_rotation(Rotation::After(Duration::ZERO)).validate().is_err());
/// # Ok::<(), sealed_session::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rotation {
    /// Only privilege changes mint new tokens.
    Off,
    /// Replace a token once it is this old (stateless "every N": age, not request count).
    After(Duration),
    /// Replace the token on every verified request (every request then adds a revocation).
    EveryRequest,
}

/// What a client-binding mismatch does.
///
/// ```
/// use sealed_session::{MismatchAction, Policy};
/// // Mobile clients change networks: refuse the request, but keep the session alive.
/// let policy = Policy::default().with_mismatch_action(MismatchAction::Reject);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MismatchAction {
    /// Refuse the request.
    Reject,
    /// Refuse the request and revoke the whole session: one identifier seen from two
    /// origins disconnects every user of it (CAPEC-61).
    RejectAndRevoke,
}

/// How sessions live and die. Built with consuming `with_*` setters; invalid combinations are
/// refused by [`Policy::validate`] when the manager is built.
///
/// ```
/// use std::time::Duration;
/// use sealed_session::{Policy, Rotation};
/// let policy = Policy::default()
///     .with_token_ttl(Duration::from_secs(15 * 60))
///     .with_rotation(Rotation::After(Duration::from_secs(60)));
/// policy.validate()?;
/// # Ok::<(), sealed_session::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Policy {
    pub(crate) token_ttl: Duration,
    pub(crate) absolute_lifetime: Duration,
    pub(crate) elevated_ttl: Duration,
    pub(crate) rotation: Rotation,
    pub(crate) grace: Duration,
    pub(crate) binding: Binding,
    pub(crate) mismatch: MismatchAction,
    pub(crate) leeway: Duration,
}

impl Default for Policy {
    /// Token TTL 30 min, absolute lifetime 12 h, elevated privilege 5 min, rotation after
    /// 5 min, grace 5 s, binding to IP prefix and User-Agent, mismatch revokes, leeway 5 s.
    fn default() -> Self {
        Self {
            token_ttl: Duration::from_secs(30 * 60),
            absolute_lifetime: Duration::from_secs(12 * 3600),
            elevated_ttl: Duration::from_secs(5 * 60),
            rotation: Rotation::After(Duration::from_secs(5 * 60)),
            grace: Duration::from_secs(5),
            binding: Binding::ip_and_user_agent(),
            mismatch: MismatchAction::RejectAndRevoke,
            leeway: Duration::from_secs(5),
        }
    }
}

impl Policy {
    /// Idle timeout: a token not replaced within this time stops opening.
    ///
    /// ```
    /// # use std::time::Duration; use sealed_session::Policy;
    /// let p = Policy::default().with_token_ttl(Duration::from_secs(600));
    /// ```
    #[must_use]
    pub fn with_token_ttl(mut self, ttl: Duration) -> Self {
        self.token_ttl = ttl;
        self
    }

    /// Absolute session lifetime from login, however often tokens rotate.
    ///
    /// ```
    /// # use std::time::Duration; use sealed_session::Policy;
    /// let p = Policy::default().with_absolute_lifetime(Duration::from_secs(8 * 3600));
    /// ```
    #[must_use]
    pub fn with_absolute_lifetime(mut self, lifetime: Duration) -> Self {
        self.absolute_lifetime = lifetime;
        self
    }

    /// How long elevated privilege lasts after re-authentication; then the session falls
    /// back to authenticated (a new token is minted).
    ///
    /// ```
    /// # use std::time::Duration; use sealed_session::Policy;
    /// let p = Policy::default().with_elevated_ttl(Duration::from_secs(120));
    /// ```
    #[must_use]
    pub fn with_elevated_ttl(mut self, ttl: Duration) -> Self {
        self.elevated_ttl = ttl;
        self
    }

    /// Rolling rotation.
    ///
    /// ```
    /// # use sealed_session::{Policy, Rotation};
    /// let p = Policy::default().with_rotation(Rotation::EveryRequest);
    /// ```
    #[must_use]
    pub fn with_rotation(mut self, rotation: Rotation) -> Self {
        self.rotation = rotation;
        self
    }

    /// How long a token replaced by rotation keeps working, for requests already in flight.
    /// Capped at 30 s. Login, elevation, step-down and logout never grant grace.
    ///
    /// # Warning
    /// A longer grace window is a longer replay window for a stolen, rotated-away token.
    ///
    /// ```
    /// # use std::time::Duration; use sealed_session::Policy;
    /// let p = Policy::default().with_grace(Duration::from_secs(2));
    /// ```
    #[must_use]
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Which client properties a token is bound to.
    ///
    /// ```
    /// # use sealed_session::{Binding, Policy};
    /// let p = Policy::default().with_binding(Binding::user_agent());
    /// ```
    #[must_use]
    pub fn with_binding(mut self, binding: Binding) -> Self {
        self.binding = binding;
        self
    }

    /// What a binding mismatch does.
    ///
    /// ```
    /// # use sealed_session::{MismatchAction, Policy};
    /// let p = Policy::default().with_mismatch_action(MismatchAction::Reject);
    /// ```
    #[must_use]
    pub fn with_mismatch_action(mut self, action: MismatchAction) -> Self {
        self.mismatch = action;
        self
    }

    /// Tolerated clock skew between nodes (1 s to 60 s).
    ///
    /// ```
    /// # use std::time::Duration; use sealed_session::Policy;
    /// let p = Policy::default().with_leeway(Duration::from_secs(2));
    /// ```
    #[must_use]
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The idle timeout.
    ///
    /// ```
    /// # use std::time::Duration; use sealed_session::Policy;
    /// assert_eq!(Policy::default().token_ttl(), Duration::from_secs(30 * 60));
    /// ```
    pub fn token_ttl(&self) -> Duration {
        self.token_ttl
    }

    /// The absolute lifetime.
    ///
    /// ```
    /// # use std::time::Duration; use sealed_session::Policy;
    /// assert_eq!(Policy::default().absolute_lifetime(), Duration::from_secs(12 * 3600));
    /// ```
    pub fn absolute_lifetime(&self) -> Duration {
        self.absolute_lifetime
    }

    /// The elevated-privilege lifetime.
    ///
    /// ```
    /// # use std::time::Duration; use sealed_session::Policy;
    /// assert_eq!(Policy::default().elevated_ttl(), Duration::from_secs(5 * 60));
    /// ```
    pub fn elevated_ttl(&self) -> Duration {
        self.elevated_ttl
    }

    /// The binding.
    ///
    /// ```
    /// # use sealed_session::{Binding, Policy};
    /// let policy = Policy::default().with_binding(Binding::user_agent());
    /// assert_eq!(policy.binding(), &Binding::user_agent());
    /// ```
    pub fn binding(&self) -> &Binding {
        &self.binding
    }

    /// Checks the settings fit together.
    ///
    /// # Errors
    /// A zero or inverted lifetime, grace over 30 s, leeway under 1 s or over 60 s, a lifetime over the
    /// 49 days a token's relative times can express.
    ///
    /// ```
    /// # use std::time::Duration; use sealed_session::Policy;
    /// assert!(Policy::default().validate().is_ok());
    /// let inverted = Policy::default().with_absolute_lifetime(Duration::from_secs(60));
    /// assert!(inverted.validate().is_err(), "tokens would outlive the session");
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        let refuse = |e: PolicyError| Err(ConfigError::Policy(e));
        if self.token_ttl.is_zero() || self.elevated_ttl.is_zero() {
            return refuse(PolicyError::ZeroLifetime);
        }
        if self.token_ttl > self.absolute_lifetime || self.elevated_ttl > self.absolute_lifetime {
            return refuse(PolicyError::LifetimeShorterThanTokens);
        }
        if self.absolute_lifetime > Duration::from_secs(u64::from(u32::MAX)) {
            return refuse(PolicyError::LifetimeTooLong);
        }
        if self.grace > MAX_GRACE {
            return refuse(PolicyError::GraceTooLong);
        }
        // Token times have one-second resolution, and a token minted in the second of a
        // cutoff is stamped at the cutoff (up to 1 s ahead): it must open at once.
        if self.leeway > crate::token::MAX_LEEWAY || self.leeway < Duration::from_secs(1) {
            return refuse(PolicyError::Leeway);
        }
        if matches!(self.rotation, Rotation::After(d) if d.is_zero()) {
            return refuse(PolicyError::ZeroRotationAge);
        }
        self.binding.validate()
    }
}
