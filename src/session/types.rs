//! What the request path hands to application code: verified sessions and minted tokens.

use crate::clock::UnixTime;
use crate::error::ConfigError;
use crate::keys::KeyId;
use crate::revocation::StoreError;
use crate::token::claims::{Claims, Epoch, Privilege, SessionId, TokenId};
use crate::token::sealer::SealedToken;

/// A session whose token opened, passed every check and is bound to this client.
///
/// Only [`crate::SessionManager`] creates one. It is not `Clone`: every transition
/// (authenticate, elevate, step down, refresh, logout) consumes it, so code cannot keep using
/// the predecessor of a privilege change.
#[derive(Debug)]
pub struct Session {
    pub(crate) key_id: KeyId,
    pub(crate) token_id: TokenId,
    pub(crate) claims: Claims,
    pub(crate) privilege: Privilege,
    /// The token was already replaced and was accepted only inside the grace window: a
    /// weaker copy that acts at most at the authenticated level and runs no transition.
    pub(crate) grace_copy: bool,
}

impl Session {
    /// The subject, if someone is logged in.
    pub fn subject(&self) -> Option<&str> {
        self.claims.subject.as_deref()
    }

    /// The effective privilege (elevation lapses after the policy's elevated TTL).
    pub fn privilege(&self) -> Privilege {
        self.privilege
    }

    /// The session id (stable across rotations, new at every login). Treat it as sensitive.
    pub fn session_id(&self) -> &SessionId {
        &self.claims.session_id
    }

    /// This token's id.
    pub fn token_id(&self) -> &TokenId {
        &self.token_id
    }

    /// When the current token expires.
    pub fn expires_at(&self) -> UnixTime {
        self.claims.expires_at
    }

    /// When the session ends, whatever happens.
    pub fn session_deadline(&self) -> UnixTime {
        self.claims.session_deadline
    }

    /// When the subject last authenticated.
    pub fn authenticated_at(&self) -> UnixTime {
        self.claims.authenticated_at
    }

    /// The revocation epoch shared by all tokens of the session.
    pub fn epoch(&self) -> Epoch {
        self.claims.epoch
    }

    /// Application data sealed in the token.
    pub fn app_data(&self) -> &[u8] {
        &self.claims.app_data
    }

    /// The key that sealed the current token.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// Whether this token was already replaced (rotation, elevation or step-down) and was
    /// accepted only because it came back inside the grace window, as requests already in
    /// flight do. Such a copy acts at most at the authenticated level, and elevate, step-down
    /// and refresh refuse it ([`TransitionError::GraceCopy`]), so a replaced token can never
    /// start a second branch of the session.
    pub fn is_grace_copy(&self) -> bool {
        self.grace_copy
    }
}

/// A freshly minted token and the session it carries. Must be sent to the client (e.g. as a
/// cookie), or the client keeps presenting the revoked predecessor.
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
    pub fn expires_at(&self) -> UnixTime {
        self.session.expires_at()
    }
}

/// The result of a successful verify: the session, and a replacement token when rotation is
/// due (the presented token then keeps working only for the grace window).
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
