//! The verify check order (spec/sessions.md §4): kill switch, subject cutoff, filter (session
//! id, then token id and grace), binding, then rotation; each cutoff at its exact second.

use std::sync::Arc;
use std::time::Duration;

use crate::revocation::{FilterConfig, MemoryStore, Revocation, RevocationStore};
use crate::token::Sealer;
use crate::token::{BindingHash, Claims, Epoch, Flags, SessionId};
use crate::*;

const T0: UnixTime = UnixTime(1_795_000_000);
const CONTEXT: &str = "mutation";
const SECRET: [u8; 32] = [0x21; 32];

struct Fixture {
    manager: SessionManager,
    clock: Arc<ManualClock>,
    store: Arc<MemoryStore>,
}

impl Fixture {
    fn new(policy: Policy) -> Self {
        let clock = Arc::new(ManualClock::new(T0));
        let store = Arc::new(MemoryStore::new(FilterConfig::default().with_capacity(1000)).unwrap());
        let keys = KeyRing::empty()
            .with_key(KeyId(1), KeyState::Primary, SessionKey::from_bytes(SECRET))
            .unwrap();
        let manager = SessionManager::builder(keys, CONTEXT, store.clone())
            .with_policy(policy)
            .with_clock(clock.clone())
            .build()
            .unwrap();
        Self {
            manager,
            clock,
            store,
        }
    }

    fn login(&self, level: Privilege) -> Minted {
        self.manager.authenticate(None, "alice", level, &here()).unwrap()
    }

    fn verify(&self, token: &Minted) -> Result<Verified, Reason> {
        self.verify_text(token.token.expose_secret(), &here())
    }

    fn verify_text(&self, token: &str, client: &ClientContext<'_>) -> Result<Verified, Reason> {
        self.manager.verify(token, client).map_err(|r| r.reason())
    }

    fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }
}

fn here() -> ClientContext<'static> {
    ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox/140"))
}

fn elsewhere() -> ClientContext<'static> {
    ClientContext::new("198.51.100.1".parse().ok(), Some("curl/8"))
}

/// Rotation off, so a verify never changes what the next one sees.
fn quiet() -> Policy {
    Policy::default().with_rotation(Rotation::Off)
}

#[test]
fn the_kill_switch_refuses_exactly_the_tokens_issued_before_it() {
    let f = Fixture::new(quiet());
    let alice = f.login(Privilege::Authenticated);
    let issued = alice.session.claims.issued_at;
    f.store.revoke(Revocation::KillSwitch { before: issued }).unwrap();
    assert!(f.verify(&alice).is_ok(), "issued at the cutoff: lives");
    f.store
        .revoke(Revocation::KillSwitch {
            before: UnixTime(issued.0 + 1),
        })
        .unwrap();
    assert_eq!(f.verify(&alice).err(), Some(Reason::Revoked));
}

#[test]
fn a_subject_cutoff_refuses_exactly_that_subjects_earlier_authentications() {
    let f = Fixture::new(quiet());
    let alice = f.login(Privilege::Authenticated);
    let bob = f
        .manager
        .authenticate(None, "bob", Privilege::Authenticated, &here())
        .unwrap();
    let anonymous = f.manager.begin(&here()).unwrap();
    let at = alice.session.authenticated_at();
    let cut = |cutoff: UnixTime| {
        f.store
            .revoke(Revocation::Subject {
                subject: "alice".into(),
                cutoff,
            })
            .unwrap();
    };
    cut(at);
    assert!(f.verify(&alice).is_ok(), "authenticated at the cutoff: lives");
    cut(UnixTime(at.0 + 1));
    assert_eq!(f.verify(&alice).err(), Some(Reason::Revoked));
    assert!(f.verify(&bob).is_ok(), "another subject's cutoff");
    assert!(
        f.verify(&anonymous).is_ok(),
        "an anonymous session has no subject"
    );
}

#[test]
fn a_revoked_session_is_revoked_before_its_binding_is_checked() {
    let f = Fixture::new(quiet());
    let alice = f.login(Privilege::Authenticated);
    let copy = alice.token.expose_secret().to_owned();
    f.manager.logout(alice.session, &here()).unwrap();
    assert_eq!(f.verify_text(&copy, &here()).err(), Some(Reason::Revoked));
    assert_eq!(f.verify_text(&copy, &elsewhere()).err(), Some(Reason::Revoked));
}

#[test]
fn a_binding_mismatch_revokes_the_session_only_when_the_policy_says_so() {
    for (action, after) in [
        (MismatchAction::RejectAndRevoke, Err(Reason::Revoked)),
        (MismatchAction::Reject, Ok(())),
    ] {
        let f = Fixture::new(quiet().with_mismatch_action(action));
        let alice = f.login(Privilege::Authenticated);
        let text = alice.token.expose_secret();
        assert_eq!(f.verify_text(text, &elsewhere()).err(), Some(Reason::Unbound));
        assert_eq!(f.verify_text(text, &here()).map(|_| ()), after, "{action:?}");
    }
}

#[test]
fn the_binding_covers_the_prefix_and_user_agent_and_nothing_else() {
    let f = Fixture::new(quiet());
    let alice = f.login(Privilege::Authenticated);
    let text = alice.token.expose_secret();
    let same_prefix = ClientContext::new("203.0.113.250".parse().ok(), Some("Firefox/140"));
    let other_prefix = ClientContext::new("203.0.114.7".parse().ok(), Some("Firefox/140"));
    let other_agent = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox/141"));
    let no_agent = ClientContext::new("203.0.113.7".parse().ok(), None);
    assert!(f.verify_text(text, &same_prefix).is_ok());
    let reject = Fixture::new(quiet().with_mismatch_action(MismatchAction::Reject));
    let bob = reject.login(Privilege::Authenticated);
    for client in [other_prefix, other_agent, no_agent] {
        assert_eq!(
            reject.verify_text(bob.token.expose_secret(), &client).err(),
            Some(Reason::Unbound),
            "{client:?}"
        );
    }
    assert!(reject.verify(&bob).is_ok());
}

/// A token bound to fewer inputs than the policy binds is refused; one bound to more is
/// accepted when the bound inputs match.
#[test]
fn a_token_must_bind_every_input_of_the_policy() {
    let keys = || {
        KeyRing::empty()
            .with_key(KeyId(1), KeyState::Primary, SessionKey::from_bytes(SECRET))
            .unwrap()
    };
    let manager = |binding: Binding| {
        let store = Arc::new(MemoryStore::new(FilterConfig::default().with_capacity(100)).unwrap());
        let policy = quiet()
            .with_binding(binding)
            .with_mismatch_action(MismatchAction::Reject);
        SessionManager::builder(keys(), CONTEXT, store)
            .with_policy(policy)
            .with_clock(Arc::new(ManualClock::new(T0)))
            .build()
            .unwrap()
    };
    let (ip, both, none) = (
        manager(Binding::ip_prefix()),
        manager(Binding::ip_and_user_agent()),
        manager(Binding::none()),
    );
    let mint = |m: &SessionManager| {
        m.authenticate(None, "alice", Privilege::Authenticated, &here())
            .unwrap()
            .token
    };
    let verify = |m: &SessionManager, t: &SealedToken| m.verify(t.expose_secret(), &here()).map(|_| ());
    let (by_ip, by_both, by_none) = (mint(&ip), mint(&both), mint(&none));
    assert_eq!(
        verify(&both, &by_ip).map_err(|r| r.reason()),
        Err(Reason::Unbound)
    );
    assert!(verify(&ip, &by_both).is_ok());
    assert!(verify(&none, &by_none).is_ok());
    assert!(verify(&none, &by_ip).is_ok(), "bound inputs that match");
    assert_eq!(
        verify(&ip, &by_none).map_err(|r| r.reason()),
        Err(Reason::Unbound)
    );
}

/// An unbound token (flags 0) must carry the zero binding value.
#[test]
fn an_unbound_token_with_a_binding_value_is_refused() {
    let store = Arc::new(MemoryStore::new(FilterConfig::default().with_capacity(100)).unwrap());
    let keys = KeyRing::empty()
        .with_key(KeyId(1), KeyState::Primary, SessionKey::from_bytes(SECRET))
        .unwrap();
    let keys = Keys::new(keys).unwrap();
    let manager = SessionManager::builder(keys.clone(), CONTEXT, store)
        .with_policy(quiet().with_binding(Binding::none()))
        .with_clock(Arc::new(ManualClock::new(T0)))
        .build()
        .unwrap();
    let sealer = Sealer::with_keys(keys, CONTEXT).unwrap();
    let deadline = UnixTime(T0.0 + 3600);
    let claims = |binding: [u8; 16]| Claims {
        session_id: SessionId([5; 16]),
        subject: Some("alice".into()),
        privilege: Privilege::Authenticated,
        epoch: Epoch::containing(deadline),
        issued_at: T0,
        expires_at: UnixTime(T0.0 + 600),
        session_deadline: deadline,
        authenticated_at: T0,
        binding: BindingHash(binding),
        flags: Flags::default(),
        app_data: Vec::new(),
    };
    let zero = sealer.mint(&claims([0; 16])).unwrap();
    assert!(manager.verify(zero.expose_secret(), &here()).is_ok());
    let mut last = [0; 16];
    last[15] = 1;
    let nonzero = sealer.mint(&claims(last)).unwrap();
    let refused = manager.verify(nonzero.expose_secret(), &here()).unwrap_err();
    assert_eq!(refused.reason(), Reason::Unbound);
}

#[test]
fn rotation_after_a_duration_replaces_a_token_from_that_age_on() {
    let f = Fixture::new(Policy::default().with_rotation(Rotation::After(Duration::from_secs(300))));
    let alice = f.login(Privilege::Authenticated);
    f.advance(299);
    let young = f.verify(&alice).unwrap();
    assert!(young.replacement.is_none());
    f.advance(1);
    let due = f.verify(&alice).unwrap();
    let replacement = due.replacement.expect("rotated at 300 s");
    assert_ne!(replacement.expose_secret(), alice.token.expose_secret());
    assert_eq!(due.session.session_id(), alice.session.session_id());
}

#[test]
fn rotation_off_never_and_every_request_always_replaces() {
    let off = Fixture::new(quiet());
    let a = off.login(Privilege::Authenticated);
    off.advance(1000);
    assert!(off.verify(&a).unwrap().replacement.is_none());
    let every = Fixture::new(Policy::default().with_rotation(Rotation::EveryRequest));
    let b = every.login(Privilege::Authenticated);
    assert!(every.verify(&b).unwrap().replacement.is_some());
}

/// Within the grace window a rotated-away token is a weaker copy; after it, its return ends
/// the whole session.
#[test]
fn a_replaced_token_is_a_grace_copy_then_reuse() {
    let policy = Policy::default()
        .with_rotation(Rotation::EveryRequest)
        .with_grace(Duration::from_secs(8));
    let f = Fixture::new(policy);
    let alice = f.login(Privilege::Authenticated);
    let alice = f.manager.elevate(alice.session, &here()).unwrap();
    let rotated = f.verify(&alice).unwrap();
    assert_eq!(rotated.session.privilege(), Privilege::Elevated);
    let successor = rotated.replacement.expect("every request rotates");
    let copy = f.verify(&alice).unwrap();
    assert!(copy.session.is_grace_copy());
    assert!(copy.replacement.is_none(), "a grace copy is never rotated again");
    assert_eq!(
        copy.session.privilege(),
        Privilege::Authenticated,
        "never elevated"
    );
    assert!(f.verify_text(successor.expose_secret(), &here()).is_ok());
    f.advance(60);
    assert_eq!(f.verify(&alice).err(), Some(Reason::Reused));
    assert_eq!(
        f.verify_text(successor.expose_secret(), &here()).err(),
        Some(Reason::Revoked),
        "reuse revoked the session"
    );
}

#[test]
fn without_grace_a_replaced_token_is_reuse_at_once() {
    let policy = Policy::default()
        .with_rotation(Rotation::EveryRequest)
        .with_grace(Duration::ZERO);
    let f = Fixture::new(policy);
    let alice = f.login(Privilege::Authenticated);
    assert!(f.verify(&alice).unwrap().replacement.is_some());
    assert_eq!(f.verify(&alice).err(), Some(Reason::Reused));
}

#[test]
fn an_elevation_lapses_at_exactly_its_ttl_and_is_replaced_even_without_rotation() {
    let policy = quiet().with_elevated_ttl(Duration::from_secs(120));
    let f = Fixture::new(policy);
    let alice = f.login(Privilege::Authenticated);
    let alice = f.manager.elevate(alice.session, &here()).unwrap();
    f.advance(119);
    let still = f.verify(&alice).unwrap();
    assert_eq!(still.session.privilege(), Privilege::Elevated);
    assert!(still.replacement.is_none());
    f.advance(1);
    let lapsed = f.verify(&alice).unwrap();
    assert_eq!(lapsed.session.privilege(), Privilege::Authenticated);
    let successor = lapsed.replacement.expect("a lapsed elevation is replaced");
    let next = f.verify_text(successor.expose_secret(), &here()).unwrap();
    assert_eq!(next.session.privilege(), Privilege::Authenticated);
}

/// A memory store whose writes fail while `broken` is set (a full disk, a lost connection).
struct Flaky {
    inner: MemoryStore,
    broken: std::sync::atomic::AtomicBool,
}

impl RevocationStore for Flaky {
    fn set(&self) -> &crate::revocation::RevocationSet {
        self.inner.set()
    }

    fn revoke_with(
        &self,
        revocation: Revocation,
        durability: crate::revocation::Durability,
    ) -> Result<(), crate::revocation::StoreError> {
        if self.broken.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(crate::revocation::StoreError::Io {
                context: "injected",
                source: std::io::Error::other("disk full"),
            });
        }
        self.inner.revoke_with(revocation, durability)
    }
}

/// When the store cannot take the revocation a replacement needs: a token due for rotation
/// is simply kept (the next request tries again), but a lapsed elevation, which must not live
/// on, is refused with `StoreUnavailable` (caught the mutants of the `!elevation_lapsed`
/// guard in `rotate_if_due`).
#[test]
fn a_failed_replacement_keeps_a_rotated_token_but_refuses_a_lapsed_elevation() {
    let clock = Arc::new(ManualClock::new(T0));
    let flaky = Arc::new(Flaky {
        inner: MemoryStore::new(FilterConfig::default().with_capacity(1000)).unwrap(),
        broken: std::sync::atomic::AtomicBool::new(false),
    });
    let keys = KeyRing::empty()
        .with_key(KeyId(1), KeyState::Primary, SessionKey::from_bytes(SECRET))
        .unwrap();
    let policy = Policy::default()
        .with_rotation(Rotation::After(Duration::from_secs(60)))
        .with_elevated_ttl(Duration::from_secs(120));
    let manager = SessionManager::builder(keys, CONTEXT, flaky.clone())
        .with_policy(policy)
        .with_clock(clock.clone())
        .build()
        .unwrap();
    let verify = |t: &str| manager.verify(t, &here()).map_err(|r| r.reason());
    let plain = manager
        .authenticate(None, "alice", Privilege::Authenticated, &here())
        .unwrap();
    let login = manager
        .authenticate(None, "bob", Privilege::Authenticated, &here())
        .unwrap();
    let elevated = manager.elevate(login.session, &here()).unwrap();
    clock.advance(Duration::from_secs(120));
    flaky.broken.store(true, std::sync::atomic::Ordering::SeqCst);
    let kept = verify(plain.token.expose_secret()).expect("a due rotation that fails keeps the token");
    assert!(kept.replacement.is_none());
    assert_eq!(kept.session.privilege(), Privilege::Authenticated);
    assert_eq!(
        verify(elevated.token.expose_secret()).err(),
        Some(Reason::StoreUnavailable)
    );
    flaky.broken.store(false, std::sync::atomic::Ordering::SeqCst);
    let stepped = verify(elevated.token.expose_secret()).unwrap();
    assert_eq!(stepped.session.privilege(), Privilege::Authenticated);
    assert!(stepped.replacement.is_some());
}
