//! The verified-token cache changes no verdict: two worlds with the same keys, policy,
//! clock and operations, one with the cache and one without, must give the same answer to
//! every verify (spec/sessions.md §12).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;

use crate::clock::{Clock, ManualClock, UnixTime};
use crate::keys::{KeyId, KeyRing, KeyState, SessionKey};
use crate::revocation::{Durability, FilterConfig, MemoryStore, Revocation, RevocationStore};
use crate::session::binding::ClientContext;
use crate::session::manager::SessionManager;
use crate::session::policy::{Policy, Rotation};
use crate::token::claims::{BindingHash, Claims, Epoch, Flags, Privilege, SessionId};

const START: UnixTime = UnixTime(1_795_000_000);
const SUBJECTS: [&str; 2] = ["alice", "bob"];
const USER_AGENTS: [&str; 2] = ["Firefox/140", "curl/8"];

fn ring(version: u8) -> KeyRing {
    let key = |b: u8| SessionKey::from_bytes([b; 32]);
    let r = KeyRing::empty();
    match version {
        // Key 1 primary.
        0 => r.with_key(KeyId(1), KeyState::Primary, key(1)),
        // Key 2 added and promoted; key 1 still opens.
        1 => r
            .with_key(KeyId(1), KeyState::AcceptOnly, key(1))
            .and_then(|r| r.with_key(KeyId(2), KeyState::Primary, key(2))),
        // Key 1 retired.
        2 => r
            .with_key(KeyId(1), KeyState::Retired, key(1))
            .and_then(|r| r.with_key(KeyId(2), KeyState::Primary, key(2))),
        // Key 1 replaced by other material under the same id.
        _ => r.with_key(KeyId(1), KeyState::Primary, key(9)),
    }
    .unwrap()
}

struct World {
    manager: SessionManager,
    store: Arc<MemoryStore>,
    clock: ManualClock,
}

impl World {
    fn new(cache: usize, policy: Policy) -> Self {
        let store = Arc::new(MemoryStore::new(FilterConfig::default()).unwrap());
        let clock = ManualClock::new(START);
        let manager = SessionManager::builder(ring(0), "cache-test", store.clone())
            .with_policy(policy)
            .with_clock(Arc::new(clock.clone()))
            .with_verify_cache(cache)
            .build()
            .unwrap();
        Self {
            manager,
            store,
            clock,
        }
    }
}

fn client(i: usize) -> ClientContext<'static> {
    // Clients 0 and 1 share a /24 and differ in the last octet: the same binding, different
    // raw inputs. Client 2 is another network.
    let ip = ["203.0.113.7", "203.0.113.9", "198.51.100.1"][i % 3].parse().ok();
    ClientContext::new(ip, Some(USER_AGENTS[(i / 3) % 2]))
}

#[derive(Clone, Debug)]
enum Op {
    Mint {
        session: usize,
        subject: usize,
        elevated: bool,
        client: usize,
    },
    Verify {
        token: usize,
        client: usize,
    },
    RevokeSession {
        token: usize,
    },
    RevokeToken {
        token: usize,
    },
    LogoutEverywhere {
        subject: usize,
    },
    KillSwitch,
    Advance {
        secs: u64,
    },
    Keys {
        version: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0usize..3, 0usize..2, any::<bool>(), 0usize..6)
            .prop_map(|(session, subject, elevated, client)| Op::Mint { session, subject, elevated, client }),
        8 => (0usize..8, 0usize..6).prop_map(|(token, client)| Op::Verify { token, client }),
        1 => (0usize..8).prop_map(|token| Op::RevokeSession { token }),
        1 => (0usize..8).prop_map(|token| Op::RevokeToken { token }),
        1 => (0usize..2).prop_map(|subject| Op::LogoutEverywhere { subject }),
        1 => Just(Op::KillSwitch),
        2 => prop::sample::select(vec![1u64, 3, 6, 60, 299, 301, 1200, 1900]).prop_map(|secs| Op::Advance { secs }),
        1 => (0u8..4).prop_map(|version| Op::Keys { version }),
    ]
}

/// What a verify answered, reduced to what must not depend on the cache.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Accepted {
        session_id: SessionId,
        token_id: Option<[u8; 16]>,
        subject: Option<String>,
        privilege: Privilege,
        grace_copy: bool,
        replaced: bool,
    },
    Refused(crate::error::Reason),
}

fn verdict(manager: &SessionManager, token: &str, client: &ClientContext<'_>) -> Verdict {
    match manager.verify(token, client) {
        Ok(v) => Verdict::Accepted {
            session_id: *v.session.session_id(),
            // A replacement's id is random in each world; only an unreplaced one compares.
            token_id: v.replacement.is_none().then_some(v.session.token_id().0),
            subject: v.session.subject().map(str::to_owned),
            privilege: v.session.privilege(),
            grace_copy: v.session.is_grace_copy(),
            replaced: v.replacement.is_some(),
        },
        Err(e) => Verdict::Refused(e.reason()),
    }
}

/// Runs `ops` in both worlds; returns how many verifies the cached world answered from its
/// cache.
fn run(ops: &[Op], policy: Policy) -> Result<u64, TestCaseError> {
    let cached = World::new(64, policy.clone());
    let cold = World::new(0, policy);
    let mut tokens: Vec<(String, Epoch, SessionId, [u8; 16])> = Vec::new();
    let mut counter = 0u8;
    for op in ops {
        match *op {
            Op::Mint {
                session,
                subject,
                elevated,
                client: c,
            } => {
                let now = Clock::now(&cached.clock);
                let deadline = now.saturating_add(Duration::from_secs(8 * 3600));
                counter = counter.wrapping_add(1);
                let claims = Claims {
                    session_id: SessionId([u8::try_from(session).unwrap() + 1; 16]),
                    subject: Some(SUBJECTS[subject].into()),
                    privilege: if elevated {
                        Privilege::Elevated
                    } else {
                        Privilege::Authenticated
                    },
                    epoch: Epoch::containing(deadline),
                    issued_at: now,
                    expires_at: now.saturating_add(Duration::from_secs(1800)),
                    session_deadline: deadline,
                    authenticated_at: now,
                    binding: BindingHash::default(),
                    flags: Flags::default(),
                    app_data: Vec::new(),
                };
                let m = &cached.manager;
                let mut claims = claims;
                let input = m.policy.binding.bind(&mut claims, &client(c));
                let mut nonce = [counter; 24];
                nonce[0] = u8::try_from(tokens.len() % 256).unwrap();
                let Ok(sealed) = m.sealer.mint_bound_with_nonce(claims, input.as_deref(), nonce) else {
                    continue;
                };
                let text = sealed.token.expose_secret().to_owned();
                tokens.push((
                    text,
                    sealed.claims.epoch,
                    sealed.claims.session_id,
                    sealed.token_id.0,
                ));
            }
            Op::Verify { token, client: c } => {
                let Some((text, ..)) = tokens.get(token % tokens.len().max(1)) else {
                    continue;
                };
                let a = verdict(&cached.manager, text, &client(c));
                let b = verdict(&cold.manager, text, &client(c));
                prop_assert_eq!(a, b, "ops: {:?}", ops);
            }
            Op::RevokeSession { token } | Op::RevokeToken { token } => {
                let Some((_, epoch, sid, tid)) = tokens.get(token % tokens.len().max(1)) else {
                    continue;
                };
                let id = if matches!(op, Op::RevokeSession { .. }) {
                    sid.0
                } else {
                    *tid
                };
                for w in [&cached, &cold] {
                    w.store
                        .revoke_with(Revocation::Id { epoch: *epoch, id }, Durability::Local)
                        .unwrap();
                }
            }
            Op::LogoutEverywhere { subject } => {
                for w in [&cached, &cold] {
                    w.manager
                        .logout_everywhere(SUBJECTS[subject], &client(0))
                        .unwrap();
                }
            }
            Op::KillSwitch => {
                for w in [&cached, &cold] {
                    let before = w.manager.now().saturating_add(Duration::from_secs(1));
                    w.manager.kill_switch(before, &client(0)).unwrap();
                }
            }
            Op::Advance { secs } => {
                for w in [&cached, &cold] {
                    w.clock.advance(Duration::from_secs(secs));
                }
            }
            Op::Keys { version } => {
                for w in [&cached, &cold] {
                    w.manager.replace_keys(ring(version)).unwrap();
                }
            }
        }
    }
    Ok(cached.manager.cache.as_ref().map_or(0, |c| c.hits()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Default policy (rotation after 5 min, grace 5 s, elevation 5 min, binding to IP prefix
    /// and User-Agent, a mismatch revokes).
    #[test]
    fn the_cache_changes_no_verdict(ops in proptest::collection::vec(op(), 1..60)) {
        run(&ops, Policy::default())?;
    }

    /// No rotation (tokens are presented until they expire) and no binding.
    #[test]
    fn the_cache_changes_no_verdict_without_rotation_or_binding(ops in proptest::collection::vec(op(), 1..60)) {
        let policy = Policy::default()
            .with_rotation(Rotation::Off)
            .with_binding(crate::session::binding::Binding::none());
        run(&ops, policy)?;
    }
}

/// The property above is not vacuous: repeated verifies are answered from the cache.
#[test]
fn repeated_verifies_hit_the_cache() {
    let ops: Vec<Op> = std::iter::once(Op::Mint {
        session: 0,
        subject: 0,
        elevated: false,
        client: 0,
    })
    .chain((0..10).map(|_| Op::Verify { token: 0, client: 0 }))
    .chain([
        Op::Verify { token: 0, client: 1 },
        Op::Verify { token: 0, client: 1 },
    ])
    .chain([Op::RevokeToken { token: 0 }, Op::Verify { token: 0, client: 1 }])
    .collect();
    let hits = run(&ops, Policy::default().with_rotation(Rotation::Off)).unwrap();
    // 9 repeats from client 0, then client 1 misses once (other raw inputs) and hits once;
    // the revoked token's verify is a hit refused by its standing, so recomputed cold.
    assert_eq!(hits, 11);
}

/// A key-ring change empties the cache; entries hold at most the configured capacity.
#[test]
fn key_changes_empty_the_cache_and_capacity_bounds_it() {
    let world = World::new(8, Policy::default().with_rotation(Rotation::Off));
    let cache = world.manager.cache.as_ref().unwrap();
    assert_eq!(cache.capacity(), 8);
    let c = client(0);
    for _ in 0..40 {
        let t = world
            .manager
            .authenticate(None, "alice", Privilege::Authenticated, &c)
            .unwrap()
            .token;
        let _ = world.manager.verify(t.expose_secret(), &c).unwrap();
    }
    assert!(cache.len() <= 8 && cache.len() > 0, "{}", cache.len());
    world.manager.replace_keys(ring(1)).unwrap();
    let t = world
        .manager
        .authenticate(None, "alice", Privilege::Authenticated, &c)
        .unwrap()
        .token;
    let _ = world.manager.verify(t.expose_secret(), &c).unwrap();
    assert_eq!(cache.len(), 1);
}
