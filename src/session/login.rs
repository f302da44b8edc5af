//! Logins: what a login grants ([`Login`]) and the transition that starts a new session.

use core::fmt;

use zeroize::Zeroizing;

use crate::revocation::Durability;
use crate::session::binding::ClientContext;
use crate::session::events::EventKind;
use crate::session::manager::SessionManager;
use crate::session::{Minted, Session, TransitionError};
use crate::token::claims::{Flags, Privilege, MAX_APP_DATA_LEN, MAX_SUBJECT_LEN};

/// What a login grants: a subject, a level (default [`Privilege::Authenticated`]) and the
/// application data sealed into every token of the new session (default none). Refresh,
/// elevation, step-down and rotation carry the data over unchanged; the next login starts
/// afresh. The data is encrypted in the token, wiped from this value on drop, and left out
/// of `Debug`.
///
/// ```
/// # use std::sync::Arc; use sealed_session::{*, revocation::*};
/// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
/// # let manager = SessionManager::builder(KeyRing::generate()?, "app", store).build()?;
/// # let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
/// let login = Login::new("alice").with_app_data(b"tenant=42");
/// assert_eq!(format!("{login:?}"), r#"Login { subject: "alice", level: Authenticated, app_data: "9 bytes", bind_app_value: false }"#);
/// let minted = manager.authenticate_with(None, login, &client)?;
/// assert_eq!(minted.session.app_data(), b"tenant=42");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Login {
    subject: String,
    level: Privilege,
    app_data: Zeroizing<Vec<u8>>,
    bind_app_value: bool,
}

impl Login {
    /// A login of `subject` at the authenticated level, with no application data.
    ///
    /// ```
    /// use sealed_session::{Login, Privilege};
    /// let login = Login::new("alice");
    /// assert_eq!((login.subject(), login.level()), ("alice", Privilege::Authenticated));
    /// ```
    pub fn new(subject: impl Into<String>) -> Self {
        Self {
            subject: subject.into(),
            level: Privilege::Authenticated,
            app_data: Zeroizing::new(Vec::new()),
            bind_app_value: false,
        }
    }

    /// Grants `level` instead (e.g. [`Privilege::Elevated`] right after a second factor). An
    /// anonymous level is refused when the login runs.
    ///
    /// ```
    /// use sealed_session::{Login, Privilege};
    /// let login = Login::new("alice").with_level(Privilege::Elevated);
    /// assert_eq!(login.level(), Privilege::Elevated);
    /// ```
    #[must_use]
    pub fn with_level(mut self, level: Privilege) -> Self {
        self.level = level;
        self
    }

    /// Seals `data` (at most 256 bytes, [`crate::token::MAX_APP_DATA_LEN`]) into every token
    /// of the session. Longer data is refused when the login runs.
    ///
    /// ```
    /// use sealed_session::Login;
    /// let login = Login::new("alice").with_app_data(&[1, 2, 3]);
    /// assert_eq!(login.app_data(), &[1, 2, 3]);
    /// ```
    #[must_use]
    pub fn with_app_data(mut self, data: &[u8]) -> Self {
        self.app_data = Zeroizing::new(data.to_vec());
        self
    }

    /// Binds every token of the new session to the login request's application value
    /// ([`ClientContext::app_value`]) even when the policy binds none: the token's flags get
    /// [`Flags::BIND_APP_VALUE`](crate::token::Flags::BIND_APP_VALUE), and refresh,
    /// elevation, step-down and rotation keep it, so each later request must present the same
    /// value (spec/sessions.md §6). The web layer binds a DPoP session to its proof key's
    /// JWK thumbprint this way (RFC 9449 §6); the token format does not change.
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = SessionManager::builder(KeyRing::generate()?, "app", store).build()?;
    /// let jkt = [7u8; 32]; // the verified proof's thumbprint
    /// let client = ClientContext::new("203.0.113.7".parse().ok(), Some("app/1.0"));
    /// let login = Login::new("alice").bound_to_app_value();
    /// let minted = manager.authenticate_with(None, login, &client.with_app_value(&jkt))?;
    /// assert!(minted.session.binding_flags().contains(token::Flags::BIND_APP_VALUE));
    /// assert!(manager.verify(minted.token.expose_secret(), &client.with_app_value(&jkt)).is_ok());
    /// // Without the value (a stolen token, no key): a binding mismatch.
    /// let refused = manager.verify(minted.token.expose_secret(), &client).unwrap_err();
    /// assert_eq!(refused.reason(), Reason::Unbound);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn bound_to_app_value(mut self) -> Self {
        self.bind_app_value = true;
        self
    }

    /// Whether [`Login::bound_to_app_value`] was asked for.
    ///
    /// ```
    /// assert!(sealed_session::Login::new("bob").bound_to_app_value().binds_app_value());
    /// ```
    pub fn binds_app_value(&self) -> bool {
        self.bind_app_value
    }

    /// The subject.
    ///
    /// ```
    /// assert_eq!(sealed_session::Login::new("bob").subject(), "bob");
    /// ```
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The level granted.
    ///
    /// ```
    /// use sealed_session::{Login, Privilege};
    /// assert_eq!(Login::new("bob").level(), Privilege::Authenticated);
    /// ```
    pub fn level(&self) -> Privilege {
        self.level
    }

    /// The application data.
    ///
    /// ```
    /// assert!(sealed_session::Login::new("bob").app_data().is_empty());
    /// ```
    pub fn app_data(&self) -> &[u8] {
        &self.app_data
    }

    /// Every bound a login has, checked before anything is revoked.
    fn validate(&self) -> Result<(), TransitionError> {
        SessionManager::check_level(self.level).map_err(TransitionError::InvalidLogin)?;
        if self.subject.is_empty() || self.subject.len() > MAX_SUBJECT_LEN {
            return Err(TransitionError::InvalidLogin("subject must be 1 to 64 bytes"));
        }
        if self.app_data.len() > MAX_APP_DATA_LEN {
            return Err(TransitionError::InvalidLogin(
                "application data must be at most 256 bytes",
            ));
        }
        Ok(())
    }
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login")
            .field("subject", &self.subject)
            .field("level", &self.level)
            .field("app_data", &format_args!("\"{} bytes\"", self.app_data.len()))
            .field("bind_app_value", &self.bind_app_value)
            .finish()
    }
}

impl SessionManager {
    /// Logs `subject` in at `level`: [`SessionManager::authenticate_with`] of
    /// `Login::new(subject).with_level(level)`.
    ///
    /// # Errors
    /// As [`SessionManager::authenticate_with`].
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = SessionManager::builder(KeyRing::generate()?, "app", store).build()?;
    /// # let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
    /// let visitor = manager.begin(&client)?;
    /// // ... the password checked out ...
    /// let alice = manager.authenticate(Some(visitor.session), "alice", Privilege::Authenticated, &client)?;
    /// assert_eq!(alice.session.subject(), Some("alice"));
    /// // The visitor's token died with its session.
    /// assert!(manager.verify(visitor.token.expose_secret(), &client).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn authenticate(
        &self,
        previous: Option<Session>,
        subject: &str,
        level: Privilege,
        client: &ClientContext<'_>,
    ) -> Result<Minted, TransitionError> {
        self.authenticate_with(previous, Login::new(subject).with_level(level), client)
    }

    /// Performs `login`. Always starts a new session id; the previous session (the visitor's,
    /// or one an attacker planted) is revoked first, and nothing of it (id, data) carries over.
    ///
    /// # Errors
    /// [`TransitionError::InvalidLogin`] for an anonymous level, a subject not of 1 to 64 bytes
    /// or application data over 256 bytes; too many session changes from this source; a
    /// store failure revoking the predecessor; minting.
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = SessionManager::builder(KeyRing::generate()?, "app", store).build()?;
    /// # let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
    /// let alice = manager.authenticate_with(None, Login::new("alice").with_app_data(b"cart=3"), &client)?;
    /// // The data rides along through every transition of the session.
    /// let elevated = manager.elevate(alice.session, &client)?;
    /// assert_eq!(elevated.session.app_data(), b"cart=3");
    /// let too_long = Login::new("alice").with_app_data(&[0; 257]);
    /// assert!(matches!(manager.authenticate_with(None, too_long, &client), Err(TransitionError::InvalidLogin(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn authenticate_with(
        &self,
        previous: Option<Session>,
        login: Login,
        client: &ClientContext<'_>,
    ) -> Result<Minted, TransitionError> {
        login.validate()?;
        let now = self.clock.now();
        self.check_rate(client, now)?;
        if let Some(prev) = previous {
            // Even a grace copy may be replaced by a login: the whole old session ends, so no
            // branch of it survives.
            let durability = Self::durability_for(&prev, Durability::Synced);
            self.revoke_id(prev.claims.epoch, prev.claims.session_id.0, durability)?;
        }
        let app_data = login.app_data.to_vec();
        let extra = if login.bind_app_value {
            Flags(Flags::BIND_APP_VALUE)
        } else {
            Flags::default()
        };
        let minted = self.fresh_session(Some(&login.subject), login.level, app_data, extra, client, now)?;
        self.emit(EventKind::Login, self.tag(minted.session.session_id()), client);
        Ok(minted)
    }
}
