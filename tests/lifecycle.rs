//! The session state machine of spec/sessions.md: what each transition sets and revokes, and
//! that a store failure stops a privilege change instead of leaving the old privilege alive.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use sealed_session::revocation::{
    Durability, FilterConfig, MemoryStore, Revocation, RevocationSet, RevocationStore, StoreError,
};
use sealed_session::token::*;
use sealed_session::*;

#[test]
fn transitions_set_the_claims_the_spec_lists() {
    let r = rig(Policy::default().with_rotation(Rotation::Off));
    let visitor = r.manager.begin(&alice()).unwrap();
    assert_eq!(visitor.session.privilege(), Privilege::Anonymous);
    assert_eq!(visitor.session.subject(), None);
    let deadline = visitor.session.session_deadline();
    assert_eq!(
        deadline,
        T0.saturating_add(r.manager.policy().absolute_lifetime())
    );
    assert_eq!(visitor.session.epoch(), Epoch::containing(deadline));

    r.clock.advance(Duration::from_secs(10));
    let visitor = r
        .manager
        .verify(visitor.token.expose_secret(), &alice())
        .unwrap()
        .session;
    let login = r
        .manager
        .authenticate(Some(visitor), "alice", Privilege::Authenticated, &alice())
        .unwrap();
    assert_eq!(login.session.authenticated_at(), r.clock.now());
    assert_eq!(
        login.expires_at(),
        r.clock.now().saturating_add(r.manager.policy().token_ttl())
    );
    let sid = *login.session.session_id();

    r.clock.advance(Duration::from_secs(10));
    let elevated = r.manager.elevate(login.session, &alice()).unwrap();
    assert_eq!(
        elevated.session.session_id(),
        &sid,
        "elevation keeps the session id"
    );
    assert_eq!(
        elevated.session.authenticated_at(),
        r.clock.now(),
        "elevation is a re-authentication"
    );
    assert_ne!(elevated.session.token_id(), &TokenId([0; 16]));

    let down = r.manager.step_down(elevated.session, &alice()).unwrap();
    assert_eq!(down.session.privilege(), Privilege::Authenticated);
    assert_eq!(down.session.session_id(), &sid);
    let refreshed = r.manager.refresh(down.session, &alice()).unwrap();
    assert_eq!(refreshed.session.session_id(), &sid);
    assert_eq!(
        refreshed.session.session_deadline(),
        T0.saturating_add(Duration::from_secs(10))
            .saturating_add(r.manager.policy().absolute_lifetime())
    );
}

#[test]
fn anonymous_sessions_cannot_elevate_and_logins_need_a_level() {
    let r = rig(Policy::default());
    let visitor = r.manager.begin(&alice()).unwrap();
    assert!(matches!(
        r.manager.elevate(visitor.session, &alice()),
        Err(TransitionError::NotAuthenticated)
    ));
    assert!(matches!(
        r.manager
            .authenticate(None, "alice", Privilege::Anonymous, &alice()),
        Err(TransitionError::InvalidLogin(_))
    ));
    assert!(r
        .manager
        .authenticate(None, "", Privilege::Authenticated, &alice())
        .is_err());
    assert!(r
        .manager
        .authenticate(None, &"a".repeat(65), Privilege::Authenticated, &alice())
        .is_err());
}

#[test]
fn every_token_is_new_and_refresh_keeps_the_old_one_only_for_the_grace_window() {
    let r = rig(Policy::default().with_grace(Duration::from_secs(8)));
    let login = r
        .manager
        .authenticate(None, "alice", Privilege::Authenticated, &alice())
        .unwrap();
    let old = login.token.expose_secret().to_owned();
    let next = r.manager.refresh(login.session, &alice()).unwrap();
    assert_ne!(next.token.expose_secret(), old);
    r.clock.advance(Duration::from_secs(8));
    assert!(r.manager.verify(&old, &alice()).is_ok(), "within grace");
    r.clock.advance(Duration::from_secs(3));
    assert_eq!(reason(r.manager.verify(&old, &alice())), Reason::Reused);
}

#[test]
fn policy_bounds_are_enforced() {
    assert!(Policy::default()
        .with_grace(Duration::from_secs(31))
        .validate()
        .is_err());
    assert!(Policy::default()
        .with_leeway(Duration::from_secs(61))
        .validate()
        .is_err());
    assert!(Policy::default()
        .with_token_ttl(Duration::ZERO)
        .validate()
        .is_err());
    assert!(Policy::default()
        .with_absolute_lifetime(Duration::from_secs(60))
        .validate()
        .is_err());
    assert!(Policy::default()
        .with_rotation(Rotation::After(Duration::ZERO))
        .validate()
        .is_err());
    assert!(Policy::default()
        .with_binding(Binding::ip_prefix().with_ip_prefix(33, 56))
        .validate()
        .is_err());
    Policy::default().validate().unwrap();
}

/// A store whose revocations can be made to fail, as when a disk is full.
struct Flaky {
    inner: MemoryStore,
    broken: AtomicBool,
}

impl RevocationStore for Flaky {
    fn set(&self) -> &RevocationSet {
        self.inner.set()
    }

    fn revoke_with(&self, revocation: Revocation, durability: Durability) -> Result<(), StoreError> {
        if self.broken.load(Ordering::SeqCst) {
            return Err(StoreError::Io {
                context: "injected",
                source: std::io::Error::other("disk full"),
            });
        }
        self.inner.revoke_with(revocation, durability)
    }
}

#[test]
fn a_failing_store_blocks_privilege_changes_and_logout() {
    let flaky = Arc::new(Flaky {
        inner: MemoryStore::new(FilterConfig::default()).unwrap(),
        broken: AtomicBool::new(false),
    });
    let r = rig_with(Policy::default(), KeyRing::generate().unwrap(), flaky.clone());
    let login = r
        .manager
        .authenticate(None, "alice", Privilege::Authenticated, &alice())
        .unwrap();
    let elevated = r.manager.elevate(login.session, &alice()).unwrap();
    let text = elevated.token.expose_secret().to_owned();
    flaky.broken.store(true, Ordering::SeqCst);
    assert!(matches!(
        r.manager.step_down(elevated.session, &alice()),
        Err(TransitionError::Store(_))
    ));
    let again = r.manager.verify(&text, &alice()).unwrap();
    assert!(matches!(
        r.manager.logout(again.session, &alice()),
        Err(TransitionError::Store(_))
    ));
    flaky.broken.store(false, Ordering::SeqCst);
    let again = r.manager.verify(&text, &alice()).unwrap();
    r.manager.logout(again.session, &alice()).unwrap();
    assert_eq!(reason(r.manager.verify(&text, &alice())), Reason::Revoked);
}

/// A lapsed elevation that cannot be retired because the store is down is refused with its
/// own reason, through the rejection path: an event, and the flood detector counts it.
#[test]
fn a_store_failure_during_verify_has_its_own_reason_and_event() {
    let flaky = Arc::new(Flaky {
        inner: MemoryStore::new(FilterConfig::default()).unwrap(),
        broken: AtomicBool::new(false),
    });
    let policy = Policy::default().with_elevated_ttl(Duration::from_secs(60));
    let r = rig_with(policy, KeyRing::generate().unwrap(), flaky.clone());
    let login = r
        .manager
        .authenticate(None, "alice", Privilege::Authenticated, &alice())
        .unwrap();
    let elevated = r.manager.elevate(login.session, &alice()).unwrap();
    let text = elevated.token.expose_secret().to_owned();
    r.clock.advance(Duration::from_secs(61));
    flaky.broken.store(true, Ordering::SeqCst);
    for _ in 0..25 {
        assert_eq!(
            reason(r.manager.verify(&text, &alice())),
            Reason::StoreUnavailable
        );
    }
    assert!(r.events.saw(EventKind::Rejected(Reason::StoreUnavailable)));
    assert!(
        r.events.saw(EventKind::FloodDetected),
        "store failures are counted like every rejection"
    );
    flaky.broken.store(false, Ordering::SeqCst);
    let v = r.manager.verify(&text, &alice()).unwrap();
    assert_eq!(v.session.privilege(), Privilege::Authenticated);
}

#[test]
fn key_rotation_keeps_sessions_alive_across_nodes() {
    let store = Arc::new(MemoryStore::new(FilterConfig::default()).unwrap());
    let r = rig_with(
        Policy::default().with_rotation(Rotation::Off),
        KeyRing::parse(KEYS).unwrap(),
        store,
    );
    let login = r
        .manager
        .authenticate(None, "alice", Privilege::Authenticated, &alice())
        .unwrap();
    let text = login.token.expose_secret().to_owned();
    // Phase 1+2: the operator adds key 2 and promotes it; the node reloads its key file.
    let mut ring = KeyRing::parse(KEYS).unwrap();
    ring.insert(KeyId(2), KeyState::AcceptOnly, SessionKey::generate().unwrap())
        .unwrap();
    ring.promote(KeyId(2)).unwrap();
    let file = ring.to_key_file_text();
    r.manager.replace_keys(KeyRing::parse(&file).unwrap()).unwrap();
    let v = r.manager.verify(&text, &alice()).unwrap();
    let next = r.manager.refresh(v.session, &alice()).unwrap();
    assert_eq!(next.session.key_id(), KeyId(2));
    // Phase 3: retire key 1 once no key-1 token can be valid.
    let mut ring = KeyRing::parse(&file).unwrap();
    ring.retire(KeyId(1)).unwrap();
    r.manager.replace_keys(ring).unwrap();
    assert!(r.manager.verify(next.token.expose_secret(), &alice()).is_ok());
}

const KEYS: &str = "sealed-session-keys v1\n1 primary AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";

#[test]
fn sessions_cannot_outlive_their_revocations() {
    let store = Arc::new(
        MemoryStore::new(FilterConfig::default().with_max_lifetime(Duration::from_secs(3600))).unwrap(),
    );
    let built = SessionManager::builder(KeyRing::generate().unwrap(), "bank", store)
        .with_policy(Policy::default().with_absolute_lifetime(Duration::from_secs(7200)))
        .build();
    assert!(matches!(
        built,
        Err(ConfigError::Policy(PolicyError::OutlivesRevocations))
    ));
}

#[test]
fn app_data_rides_through_rotation_and_a_lapsed_elevation_but_not_into_a_new_login() {
    let r = rig(Policy::default().with_rotation(Rotation::After(Duration::from_secs(60))));
    let login = Login::new("alice").with_app_data(b"tenant=42");
    let first = r.manager.authenticate_with(None, login, &alice()).unwrap();
    let handle = r.manager.handle(&first.session);
    let elevated = r.manager.elevate(first.session, &alice()).unwrap();
    // Past the elevated TTL (and the rotation age): verify steps down with a replacement.
    r.clock.advance(r.manager.policy().elevated_ttl());
    let lapsed = r
        .manager
        .verify(elevated.token.expose_secret(), &alice())
        .unwrap();
    let replacement = lapsed.replacement.expect("the lapse mints a replacement");
    assert_eq!(lapsed.session.privilege(), Privilege::Authenticated);
    r.clock.advance(Duration::from_secs(61));
    let rotated = r.manager.verify(replacement.expose_secret(), &alice()).unwrap();
    let next = rotated.replacement.expect("rotation was due");
    let last = r.manager.verify(next.expose_secret(), &alice()).unwrap().session;
    assert_eq!(last.app_data(), b"tenant=42");
    assert_eq!(r.manager.handle(&last), handle);
    // A login replacing the session starts with its own data and handle.
    let again = r
        .manager
        .authenticate(Some(last), "alice", Privilege::Authenticated, &alice())
        .unwrap();
    assert!(again.session.app_data().is_empty());
    assert_ne!(r.manager.handle(&again.session), handle);
}
