//! [`SessionManagerBuilder`]: the manager's settings, checked together when it is built.

use std::sync::Arc;
use std::time::Duration;

use super::cache::{VerifiedCache, DEFAULT_CAPACITY};
use super::events::{EventSink, TracingSink};
use super::flood::{FloodDetector, FloodPolicy, SourceLimiter};
use super::manager::SessionManager;
use super::policy::Policy;
use crate::clock::{Clock, SystemClock};
use crate::error::{ConfigError, PolicyError};
use crate::keys::Keys;
use crate::revocation::RevocationStore;
use crate::token::sealer::Sealer;

/// Privilege changes and rotations one source may cause per window by default.
const DEFAULT_TRANSITION_LIMIT: (u32, Duration) = (120, Duration::from_secs(60));

/// Builds a [`SessionManager`] with consuming `with_*` setters.
///
/// ```
/// # use std::{sync::Arc, time::Duration}; use sealed_session::{*, revocation::*};
/// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
/// let manager = SessionManager::builder(KeyRing::generate()?, "app", store)
///     .with_policy(Policy::default().with_token_ttl(Duration::from_secs(600)))
///     .with_events(Arc::new(CollectingSink::new()))
///     .build()?;
/// assert_eq!(manager.policy().token_ttl(), Duration::from_secs(600));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SessionManagerBuilder {
    keys: Keys,
    context: String,
    store: Arc<dyn RevocationStore>,
    policy: Policy,
    events: Arc<dyn EventSink>,
    clock: Arc<dyn Clock>,
    flood: FloodPolicy,
    transition_limit: (u32, Duration),
    cache_capacity: usize,
}

impl SessionManagerBuilder {
    pub(crate) fn new(keys: Keys, context: &str, store: Arc<dyn RevocationStore>) -> Self {
        Self {
            keys,
            context: context.to_owned(),
            store,
            policy: Policy::default(),
            events: Arc::new(TracingSink),
            clock: Arc::new(SystemClock),
            flood: FloodPolicy::default(),
            transition_limit: DEFAULT_TRANSITION_LIMIT,
            cache_capacity: DEFAULT_CAPACITY,
        }
    }
}

impl SessionManagerBuilder {
    /// The session policy (default: [`Policy::default`]).
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*};
    /// let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// let manager = SessionManager::builder(KeyRing::generate()?, "app", store)
    ///     .with_policy(Policy::default().with_binding(Binding::user_agent()))
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Where security events go (default: [`TracingSink`]).
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// let events = Arc::new(CollectingSink::new());
    /// let manager = SessionManager::builder(KeyRing::generate()?, "app", store).with_events(events).build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_events(mut self, events: Arc<dyn EventSink>) -> Self {
        self.events = events;
        self
    }

    /// The clock (default: [`SystemClock`]); tests pass a [`crate::ManualClock`].
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// let clock = ManualClock::new(UnixTime(1_795_000_000));
    /// let manager = SessionManager::builder(KeyRing::generate()?, "app", store).with_clock(Arc::new(clock)).build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Flood detection thresholds (default: 20 invalid tokens per source per minute).
    ///
    /// ```
    /// # use std::{sync::Arc, time::Duration}; use sealed_session::{*, revocation::*};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// let flood = FloodPolicy { max_invalid: 5, window: Duration::from_secs(10), ..FloodPolicy::default() };
    /// let manager = SessionManager::builder(KeyRing::generate()?, "app", store).with_flood_policy(flood).build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_flood_policy(mut self, flood: FloodPolicy) -> Self {
        self.flood = flood;
        self
    }

    /// At most `max` privilege changes and token rotations per `window` from one client
    /// source (an IPv4 address or an IPv6 /64); beyond it, transitions fail with
    /// [`crate::TransitionError::RateLimited`] and rotation waits. Every such change adds
    /// revocations to the shared filter, so this is what keeps one client from filling it.
    /// Default: 120 per minute.
    ///
    /// ```
    /// # use std::{sync::Arc, time::Duration}; use sealed_session::{*, revocation::*};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// let manager = SessionManager::builder(KeyRing::generate()?, "app", store)
    ///     .with_transition_limit(30, Duration::from_secs(60))
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_transition_limit(mut self, max: u32, window: Duration) -> Self {
        self.transition_limit = (max, window);
        self
    }

    /// Room for `capacity` verified tokens in this node's cache (default 10,000; 0 turns it
    /// off). A token presented again then skips the AEAD open, the claims decode and the
    /// binding MAC; revocation, cutoffs, the kill switch, expiry and the elevation lapse are
    /// checked on every request all the same, and any refusal is recomputed without the
    /// cache. A key-ring change empties it. Each entry holds the token text (wiped on drop),
    /// its claims and the client inputs its binding matched: about 400 bytes for a typical
    /// token, at most about 1.8 KB (spec/sessions.md §12).
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// let manager = SessionManager::builder(KeyRing::generate()?, "app", store)
    ///     .with_verify_cache(100_000) // a busy node: about 40 MB
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_verify_cache(mut self, capacity: usize) -> Self {
        self.cache_capacity = capacity;
        self
    }

    /// Validates everything and builds the manager.
    ///
    /// # Errors
    /// An invalid policy, key ring or context, or a session lifetime longer than the
    /// revocation store keeps revocations.
    ///
    /// ```
    /// # use std::{sync::Arc, time::Duration}; use sealed_session::{*, revocation::*};
    /// // The filter keeps revocations 24 h by default: a 48-hour session would outlive its own.
    /// let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// let policy = Policy::default().with_absolute_lifetime(Duration::from_secs(48 * 3600));
    /// let refused = SessionManager::builder(KeyRing::generate()?, "app", store).with_policy(policy).build();
    /// assert!(matches!(refused, Err(ConfigError::Policy(PolicyError::OutlivesRevocations))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build(self) -> Result<SessionManager, ConfigError> {
        self.policy.validate()?;
        // Generations and subject cutoffs are dropped after the filter's lifetime: a longer
        // session would outlive its own revocations (fail open).
        if self.store.set().config().max_lifetime() < self.policy.absolute_lifetime {
            return Err(PolicyError::OutlivesRevocations.into());
        }
        self.keys.current().validate()?;
        let sealer = Sealer::with_keys(self.keys, &self.context)?.with_leeway(self.policy.leeway)?;
        Ok(SessionManager {
            sealer,
            policy: self.policy,
            store: self.store,
            events: self.events,
            flood: FloodDetector::new(self.flood),
            limiter: SourceLimiter::new(self.transition_limit.0, self.transition_limit.1),
            clock: self.clock,
            cache: VerifiedCache::new(self.cache_capacity),
        })
    }
}
