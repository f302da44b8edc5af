//! The request path: token text and client context in, a verified session (and maybe a
//! replacement token) or an opaque rejection out.

use std::sync::Arc;

use crate::clock::UnixTime;
use crate::error::{Reason, Rejected};
use crate::revocation::Durability;
use crate::session::binding::ClientContext;
use crate::session::cache::{Hit, Slot, VerifiedCache};
use crate::session::manager::SessionManager;
use crate::session::policy::{MismatchAction, Rotation};
use crate::session::{Session, Verified};
use crate::token::claims::{BindingHash, Claims, Flags, Privilege, TokenId};
use crate::token::sealer::Opened;

/// Whether verify may replace the token it accepted.
#[derive(Clone, Copy)]
enum Rotate {
    /// Rotation and a lapsed elevation mint a replacement (cookies: `Set-Cookie` delivers it).
    IfDue,
    /// Never: the client could not receive a replacement (bearer tokens; only the web layer
    /// has them).
    #[cfg_attr(not(feature = "web"), allow(dead_code))]
    Never,
}

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
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = SessionManager::builder(KeyRing::generate()?, "app", store).build()?;
    /// # let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
    /// let token = manager.authenticate(None, "alice", Privilege::Authenticated, &client)?.token;
    /// let verified = manager.verify(token.expose_secret(), &client)?;
    /// assert_eq!(verified.session.subject(), Some("alice"));
    /// // Another browser presenting the same token does not match its binding.
    /// let elsewhere = ClientContext::new("198.51.100.1".parse().ok(), Some("curl"));
    /// assert_eq!(manager.verify(token.expose_secret(), &elsewhere).unwrap_err().reason(), Reason::Unbound);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify(&self, token: &str, client: &ClientContext<'_>) -> Result<Verified, Rejected> {
        self.verify_at(token, client, self.clock.now())
    }

    /// Verifies `token` for `client` as of `now`.
    ///
    /// # Errors
    /// As [`SessionManager::verify`].
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = SessionManager::builder(KeyRing::generate()?, "app", store).build()?;
    /// # let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
    /// let token = manager.begin(&client)?.token;
    /// let later = manager.now().saturating_add(Duration::from_secs(3600));
    /// let refused = manager.verify_at(token.expose_secret(), &client, later).unwrap_err();
    /// assert_eq!(refused.reason(), Reason::Expired);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify_at(
        &self,
        token: &str,
        client: &ClientContext<'_>,
        now: UnixTime,
    ) -> Result<Verified, Rejected> {
        self.verify_with(token, client, now, Rotate::IfDue)
    }

    /// Verifies without ever replacing the token: no replacement is minted and nothing is
    /// retired (a lapsed elevation is still enforced, as the effective privilege). For tokens
    /// whose client never reads `Set-Cookie` (bearer tokens): a replacement it cannot see
    /// would turn its next request into reuse (spec/sessions.md §8.1).
    #[cfg_attr(not(feature = "web"), allow(dead_code))]
    pub(crate) fn verify_without_rotation(
        &self,
        token: &str,
        client: &ClientContext<'_>,
    ) -> Result<Verified, Rejected> {
        self.verify_with(token, client, self.clock.now(), Rotate::Never)
    }

    /// As [`Self::verify_without_rotation`] for a token presented with a verified DPoP proof
    /// (`client.app_value` = the proof key's thumbprint): the token must also be bound to an
    /// application value, since RFC 9449 §7.1 wants the proof key to match the key the token
    /// is bound to, and a token bound to none matches no key. Such a token is refused as
    /// unbound, without revoking: it proves no theft, its holder may use it as `Bearer`.
    #[cfg_attr(not(feature = "web"), allow(dead_code))]
    pub(crate) fn verify_proof_bound(
        &self,
        token: &str,
        client: &ClientContext<'_>,
    ) -> Result<Verified, Rejected> {
        let now = self.clock.now();
        let verified = self.verify_with(token, client, now, Rotate::Never)?;
        if verified.session.claims.flags.contains(Flags::BIND_APP_VALUE) {
            return Ok(verified);
        }
        let tag = self.tag(verified.session.session_id());
        Err(self.reject(Reason::Unbound, tag, client, now))
    }

    fn verify_with(
        &self,
        token: &str,
        client: &ClientContext<'_>,
        now: UnixTime,
        rotate: Rotate,
    ) -> Result<Verified, Rejected> {
        let Some(cache) = &self.cache else {
            return self.verify_cold(token, client, now, rotate, None);
        };
        let generation = self.sealer.keys().generation_at(now);
        let slot = cache.slot(token);
        if let Some(hit) = cache.lookup(slot, token, client, generation) {
            match self.accept_cached(hit, client, now, rotate) {
                Some(verdict) => return verdict,
                // A refusal is decided as if the token had never been cached: same checks,
                // same events, same cost, so its timing does not tell that it was.
                None => cache.remove(slot, token),
            }
        }
        self.verify_cold(token, client, now, rotate, Some((cache, generation, slot)))
    }

    /// A cached token: what opening and the binding MAC established is taken from the cache;
    /// the times, the standing and the policy's binding flags are checked as for a cold
    /// verify. `None` when any of them refuses (the caller then verifies cold).
    fn accept_cached(
        &self,
        hit: Hit,
        client: &ClientContext<'_>,
        now: UnixTime,
        rotate: Rotate,
    ) -> Option<Result<Verified, Rejected>> {
        self.sealer.check_times(&hit.claims, now).ok()?;
        let standing = self.check_standing(&hit.claims, &hit.token_id, now).ok()?;
        if !self.policy.binding.accepts(hit.claims.flags) {
            return None;
        }
        let session = Session {
            key_id: hit.key_id,
            token_id: hit.token_id,
            privilege: hit.claims.privilege,
            claims: hit.claims,
            grace_copy: matches!(standing, Standing::InGrace),
        };
        Some(self.accepted(session, client, now, rotate))
    }

    fn verify_cold(
        &self,
        token: &str,
        client: &ClientContext<'_>,
        now: UnixTime,
        rotate: Rotate,
        cache: Option<(&VerifiedCache, u64, Slot)>,
    ) -> Result<Verified, Rejected> {
        let opened = self
            .sealer
            .open_at(token, now)
            .map_err(|r| self.reject(r.reason(), None, client, now))?;
        let refuse = |(reason, revoke): (Reason, bool)| {
            // The session tag costs an HMAC: computed once, and only when a refusal needs it.
            let tag = self.tag(&opened.claims.session_id);
            if revoke {
                // In the set at once; written off this thread (a client triggers this at will).
                let claims = &opened.claims;
                let _ = self.revoke_session(
                    claims.epoch,
                    &claims.session_id,
                    client,
                    Durability::Background,
                    tag,
                );
            }
            self.reject(reason, tag, client, now)
        };
        // Both checks always run, so a revoked token costs what a mismatched one does and the
        // time of a refusal says little about which check failed; the verdicts keep the order
        // of spec/sessions.md §4.
        let standing = self.check_standing(&opened.claims, &opened.token_id, now);
        let binding = self.check_binding(&opened, client);
        let standing = standing.map_err(refuse)?;
        binding.map_err(refuse)?;
        let claims = Arc::new(opened.claims);
        if let Some((cache, generation, slot)) = cache {
            // Only a token that passed the AEAD, for the client inputs it was just matched with.
            cache.insert(
                slot,
                token,
                client,
                generation,
                opened.key_id,
                opened.token_id,
                &claims,
            );
        }
        let session = Session {
            key_id: opened.key_id,
            token_id: opened.token_id,
            privilege: claims.privilege,
            claims,
            grace_copy: matches!(standing, Standing::InGrace),
        };
        self.accepted(session, client, now, rotate)
    }

    /// An accepted token: a grace copy is weakened; any other may be rotated.
    fn accepted(
        &self,
        mut session: Session,
        client: &ClientContext<'_>,
        now: UnixTime,
        rotate: Rotate,
    ) -> Result<Verified, Rejected> {
        if session.grace_copy {
            // A replaced token is a weaker copy: never elevated, and never rotated again (its
            // successor exists), so it cannot fork the session.
            session.privilege = session.privilege.min(Privilege::Authenticated);
            return Ok(Verified {
                session,
                replacement: None,
            });
        }
        self.rotate_if_due(session, client, now, rotate)
    }

    /// Kill switch, logout-everywhere cutoff, then the filter (session id, token id).
    fn check_standing(
        &self,
        claims: &Claims,
        token_id: &TokenId,
        now: UnixTime,
    ) -> Result<Standing, (Reason, bool)> {
        let set = self.store.set();
        if set.kill_switch().is_some_and(|before| claims.issued_at < before) {
            return Err((Reason::Revoked, false));
        }
        if let Some(subject) = &claims.subject {
            if set
                .subject_cutoff(subject)
                .is_some_and(|cutoff| claims.authenticated_at < cutoff)
            {
                return Err((Reason::Revoked, false));
            }
        }
        let (epoch, sid, tid) = (claims.epoch, &claims.session_id, token_id);
        if !set.contains_either(epoch, &sid.0, &tid.0) {
            return Ok(Standing::Live);
        }
        if set.contains(epoch, &sid.0) {
            return Err((Reason::Revoked, false));
        }
        if self.within_grace(epoch, tid, now) {
            return Ok(Standing::InGrace);
        }
        // A replaced token came back after its grace window: whoever holds it may be an
        // attacker, so the whole session ends.
        Err((Reason::Reused, true))
    }

    /// The policy's inputs must all be bound in the token, and the encoded client context
    /// must be what the token was bound to (the sealer recomputes and compares it).
    fn check_binding(&self, opened: &Opened, client: &ClientContext<'_>) -> Result<(), (Reason, bool)> {
        let flags = opened.claims.flags;
        let bound = self.policy.binding.accepts(flags)
            && match self.policy.binding.input(flags, client) {
                Some(input) => opened.binding_matches(&input),
                None => opened.claims.binding == BindingHash::default(),
            };
        if bound {
            return Ok(());
        }
        Err((
            Reason::Unbound,
            self.policy.mismatch == MismatchAction::RejectAndRevoke,
        ))
    }

    /// Lapsed elevation steps down; an old enough token is replaced. Either way the presented
    /// token keeps the grace window. The predecessor's revocation is written in the
    /// background: a crash before it is written only leaves a token alive that was valid
    /// anyway (spec/sessions.md §3).
    fn rotate_if_due(
        &self,
        mut session: Session,
        client: &ClientContext<'_>,
        now: UnixTime,
        rotate: Rotate,
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
        let unchanged = |session| {
            Ok(Verified {
                session,
                replacement: None,
            })
        };
        let never = matches!(rotate, Rotate::Never);
        if never || !(due || elevation_lapsed) || now >= session.claims.session_deadline {
            return unchanged(session);
        }
        // One source cannot drive rotations (and so revocations) faster than its budget; the
        // token simply is not replaced yet. A lapsed elevation is still enforced: the
        // effective privilege above is recomputed on every request.
        if !self.limiter.allow(client.ip, now) {
            return unchanged(session);
        }
        let level = session.privilege;
        match self.successor(&session, level, None, client, now, Durability::Background) {
            Ok(minted) => Ok(Verified {
                session: minted.session,
                replacement: Some(minted.token),
            }),
            Err(_) if !elevation_lapsed => unchanged(session),
            // The lapsed elevated token could not be retired: refuse it rather than let it
            // live on (its own reason, its own event, counted like every rejection).
            Err(_) => Err(self.reject(
                Reason::StoreUnavailable,
                self.tag(session.session_id()),
                client,
                now,
            )),
        }
    }
}
