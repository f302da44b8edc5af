//! What the request path hands to application code: verified sessions and minted tokens.

use std::sync::Arc;

use crate::clock::UnixTime;
use crate::error::ConfigError;
use crate::keys::KeyId;
use crate::revocation::StoreError;
use crate::token::claims::{Claims, Epoch, Flags, Privilege, SessionId, TokenId};
use crate::token::sealer::SealedToken;

/// A session whose token opened, passed every check and is bound to this client.
///
/// Only [`crate::SessionManager`] creates one. It is not `Clone`: every transition
/// (authenticate, elevate, step down, refresh, logout) consumes it, so code cannot keep using
/// the predecessor of a privilege change.
///
/// ```
/// # use std::sync::Arc; use sealed_session::{*, revocation::*};
/// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
/// # let manager = SessionManager::builder(KeyRing::generate()?, "app", store).build()?;
/// # let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
/// let minted = manager.authenticate(None, "alice", Privilege::Authenticated, &client)?;
/// // On a later request: the cookie's token in, a verified session out.
/// let session = manager.verify(minted.token.expose_secret(), &client)?.session;
/// assert_eq!(session.subject(), Some("alice"));
/// // Transitions consume the session: the pre-elevation value cannot be used afterwards.
/// let elevated = manager.elevate(session, &client)?;
/// assert_eq!(elevated.session.privilege(), Privilege::Elevated);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Session {
    pub(crate) key_id: KeyId,
    pub(crate) token_id: TokenId,
    /// Shared with the verified-token cache: a cached verify hands out the claims without
    /// copying them.
    pub(crate) claims: Arc<Claims>,
    pub(crate) privilege: Privilege,
    /// The token was already replaced and was accepted only inside the grace window: a
    /// weaker copy that acts at most at the authenticated level and runs no transition.
    pub(crate) grace_copy: bool,
}

impl Session {
    /// The subject, if someone is logged in.
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = SessionManager::builder(KeyRing::generate()?, "app", store).build()?;
    /// # let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
    /// assert_eq!(manager.begin(&client)?.session.subject(), None);
    /// let alice = manager.authenticate(None, "alice", Privilege::Authenticated, &client)?;
    /// assert_eq!(alice.session.subject(), Some("alice"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn subject(&self) -> Option<&str> {
        self.claims.subject.as_deref()
    }

    /// The effective privilege (elevation lapses after the policy's elevated TTL).
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = SessionManager::builder(KeyRing::generate()?, "app", store).build()?;
    /// # let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
    /// let visitor = manager.begin(&client)?;
    /// assert_eq!(visitor.session.privilege(), Privilege::Anonymous);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn privilege(&self) -> Privilege {
        self.privilege
    }

    /// The session id (stable across rotations, new at every login). Treat it as sensitive.
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = SessionManager::builder(KeyRing::generate()?, "app", store).build()?;
    /// # let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
    /// let visitor = manager.begin(&client)?;
    /// let visitor_id = *visitor.session.session_id();
    /// // A login never keeps the identifier the client had before (session fixation).
    /// let alice = manager.authenticate(Some(visitor.session), "alice", Privilege::Authenticated, &client)?;
    /// assert_ne!(alice.session.session_id(), &visitor_id);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn session_id(&self) -> &SessionId {
        &self.claims.session_id
    }

    /// This token's id.
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = SessionManager::builder(KeyRing::generate()?, "app", store).build()?;
    /// # let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
    /// let alice = manager.authenticate(None, "alice", Privilege::Authenticated, &client)?;
    /// let (first_session, first_token) = (*alice.session.session_id(), *alice.session.token_id());
    /// // Refreshing mints a new token in the same session.
    /// let next = manager.refresh(alice.session, &client)?;
    /// assert_eq!(next.session.session_id(), &first_session);
    /// assert_ne!(next.session.token_id(), &first_token);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn token_id(&self) -> &TokenId {
        &self.token_id
    }

    /// When the current token expires.
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = SessionManager::builder(KeyRing::generate()?, "app", store).build()?;
    /// # let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
    /// let s = manager.begin(&client)?.session;
    /// // Minted now, so it lives the policy's token TTL (30 minutes by default).
    /// assert_eq!(s.expires_at(), s.authenticated_at().saturating_add(manager.policy().token_ttl()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn expires_at(&self) -> UnixTime {
        self.claims.expires_at
    }

    /// When the session ends, whatever happens.
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = SessionManager::builder(KeyRing::generate()?, "app", store).build()?;
    /// # let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
    /// let alice = manager.authenticate(None, "alice", Privilege::Authenticated, &client)?;
    /// let s = &alice.session;
    /// assert!(s.expires_at() <= s.session_deadline());
    /// assert_eq!(s.session_deadline(), s.authenticated_at().saturating_add(manager.policy().absolute_lifetime()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn session_deadline(&self) -> UnixTime {
        self.claims.session_deadline
    }

    /// When the subject last authenticated.
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = SessionManager::builder(KeyRing::generate()?, "app", store).build()?;
    /// # let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
    /// let alice = manager.authenticate(None, "alice", Privilege::Authenticated, &client)?;
    /// // Step-up checks can demand a recent authentication.
    /// let fresh = manager.now().secs() - alice.session.authenticated_at().secs() < 5 * 60;
    /// assert!(fresh);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn authenticated_at(&self) -> UnixTime {
        self.claims.authenticated_at
    }

    /// The revocation epoch shared by all tokens of the session.
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = SessionManager::builder(KeyRing::generate()?, "app", store).build()?;
    /// # let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
    /// let alice = manager.authenticate(None, "alice", Privilege::Authenticated, &client)?;
    /// // Revocations are kept until the epoch ends, which is no earlier than the session's end.
    /// assert!(alice.session.epoch().end() >= alice.session.session_deadline());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn epoch(&self) -> Epoch {
        self.claims.epoch
    }

    /// Application data sealed in the token: set at login ([`crate::Login::with_app_data`]),
    /// carried unchanged by every later token of the session.
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = SessionManager::builder(KeyRing::generate()?, "app", store).build()?;
    /// # let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
    /// assert!(manager.begin(&client)?.session.app_data().is_empty());
    /// let alice = manager.authenticate_with(None, Login::new("alice").with_app_data(b"v=1"), &client)?;
    /// assert_eq!(manager.refresh(alice.session, &client)?.session.app_data(), b"v=1");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn app_data(&self) -> &[u8] {
        &self.claims.app_data
    }

    /// The client inputs the session's tokens are bound to (spec/sessions.md §6): the
    /// policy's, plus [`Flags::BIND_APP_VALUE`] for a session bound to an application value
    /// at login ([`crate::Login::bound_to_app_value`], e.g. a DPoP key thumbprint).
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = SessionManager::builder(KeyRing::generate()?, "app", store).build()?;
    /// # let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
    /// use sealed_session::token::Flags;
    /// let alice = manager.authenticate(None, "alice", Privilege::Authenticated, &client)?;
    /// assert_eq!(alice.session.binding_flags(), manager.policy().binding().flags());
    /// assert!(!alice.session.binding_flags().contains(Flags::BIND_APP_VALUE));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn binding_flags(&self) -> Flags {
        self.claims.flags
    }

    /// The key that sealed the current token.
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = SessionManager::builder(KeyRing::generate()?, "app", store).build()?;
    /// # let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
    /// let visitor = manager.begin(&client)?;
    /// assert_eq!(Some(visitor.session.key_id()), manager.keys().current().primary_id());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// Whether this token was already replaced (rotation, elevation or step-down) and was
    /// accepted only because it came back inside the grace window, as requests already in
    /// flight do. Such a copy acts at most at the authenticated level, and elevate, step-down
    /// and refresh refuse it ([`TransitionError::GraceCopy`]), so a replaced token can never
    /// start a second branch of the session.
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = SessionManager::builder(KeyRing::generate()?, "app", store).build()?;
    /// # let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
    /// let alice = manager.authenticate(None, "alice", Privilege::Authenticated, &client)?;
    /// let old = alice.token;
    /// let _next = manager.refresh(alice.session, &client)?;
    /// // The replaced token still works for the grace window (5 s by default), as a weaker copy.
    /// let late = manager.verify(old.expose_secret(), &client)?.session;
    /// assert!(late.is_grace_copy());
    /// assert!(matches!(manager.refresh(late, &client), Err(TransitionError::GraceCopy)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_grace_copy(&self) -> bool {
        self.grace_copy
    }
}

/// A freshly minted token and the session it carries. Must be sent to the client (e.g. as a
/// cookie), or the client keeps presenting the revoked predecessor.
///
/// ```
/// # use std::sync::Arc; use sealed_session::{*, revocation::*};
/// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
/// # let manager = SessionManager::builder(KeyRing::generate()?, "app", store).build()?;
/// # let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
/// let minted = manager.begin(&client)?;
/// // Send `minted.token` to the client, e.g. as the session cookie.
/// let cookie_value: &str = minted.token.expose_secret();
/// assert!(manager.verify(cookie_value, &client).is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "a minted token must be sent to the client; its predecessor is already revoked"]
#[derive(Debug)]
pub struct Minted {
    /// The token to send.
    pub token: SealedToken,
    /// The session it carries.
    pub session: Session,
}

impl Minted {
    /// When the token expires (for a cookie's Max-Age).
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = SessionManager::builder(KeyRing::generate()?, "app", store).build()?;
    /// # let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
    /// let minted = manager.begin(&client)?;
    /// let max_age = minted.expires_at().secs().saturating_sub(manager.now().secs());
    /// assert!(max_age <= manager.policy().token_ttl().as_secs());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn expires_at(&self) -> UnixTime {
        self.session.expires_at()
    }
}

/// The result of a successful verify: the session, and a replacement token when rotation is
/// due (the presented token then keeps working only for the grace window).
///
/// ```
/// # use std::sync::Arc; use sealed_session::{*, revocation::*};
/// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
/// # let manager = SessionManager::builder(KeyRing::generate()?, "app", store).build()?;
/// # let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
/// let token = manager.authenticate(None, "alice", Privilege::Authenticated, &client)?.token;
/// let verified = manager.verify(token.expose_secret(), &client)?;
/// if let Some(next) = verified.replacement {
///     // Rotation was due: send `next` to the client in place of `token`.
/// }
/// assert_eq!(verified.session.subject(), Some("alice"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "a replacement token, when present, must be sent to the client"]
#[derive(Debug)]
pub struct Verified {
    /// The verified session.
    pub session: Session,
    /// A new token to send to the client, when the policy rotated this one.
    pub replacement: Option<SealedToken>,
}

/// Why a transition could not be carried out. The previous token stays as it was unless the
/// error says otherwise; nothing is minted.
///
/// ```
/// # use std::sync::Arc; use sealed_session::{*, revocation::*};
/// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
/// # let manager = SessionManager::builder(KeyRing::generate()?, "app", store).build()?;
/// # let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
/// let visitor = manager.begin(&client)?;
/// // Only a logged-in session can be elevated.
/// let refused = manager.elevate(visitor.session, &client);
/// assert!(matches!(refused, Err(TransitionError::NotAuthenticated)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransitionError {
    /// Claims or keys made minting impossible.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The revocation store could not make the predecessor's revocation durable; refusing to
    /// mint keeps the old privilege from surviving.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Elevation or step-down of an anonymous session.
    #[error("the session is not authenticated")]
    NotAuthenticated,
    /// Authentication with an invalid level or subject.
    #[error("invalid login: {0}")]
    InvalidLogin(&'static str),
    /// The session's token was already replaced and came back inside the grace window: it may
    /// be used for requests, but only its successor can change the session.
    #[error("the token was already replaced; only its successor can change the session")]
    GraceCopy,
    /// This client source made more privilege changes in the current window than the
    /// manager allows ([`crate::SessionManagerBuilder::with_transition_limit`]).
    #[error("too many session changes from this source; try again later")]
    RateLimited,
}
