//! Privilege changes. Each consumes the verified session, revokes its token durably first,
//! then mints a successor with a fresh nonce: nothing ever adopts a client's identifier.

use std::sync::Arc;

use crate::clock::UnixTime;
use crate::revocation::{Durability, Revocation};
use crate::session::binding::ClientContext;
use crate::session::events::EventKind;
use crate::session::manager::SessionManager;
use crate::session::{Minted, Session, TransitionError};
use crate::token::claims::{Claims, Epoch, Flags, Privilege, SessionId};

impl SessionManager {
    /// Starts an anonymous session (a visitor before login).
    ///
    /// # Errors
    /// Minting failed (randomness, keys).
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
    pub fn begin(&self, client: &ClientContext<'_>) -> Result<Minted, TransitionError> {
        let (none, now) = (Flags::default(), self.clock.now());
        self.fresh_session(None, Privilege::Anonymous, Vec::new(), none, client, now)
    }

    /// Raises an authenticated session to elevated after the application re-verified the
    /// subject (step-up). The elevation lasts the policy's elevated TTL.
    ///
    /// # Errors
    /// Anonymous session or grace copy, too many session changes from this source, store
    /// failure, or minting.
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = SessionManager::builder(KeyRing::generate()?, "app", store).build()?;
    /// # let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
    /// # let alice = manager.authenticate(None, "alice", Privilege::Authenticated, &client)?;
    /// # let session = alice.session;
    /// // ... the user re-entered the password ...
    /// let elevated = manager.elevate(session, &client)?;
    /// assert_eq!(elevated.session.privilege(), Privilege::Elevated);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn elevate(&self, session: Session, client: &ClientContext<'_>) -> Result<Minted, TransitionError> {
        let now = self.clock.now();
        let minted = self.transition(session, Privilege::Elevated, Some(now), client, now)?;
        self.emit(
            EventKind::Elevation,
            self.tag(minted.session.session_id()),
            client,
        );
        Ok(minted)
    }

    /// Drops elevated privilege back to authenticated.
    ///
    /// # Errors
    /// Anonymous session or grace copy, too many session changes from this source, store
    /// failure, or minting.
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = SessionManager::builder(KeyRing::generate()?, "app", store).build()?;
    /// # let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
    /// # let alice = manager.authenticate(None, "alice", Privilege::Authenticated, &client)?;
    /// let elevated = manager.elevate(alice.session, &client)?;
    /// let back = manager.step_down(elevated.session, &client)?;
    /// assert_eq!(back.session.privilege(), Privilege::Authenticated);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn step_down(&self, session: Session, client: &ClientContext<'_>) -> Result<Minted, TransitionError> {
        let now = self.clock.now();
        let minted = self.transition(session, Privilege::Authenticated, None, client, now)?;
        self.emit(EventKind::StepDown, self.tag(minted.session.session_id()), client);
        Ok(minted)
    }

    /// Replaces the token with a fresh one at the same level (the old one gets the grace window).
    ///
    /// # Errors
    /// A grace copy, too many session changes from this source, store failure, or minting.
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = SessionManager::builder(KeyRing::generate()?, "app", store).build()?;
    /// # let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
    /// # let alice = manager.authenticate(None, "alice", Privilege::Authenticated, &client)?;
    /// let session_id = *alice.session.session_id();
    /// let fresh = manager.refresh(alice.session, &client)?;
    /// assert_eq!(fresh.session.session_id(), &session_id);
    /// assert_ne!(fresh.token.expose_secret(), alice.token.expose_secret());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn refresh(&self, session: Session, client: &ClientContext<'_>) -> Result<Minted, TransitionError> {
        self.refuse_grace_copy(&session, client)?;
        let now = self.clock.now();
        self.check_rate(client, now)?;
        let level = session.privilege;
        self.successor(&session, level, None, client, now, Durability::Synced)
    }

    /// Ends the session on every node: its id goes into the shared revocation filter.
    ///
    /// # Errors
    /// The store could not make the revocation durable (the session may still be live).
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = SessionManager::builder(KeyRing::generate()?, "app", store).build()?;
    /// # let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
    /// let alice = manager.authenticate(None, "alice", Privilege::Authenticated, &client)?;
    /// manager.logout(alice.session, &client)?;
    /// let refused = manager.verify(alice.token.expose_secret(), &client).unwrap_err();
    /// assert_eq!(refused.reason(), Reason::Revoked);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn logout(&self, session: Session, client: &ClientContext<'_>) -> Result<(), TransitionError> {
        let tag = self.tag(session.session_id());
        let durability = Self::durability_for(&session, Durability::Synced);
        self.revoke_session(
            session.claims.epoch,
            &session.claims.session_id,
            client,
            durability,
            tag,
        )?;
        self.emit(EventKind::Logout, tag, client);
        Ok(())
    }

    /// Ends every session of `subject` authenticated up to now, including earlier in the
    /// current second; a login after this call lives (spec/sessions.md §3, "Cutoffs").
    ///
    /// # Errors
    /// The store could not make the cutoff durable.
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = SessionManager::builder(KeyRing::generate()?, "app", store).build()?;
    /// # let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
    /// let laptop = manager.authenticate(None, "alice", Privilege::Authenticated, &client)?;
    /// let phone = manager.authenticate(None, "alice", Privilege::Authenticated, &client)?;
    /// manager.logout_everywhere("alice", &client)?;
    /// assert!(manager.verify(laptop.token.expose_secret(), &client).is_err());
    /// assert!(manager.verify(phone.token.expose_secret(), &client).is_err());
    /// // A login after the cutoff lives.
    /// let again = manager.authenticate(None, "alice", Privilege::Authenticated, &client)?;
    /// assert!(manager.verify(again.token.expose_secret(), &client).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn logout_everywhere(
        &self,
        subject: &str,
        client: &ClientContext<'_>,
    ) -> Result<(), TransitionError> {
        let cutoff = self.clock.now().saturating_add(CUTOFF_RESOLUTION);
        self.store.revoke(Revocation::Subject {
            subject: subject.to_owned(),
            cutoff,
        })?;
        self.emit_cutoff(EventKind::LogoutEverywhere, Some(subject), cutoff, client);
        Ok(())
    }

    /// Refuses every token issued before `before`, whatever its session (compromise
    /// response). `before` is capped at the end of the current second: pass
    /// `manager.now().saturating_add(Duration::from_secs(1))` to refuse everything issued so
    /// far. Tokens minted afterwards are stamped no earlier than the cutoff, so they live.
    ///
    /// # Errors
    /// The store could not make the kill switch durable.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = SessionManager::builder(KeyRing::generate()?, "app", store).build()?;
    /// # let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
    /// let alice = manager.authenticate(None, "alice", Privilege::Authenticated, &client)?;
    /// // A key leaked: refuse everything issued so far.
    /// manager.kill_switch(manager.now().saturating_add(Duration::from_secs(1)), &client)?;
    /// assert!(manager.verify(alice.token.expose_secret(), &client).is_err());
    /// let after = manager.begin(&client)?;
    /// assert!(manager.verify(after.token.expose_secret(), &client).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn kill_switch(&self, before: UnixTime, client: &ClientContext<'_>) -> Result<(), TransitionError> {
        let before = before.min(self.clock.now().saturating_add(CUTOFF_RESOLUTION));
        self.store.revoke(Revocation::KillSwitch { before })?;
        self.emit_cutoff(EventKind::KillSwitch, None, before, client);
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
        self.refuse_grace_copy(&session, client)?;
        self.check_rate(client, now)?;
        // The predecessor keeps the weaker-copy grace, so a request the browser already had
        // in flight during a step-up is served (at most authenticated) instead of being taken
        // for reuse.
        self.successor(&session, level, reauthenticated, client, now, Durability::Synced)
    }

    /// Revokes the current token, leaving it the weaker-copy grace window (spec/sessions.md
    /// §5), then mints its successor in the same session.
    pub(crate) fn successor(
        &self,
        session: &Session,
        level: Privilege,
        reauthenticated: Option<UnixTime>,
        client: &ClientContext<'_>,
        now: UnixTime,
        durability: Durability,
    ) -> Result<Minted, TransitionError> {
        let durability = Self::durability_for(session, durability);
        self.retire_token(session.claims.epoch, &session.token_id, now, durability)?;
        let mut claims = Claims::clone(&session.claims);
        claims.privilege = level;
        claims.authenticated_at = reauthenticated.unwrap_or(claims.authenticated_at);
        self.mint_claims(claims, client, now)
    }

    /// A session that never authenticated grants nothing worth remembering across a restart,
    /// so its revocations stay in this node's memory (no log write, no fsync).
    pub(super) fn durability_for(session: &Session, wanted: Durability) -> Durability {
        if session.claims.subject.is_none() {
            Durability::Local
        } else {
            wanted
        }
    }

    /// A replaced token, accepted inside its grace window, changes nothing (spec/sessions.md §5).
    fn refuse_grace_copy(
        &self,
        session: &Session,
        client: &ClientContext<'_>,
    ) -> Result<(), TransitionError> {
        if !session.grace_copy {
            return Ok(());
        }
        self.emit(
            EventKind::GraceCopyRefused,
            self.tag(session.session_id()),
            client,
        );
        Err(TransitionError::GraceCopy)
    }

    pub(super) fn check_rate(
        &self,
        client: &ClientContext<'_>,
        now: UnixTime,
    ) -> Result<(), TransitionError> {
        if self.limiter.allow(client.ip, now) {
            Ok(())
        } else {
            self.emit(EventKind::TransitionRateLimited, None, client);
            Err(TransitionError::RateLimited)
        }
    }

    /// A new session id, so nothing of a previous session (its id, its application data)
    /// carries over into the new one. `extra` are binding flags beyond the policy's (the
    /// application value of a DPoP login).
    pub(super) fn fresh_session(
        &self,
        subject: Option<&str>,
        level: Privilege,
        app_data: Vec<u8>,
        extra: Flags,
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
            flags: extra,
            app_data,
        };
        self.mint_claims(claims, client, now)
    }

    /// Stamps times, then has the sealer bind, seal and identify the token.
    fn mint_claims(
        &self,
        mut claims: Claims,
        client: &ClientContext<'_>,
        now: UnixTime,
    ) -> Result<Minted, TransitionError> {
        let fresh_authentication = claims.authenticated_at >= now;
        let issued_at = self.stamp_after_cutoffs(&claims, fresh_authentication, now);
        claims.issued_at = issued_at;
        if fresh_authentication {
            claims.authenticated_at = issued_at;
        }
        claims.expires_at = issued_at
            .saturating_add(self.policy.token_ttl)
            .min(claims.session_deadline)
            .max(issued_at);
        claims.session_deadline = claims.session_deadline.max(claims.expires_at);
        claims.epoch = claims.epoch.max(Epoch::containing(claims.session_deadline));
        // The policy's inputs, plus an application value the session was bound to at login
        // (it stays for the whole session: a successor never drops a binding).
        let sticky = claims.flags.0 & Flags::BIND_APP_VALUE;
        claims.flags = Flags(self.policy.binding.flags().0 | sticky);
        let input = self.policy.binding.input(claims.flags, client);
        let sealed = self.sealer.mint_bound(claims, input.as_deref())?;
        let session = Session {
            key_id: sealed.key_id,
            token_id: sealed.token_id,
            privilege: sealed.claims.privilege,
            claims: Arc::new(sealed.claims),
            grace_copy: false,
        };
        Ok(Minted {
            token: sealed.token,
            session,
        })
    }

    /// A cutoff `c` refuses tokens whose time is before `c`; a cutoff made now is `now + 1 s`
    /// (the resolution of token times), so a token minted in the same second is stamped at
    /// the cutoff and lives, while everything minted before the cutoff dies.
    fn stamp_after_cutoffs(&self, claims: &Claims, fresh_authentication: bool, now: UnixTime) -> UnixTime {
        let set = self.store.set();
        let mut at = now.max(set.kill_switch().unwrap_or(now));
        if fresh_authentication {
            if let Some(cutoff) = claims.subject.as_deref().and_then(|s| set.subject_cutoff(s)) {
                at = at.max(cutoff);
            }
        }
        // Never more than the cutoff resolution ahead: a later cutoff is refused at creation.
        at.min(now.saturating_add(CUTOFF_RESOLUTION))
    }
}

/// Token times are whole seconds: a cutoff made "now" covers the whole current second.
const CUTOFF_RESOLUTION: std::time::Duration = std::time::Duration::from_secs(1);
