//! The request path: token text and client context in, a verified session (and maybe a
//! replacement token) or an opaque rejection out.

use crate::binding::ClientContext;
use crate::claims::Privilege;
use crate::clock::UnixTime;
use crate::error::{Reason, Rejected};
use crate::manager::SessionManager;
use crate::policy::{MismatchAction, Rotation};
use crate::sealer::{Opened, Sealer};
use crate::session::{Session, Verified};

/// How the revocation filter judged a token.
enum Standing {
    Live,
    /// Rotated away less than a grace window ago: accept, but a successor already exists.
    InGrace,
}

impl SessionManager {
    /// Verifies `token` for `client` now (from the injected clock).
    ///
    /// # Errors
    /// An opaque [`Rejected`]; its reason is for logs. A reused rotated-away token, or a
    /// binding mismatch under [`MismatchAction::RejectAndRevoke`], also revokes the session.
    pub fn verify(&self, token: &str, client: &ClientContext<'_>) -> Result<Verified, Rejected> {
        self.verify_at(token, client, self.clock.now())
    }

    /// Verifies `token` for `client` as of `now`.
    ///
    /// # Errors
    /// As [`SessionManager::verify`].
    pub fn verify_at(
        &self,
        token: &str,
        client: &ClientContext<'_>,
        now: UnixTime,
    ) -> Result<Verified, Rejected> {
        let sealer = self.sealer();
        let opened = sealer
            .open_at(token, now)
            .map_err(|r| self.reject(r.reason(), None, client, now))?;
        // The session tag costs an HMAC: computed only when an event needs it.
        let tag = || self.tag(&sealer, &opened.claims.session_id);
        let standing = self
            .check_standing(&opened, client, now)
            .map_err(|reason| self.reject(reason, tag(), client, now))?;
        self.check_binding(&sealer, &opened, client)
            .map_err(|reason| self.reject(reason, tag(), client, now))?;
        let session = Session {
            key_id: opened.key_id,
            token_id: opened.token_id,
            privilege: opened.claims.privilege,
            claims: opened.claims,
        };
        match standing {
            Standing::InGrace => Ok(Verified {
                session,
                replacement: None,
            }),
            Standing::Live => self.rotate_if_due(session, client, now),
        }
    }

    /// Kill switch, logout-everywhere cutoff, then the filter (session id, token id).
    fn check_standing(
        &self,
        opened: &Opened,
        client: &ClientContext<'_>,
        now: UnixTime,
    ) -> Result<Standing, Reason> {
        let set = self.store.set();
        let claims = &opened.claims;
        if set.kill_switch().is_some_and(|before| claims.issued_at < before) {
            return Err(Reason::Revoked);
        }
        if let Some(subject) = &claims.subject {
            if set
                .subject_cutoff(subject)
                .is_some_and(|cutoff| claims.authenticated_at <= cutoff)
            {
                return Err(Reason::Revoked);
            }
        }
        let (epoch, sid, tid) = (claims.epoch, &claims.session_id, &opened.token_id);
        if !set.contains_either(epoch, &sid.0, &tid.0) {
            return Ok(Standing::Live);
        }
        if set.contains(epoch, &sid.0) {
            return Err(Reason::Revoked);
        }
        if self.within_grace(epoch, tid, now) {
            return Ok(Standing::InGrace);
        }
        // A replaced token came back after its grace window: whoever holds it may be an
        // attacker, so the whole session ends (fail closed, even if the store is down).
        let _ = self.revoke_session(epoch, sid, client);
        Err(Reason::Reused)
    }

    fn check_binding(
        &self,
        sealer: &Sealer,
        opened: &Opened,
        client: &ClientContext<'_>,
    ) -> Result<(), Reason> {
        let claims = &opened.claims;
        let key = sealer.ring_key(opened.key_id).ok_or(Reason::UnknownKey)?;
        if self
            .policy
            .binding
            .matches(&key.binding, &opened.nonce, claims.flags, &claims.binding, client)
        {
            return Ok(());
        }
        if self.policy.mismatch == MismatchAction::RejectAndRevoke {
            let _ = self.revoke_session(claims.epoch, &claims.session_id, client);
        }
        Err(Reason::Unbound)
    }

    /// Lapsed elevation steps down; an old enough token is replaced. Either way the presented
    /// token keeps the grace window. If minting fails the request still succeeds without a
    /// replacement: the presented token was valid.
    fn rotate_if_due(
        &self,
        mut session: Session,
        client: &ClientContext<'_>,
        now: UnixTime,
    ) -> Result<Verified, Rejected> {
        let elevation_lapsed = session.privilege == Privilege::Elevated
            && now
                >= session
                    .claims
                    .authenticated_at
                    .saturating_add(self.policy.elevated_ttl);
        if elevation_lapsed {
            session.privilege = Privilege::Authenticated;
        }
        let age = now.0.saturating_sub(session.claims.issued_at.0);
        let due = match self.policy.rotation {
            Rotation::Off => false,
            Rotation::EveryRequest => true,
            Rotation::After(d) => age >= d.as_secs(),
        };
        if !(due || elevation_lapsed) || now >= session.claims.session_deadline {
            return Ok(Verified {
                session,
                replacement: None,
            });
        }
        match self.successor(&session, session.privilege, None, client, now, true) {
            Ok(minted) => Ok(Verified {
                session: minted.session,
                replacement: Some(minted.token),
            }),
            Err(_) if !elevation_lapsed => Ok(Verified {
                session,
                replacement: None,
            }),
            // Elevated privilege must not outlive its TTL just because the store is down.
            Err(_) => Err(Rejected::from(Reason::Expired)),
        }
    }
}
