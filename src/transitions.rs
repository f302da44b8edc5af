//! Privilege changes. Each consumes the verified session, revokes its token durably first,
//! then mints a successor with a fresh nonce: nothing ever adopts a client's identifier.

use crate::binding::ClientContext;
use crate::claims::{Claims, Epoch, Privilege, SessionId};
use crate::clock::UnixTime;
use crate::events::EventKind;
use crate::manager::SessionManager;
use crate::revocation::Revocation;
use crate::session::{Minted, Session, TransitionError};

impl SessionManager {
    /// Starts an anonymous session (a visitor before login).
    ///
    /// # Errors
    /// Minting failed (randomness, keys).
    pub fn begin(&self, client: &ClientContext<'_>) -> Result<Minted, TransitionError> {
        self.fresh_session(None, Privilege::Anonymous, client, self.clock.now())
    }

    /// Logs `subject` in at `level`. Always starts a new session id; the previous session (the
    /// visitor's, or one an attacker planted) is revoked first.
    ///
    /// # Errors
    /// Anonymous level or bad subject, a store failure revoking the predecessor, or minting.
    pub fn authenticate(
        &self,
        previous: Option<Session>,
        subject: &str,
        level: Privilege,
        client: &ClientContext<'_>,
    ) -> Result<Minted, TransitionError> {
        Self::check_level(level).map_err(TransitionError::InvalidLogin)?;
        if subject.is_empty() || subject.len() > crate::MAX_SUBJECT_LEN {
            return Err(TransitionError::InvalidLogin("subject must be 1 to 64 bytes"));
        }
        let now = self.clock.now();
        if let Some(prev) = previous {
            self.revoke_id(prev.claims.epoch, prev.claims.session_id.0)?;
        }
        let minted = self.fresh_session(Some(subject), level, client, now)?;
        self.emit(
            EventKind::Login,
            self.tag(&self.sealer(), minted.session.session_id()),
            client,
        );
        Ok(minted)
    }

    /// Raises an authenticated session to elevated after the application re-verified the
    /// subject (step-up). The elevation lasts the policy's elevated TTL.
    ///
    /// # Errors
    /// Anonymous session, store failure, or minting.
    pub fn elevate(&self, session: Session, client: &ClientContext<'_>) -> Result<Minted, TransitionError> {
        let now = self.clock.now();
        let minted = self.transition(session, Privilege::Elevated, Some(now), client, now)?;
        self.emit(
            EventKind::Elevation,
            self.tag(&self.sealer(), minted.session.session_id()),
            client,
        );
        Ok(minted)
    }

    /// Drops elevated privilege back to authenticated.
    ///
    /// # Errors
    /// Anonymous session, store failure, or minting.
    pub fn step_down(&self, session: Session, client: &ClientContext<'_>) -> Result<Minted, TransitionError> {
        let now = self.clock.now();
        let minted = self.transition(session, Privilege::Authenticated, None, client, now)?;
        self.emit(
            EventKind::StepDown,
            self.tag(&self.sealer(), minted.session.session_id()),
            client,
        );
        Ok(minted)
    }

    /// Replaces the token with a fresh one at the same level (the old one gets the grace window).
    ///
    /// # Errors
    /// Store failure or minting.
    pub fn refresh(&self, session: Session, client: &ClientContext<'_>) -> Result<Minted, TransitionError> {
        let level = session.privilege;
        self.successor(&session, level, None, client, self.clock.now(), true)
    }

    /// Ends the session on every node: its id goes into the shared revocation filter.
    ///
    /// # Errors
    /// The store could not make the revocation durable (the session may still be live).
    pub fn logout(&self, session: Session, client: &ClientContext<'_>) -> Result<(), TransitionError> {
        let tag = self.tag(&self.sealer(), session.session_id());
        self.revoke_session(session.claims.epoch, &session.claims.session_id, client)?;
        self.emit(EventKind::Logout, tag, client);
        Ok(())
    }

    /// Ends every session of `subject` authenticated up to now.
    ///
    /// # Errors
    /// The store could not make the cutoff durable.
    pub fn logout_everywhere(
        &self,
        subject: &str,
        client: &ClientContext<'_>,
    ) -> Result<(), TransitionError> {
        let cutoff = self.clock.now();
        self.store.revoke(Revocation::Subject {
            subject: subject.to_owned(),
            cutoff,
        })?;
        self.emit(EventKind::LogoutEverywhere, None, client);
        Ok(())
    }

    /// Refuses every token issued before `before`, whatever its session (compromise response).
    ///
    /// # Errors
    /// The store could not make the kill switch durable.
    pub fn kill_switch(&self, before: UnixTime, client: &ClientContext<'_>) -> Result<(), TransitionError> {
        self.store.revoke(Revocation::KillSwitch { before })?;
        self.emit(EventKind::KillSwitch, None, client);
        Ok(())
    }

    fn transition(
        &self,
        session: Session,
        level: Privilege,
        reauthenticated: Option<UnixTime>,
        client: &ClientContext<'_>,
        now: UnixTime,
    ) -> Result<Minted, TransitionError> {
        if session.claims.subject.is_none() || session.privilege == Privilege::Anonymous {
            return Err(TransitionError::NotAuthenticated);
        }
        self.successor(&session, level, reauthenticated, client, now, false)
    }

    /// Revokes the current token (with or without grace), then mints its successor in the same
    /// session.
    pub(crate) fn successor(
        &self,
        session: &Session,
        level: Privilege,
        reauthenticated: Option<UnixTime>,
        client: &ClientContext<'_>,
        now: UnixTime,
        grace: bool,
    ) -> Result<Minted, TransitionError> {
        self.retire_token(session.claims.epoch, &session.token_id, now, grace)?;
        let mut claims = session.claims.clone();
        claims.privilege = level;
        claims.authenticated_at = reauthenticated.unwrap_or(claims.authenticated_at);
        self.mint_claims(claims, client, now)
    }

    fn fresh_session(
        &self,
        subject: Option<&str>,
        level: Privilege,
        client: &ClientContext<'_>,
        now: UnixTime,
    ) -> Result<Minted, TransitionError> {
        let deadline = now.saturating_add(self.policy.absolute_lifetime);
        let claims = Claims {
            session_id: SessionId::generate()?,
            subject: subject.map(str::to_owned),
            privilege: level,
            epoch: Epoch::containing(deadline),
            issued_at: now,
            expires_at: now,
            session_deadline: deadline,
            authenticated_at: now,
            binding: Default::default(),
            flags: self.policy.binding.flags(),
            app_data: Vec::new(),
        };
        self.mint_claims(claims, client, now)
    }

    /// Stamps times and binding, seals, and wraps the result.
    fn mint_claims(
        &self,
        mut claims: Claims,
        client: &ClientContext<'_>,
        now: UnixTime,
    ) -> Result<Minted, TransitionError> {
        let sealer = self.sealer();
        let key = sealer
            .keys()
            .primary()
            .ok_or(crate::ConfigError::KeyRing("no primary key"))?;
        claims.issued_at = now;
        claims.expires_at = now
            .saturating_add(self.policy.token_ttl)
            .min(claims.session_deadline)
            .max(now);
        claims.flags = self.policy.binding.flags();
        // The nonce comes first: the binding MAC is keyed per token by it.
        let nonce = crate::sealer::fresh_nonce()?;
        claims.binding = self
            .policy
            .binding
            .hash(&key.binding, &nonce, claims.flags, client);
        let token = sealer.mint_with_nonce(&claims, nonce)?;
        let token_id = crate::sealer::token_id_of(&nonce);
        let session = Session {
            key_id: key.id,
            token_id,
            privilege: claims.privilege,
            claims,
        };
        Ok(Minted { token, session })
    }
}
