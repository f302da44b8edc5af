//! The session manager: configuration, and the helpers shared by verify and the transitions.

use std::sync::Arc;

use ring::{digest, hmac};

use crate::clock::{Clock, UnixTime};
use crate::error::{ConfigError, Reason, Rejected};
use crate::keys::{KeyRing, Keys};
use crate::revocation::{Durability, Revocation, RevocationStore, StoreError};
use crate::session::binding::ClientContext;
use crate::session::builder::SessionManagerBuilder;
use crate::session::cache::VerifiedCache;
use crate::session::events::{EventKind, EventSink, SecurityEvent, SessionTag};
use crate::session::flood::{FloodDetector, SourceLimiter};
use crate::session::policy::Policy;
use crate::token::claims::{Epoch, Privilege, SessionId, TokenId};
use crate::token::sealer::Sealer;

/// Creates, verifies and transitions sessions. Share one per process (`Arc`); every method
/// takes `&self`.
///
/// See the crate documentation for the request flow and `spec/sessions.md` for the state
/// machine.
///
/// ```
/// use std::sync::Arc;
/// use sealed_session::revocation::{FilterConfig, MemoryStore};
/// use sealed_session::{ClientContext, KeyRing, Privilege, SessionManager};
///
/// let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
/// let manager = SessionManager::builder(KeyRing::generate()?, "app", store).build()?;
/// let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
///
/// let login = manager.authenticate(None, "alice", Privilege::Authenticated, &client)?;
/// let verified = manager.verify(login.token.expose_secret(), &client)?;
/// manager.logout(verified.session, &client)?;
/// assert!(manager.verify(login.token.expose_secret(), &client).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SessionManager {
    pub(crate) sealer: Sealer,
    pub(crate) policy: Policy,
    pub(crate) store: Arc<dyn RevocationStore>,
    pub(crate) events: Arc<dyn EventSink>,
    pub(crate) flood: FloodDetector,
    pub(crate) limiter: SourceLimiter,
    pub(crate) clock: Arc<dyn Clock>,
    /// Verified tokens of this node (`None` when built with a capacity of 0).
    pub(crate) cache: Option<VerifiedCache>,
}

impl SessionManager {
    /// Starts a builder. `context` names the application: 1 to 255 bytes of UTF-8, sealed
    /// into every token's associated data and compared byte for byte (spec/format.md §4; the
    /// build refuses other lengths). The revocation store is required: choose
    /// [`crate::revocation::FileStore`] for a node that must never forget a logout across
    /// restarts, [`crate::revocation::MemoryStore`] for tests.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use sealed_session::revocation::{FilterConfig, MemoryStore};
    /// use sealed_session::{KeyRing, Keys, SessionManager};
    /// // One key handle for the manager and anything else that reads the ring.
    /// let keys = Keys::new(KeyRing::generate()?)?;
    /// let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// let manager = SessionManager::builder(keys.clone(), "app", store).build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder(
        keys: impl Into<Keys>,
        context: &str,
        store: Arc<dyn RevocationStore>,
    ) -> SessionManagerBuilder {
        SessionManagerBuilder::new(keys.into(), context, store)
    }

    /// The policy in force.
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = SessionManager::builder(KeyRing::generate()?, "app", store).build()?;
    /// # let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
    /// assert_eq!(manager.policy().binding(), &Binding::ip_and_user_agent());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The revocation store.
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = SessionManager::builder(KeyRing::generate()?, "app", store).build()?;
    /// # let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
    /// // A second manager (another context, say) sharing the same revocations.
    /// let admin = SessionManager::builder(manager.keys().clone(), "admin", manager.store().clone()).build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn store(&self) -> &Arc<dyn RevocationStore> {
        &self.store
    }

    /// The current time from the injected clock.
    ///
    /// ```
    /// # use std::{sync::Arc, time::Duration}; use sealed_session::{*, revocation::*};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// let clock = ManualClock::new(UnixTime(1_795_000_000));
    /// let manager = SessionManager::builder(KeyRing::generate()?, "app", store)
    ///     .with_clock(Arc::new(clock.clone()))
    ///     .build()?;
    /// clock.advance(Duration::from_secs(30));
    /// assert_eq!(manager.now(), UnixTime(1_795_000_030));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn now(&self) -> UnixTime {
        self.clock.now()
    }

    /// Replaces the key ring (e.g. after the operator edited the key file) for the manager
    /// and every store sharing its [`Keys`] handle. Tokens minted under keys still present
    /// keep opening; follow the three-phase rotation in spec/format.md §17.
    ///
    /// # Errors
    /// The new ring has no primary key; the old ring stays.
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = SessionManager::builder(KeyRing::generate()?, "app", store).build()?;
    /// # let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
    /// let old = manager.begin(&client)?.token;
    /// // The operator added key 2 and made it primary; key 1 stays accept-only.
    /// let ring = KeyRing::parse(&manager.keys().current().to_key_file_text())?;
    /// let mut ring = ring.with_key(KeyId(2), KeyState::AcceptOnly, SessionKey::generate()?)?;
    /// ring.promote(KeyId(2))?;
    /// manager.replace_keys(ring)?;
    /// assert!(manager.verify(old.expose_secret(), &client).is_ok());
    /// assert_eq!(manager.begin(&client)?.session.key_id(), KeyId(2));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn replace_keys(&self, keys: KeyRing) -> Result<(), ConfigError> {
        self.sealer.keys().replace(keys)
    }

    /// The key handle the manager reads (share it with stores built later).
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = SessionManager::builder(KeyRing::generate()?, "app", store).build()?;
    /// # let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
    /// assert_eq!(manager.keys().current().primary_id(), Some(KeyId(1)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn keys(&self) -> &Keys {
        self.sealer.keys()
    }

    /// Drops revocation generations whose tokens have all expired. Call it periodically.
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = SessionManager::builder(KeyRing::generate()?, "app", store).build()?;
    /// # let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
    /// // From a periodic task (SessionLayer runs one itself).
    /// manager.maintain_at(manager.now());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn maintain_at(&self, now: UnixTime) {
        self.store.set().expire(now);
    }

    /// A keyed, non-reversible tag of a session id for events.
    pub(crate) fn tag(&self, id: &SessionId) -> Option<SessionTag> {
        let ring = self.sealer.keys().load_at(self.clock.now());
        let key = ring.primary()?;
        let t = hmac::sign(&key.session_tag, &id.0);
        let mut out = [0u8; 8];
        out.copy_from_slice(t.as_ref().get(..8)?);
        Some(SessionTag(out))
    }

    pub(crate) fn emit(&self, kind: EventKind, session: Option<SessionTag>, client: &ClientContext<'_>) {
        self.events.emit(&SecurityEvent {
            session,
            source: client.ip,
            ..SecurityEvent::new(kind)
        });
    }

    /// Emits an event naming the subject and cutoff (logout-everywhere, kill switch).
    pub(crate) fn emit_cutoff(
        &self,
        kind: EventKind,
        subject: Option<&str>,
        at: UnixTime,
        client: &ClientContext<'_>,
    ) {
        self.events.emit(&SecurityEvent {
            source: client.ip,
            subject: subject.map(str::to_owned),
            at: Some(at),
            ..SecurityEvent::new(kind)
        });
    }

    /// Records a refusal: event, flood accounting, and the opaque error.
    pub(crate) fn reject(
        &self,
        reason: Reason,
        session: Option<SessionTag>,
        client: &ClientContext<'_>,
        now: UnixTime,
    ) -> Rejected {
        let kind = match reason {
            Reason::Revoked => EventKind::RevokedPresented,
            Reason::Reused => EventKind::ReuseDetected,
            Reason::Unbound => EventKind::BindingMismatch,
            other => EventKind::Rejected(other),
        };
        self.emit(kind, session, client);
        if self.flood.record(client.ip, session, now) {
            self.emit(EventKind::FloodDetected, session, client);
        }
        Rejected::from(reason)
    }

    pub(crate) fn revoke_id(
        &self,
        epoch: Epoch,
        id: [u8; 16],
        durability: Durability,
    ) -> Result<(), StoreError> {
        let result = self.store.revoke_with(Revocation::Id { epoch, id }, durability);
        // Checked on every outcome: a failed write still applied the revocation (fail closed).
        // The set logged each alarm's generation and fill with `tracing::warn!` when raised.
        while let Some(p) = self.store.set().take_pressure_alarm() {
            self.emit(
                EventKind::RevocationPressure(p.level),
                None,
                &ClientContext::default(),
            );
        }
        result
    }

    pub(crate) fn revoke_session(
        &self,
        epoch: Epoch,
        id: &SessionId,
        client: &ClientContext<'_>,
        durability: Durability,
        tag: Option<SessionTag>,
    ) -> Result<(), StoreError> {
        self.revoke_id(epoch, id.0, durability)?;
        self.emit(EventKind::SessionRevoked, tag, client);
        Ok(())
    }

    /// Revokes a replaced token, leaving a grace marker so in-flight requests that still carry
    /// it are accepted for the grace window as a weaker copy (spec/sessions.md §5).
    pub(crate) fn retire_token(
        &self,
        epoch: Epoch,
        id: &TokenId,
        now: UnixTime,
        durability: Durability,
    ) -> Result<(), StoreError> {
        if !self.policy.grace.is_zero() {
            let bucket = now.0 / self.grace_bucket_secs();
            self.revoke_id(epoch, grace_marker(id, bucket), durability)?;
        }
        self.revoke_id(epoch, id.0, durability)
    }

    /// Whether a revoked token id was rotated away less than a grace window ago.
    pub(crate) fn within_grace(&self, epoch: Epoch, id: &TokenId, now: UnixTime) -> bool {
        if self.policy.grace.is_zero() {
            return false;
        }
        let width = self.grace_bucket_secs();
        let oldest = now.0.saturating_sub(self.policy.grace.as_secs()) / width;
        let newest = now.0 / width;
        let set = self.store.set();
        (oldest..=newest).any(|bucket| set.contains(epoch, &grace_marker(id, bucket)))
    }

    /// Grace markers live in buckets a quarter of the grace window wide, so the effective
    /// window is between `grace` and `1.25 × grace`.
    fn grace_bucket_secs(&self) -> u64 {
        (self.policy.grace.as_secs() / 4).max(1)
    }

    /// Seals `claims` as this manager would mint them for `client` (the policy's binding flags
    /// and the binding value), but with a caller-chosen nonce, and so a chosen token id. Reusing
    /// a nonce under one key destroys confidentiality and integrity: this exists only so that
    /// fuzzing and the constant-time probe (`ct/`) get the same bound token in every run.
    ///
    /// # Errors
    /// Claims out of bounds, or no primary key.
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*, token::*};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = SessionManager::builder(KeyRing::generate()?, "app", store).build()?;
    /// let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
    /// let now = manager.now();
    /// let deadline = UnixTime(now.0 + 3600);
    /// let claims = Claims {
    ///     session_id: SessionId([7; 16]),
    ///     subject: Some("alice".into()),
    ///     privilege: Privilege::Authenticated,
    ///     epoch: Epoch::containing(deadline),
    ///     issued_at: now,
    ///     expires_at: UnixTime(now.0 + 1800),
    ///     session_deadline: deadline,
    ///     authenticated_at: now,
    ///     binding: BindingHash::default(),
    ///     flags: Flags::default(), // set from the policy
    ///     app_data: Vec::new(),
    /// };
    /// let a = manager.dangerous_mint_bound_with_nonce(claims.clone(), &client, [9; 24])?;
    /// let b = manager.dangerous_mint_bound_with_nonce(claims, &client, [9; 24])?;
    /// assert_eq!(a.expose_secret(), b.expose_secret()); // deterministic
    /// assert!(manager.verify_at(a.expose_secret(), &client, now).is_ok()); // and bound to `client`
    /// let elsewhere = ClientContext::new("198.51.100.1".parse().ok(), Some("curl"));
    /// assert_eq!(manager.verify_at(a.expose_secret(), &elsewhere, now).unwrap_err().reason(), Reason::Unbound);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "test-vectors")]
    #[doc(hidden)]
    pub fn dangerous_mint_bound_with_nonce(
        &self,
        mut claims: crate::token::Claims,
        client: &ClientContext<'_>,
        nonce: [u8; crate::token::aead::NONCE_LEN],
    ) -> Result<crate::SealedToken, ConfigError> {
        claims.flags = self.policy.binding.flags();
        let input = self.policy.binding.input(claims.flags, client);
        let sealed = self
            .sealer
            .mint_bound_with_nonce(claims, input.as_deref(), nonce)?;
        Ok(sealed.token)
    }

    pub(crate) fn check_level(level: Privilege) -> Result<(), &'static str> {
        match level {
            Privilege::Anonymous => Err("a login must grant at least the authenticated level"),
            _ => Ok(()),
        }
    }
}

/// A 16-byte id for "token `id` was rotated away in `bucket`", distinct from any real id.
fn grace_marker(id: &TokenId, bucket: u64) -> [u8; 16] {
    let d = digest::digest(
        &digest::SHA256,
        &[
            b"sealed-session/v1 grace".as_slice(),
            &id.0,
            &bucket.to_be_bytes(),
        ]
        .concat(),
    );
    let mut out = [0u8; 16];
    out.copy_from_slice(d.as_ref().get(..16).unwrap_or(&[0u8; 16]));
    out
}
