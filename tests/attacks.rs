//! Every library-level session-fixation attack (CAPEC-61; Wikipedia, "Session fixation") and the
//! "ghost session", performed as an attacker would, each shown failing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use sealed_session::*;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Threat 2 of the README table (CAPEC-61 "predefined identifier"): Mallory invents `I_WILL_KNOW_THE_SID`, or any
/// token-shaped string, and hopes the bank adopts it at login.
#[test]
fn attacker_chosen_identifier_is_never_adopted() {
    let r = rig(Policy::default());
    let mut fake = String::from("AQE");
    fake.push_str(&"A".repeat(127));
    for chosen in ["I_WILL_KNOW_THE_SID", "", "x", fake.as_str()] {
        let refused = r.manager.verify(chosen, &alice());
        assert!(matches!(
            reason(refused),
            Reason::Malformed | Reason::Forged | Reason::UnknownKey | Reason::BadClaims
        ));
    }
    // The victim has no verified session to hand to login, so login starts a fresh one; the
    // invented identifier stays worthless afterwards.
    let login = r
        .manager
        .authenticate(None, "alice", Privilege::Authenticated, &alice())
        .unwrap();
    assert_ne!(login.token.expose_secret(), "I_WILL_KNOW_THE_SID");
    assert!(r.manager.verify("I_WILL_KNOW_THE_SID", &alice()).is_err());
    assert!(r.events.saw(EventKind::Rejected(Reason::Malformed)));
}

/// Threat 3 of the README table (Wikipedia "server generated SID"): Mallory obtains a genuine anonymous token and
/// plants it in Alice's browser; Alice logs in with it.
#[test]
fn planted_server_issued_token_is_anonymous_then_dead() {
    let r = rig(Policy::default().with_binding(Binding::none()));
    let planted = r.manager.begin(&mallory()).unwrap();
    let planted_text = planted.token.expose_secret().to_owned();

    let alice_view = r.manager.verify(&planted_text, &alice()).unwrap();
    assert_eq!(alice_view.session.privilege(), Privilege::Anonymous);
    let planted_sid = *alice_view.session.session_id();
    let login = r
        .manager
        .authenticate(
            Some(alice_view.session),
            "alice",
            Privilege::Authenticated,
            &alice(),
        )
        .unwrap();
    assert_ne!(
        login.session.session_id(),
        &planted_sid,
        "login must start a new session id"
    );
    assert_ne!(login.token.expose_secret(), planted_text);

    assert_eq!(
        reason(r.manager.verify(&planted_text, &mallory())),
        Reason::Revoked
    );
    let alice_now = r.manager.verify(login.token.expose_secret(), &alice()).unwrap();
    assert_eq!(alice_now.session.subject(), Some("alice"));
}

/// Threat 5 of the README table (CAPEC-61 JRun): privilege kept after elevation. The pre-elevation token must not
/// carry the elevated privilege, the elevated one dies at step-down and lapses by time.
#[test]
fn privilege_is_not_kept_across_elevation_and_step_down() {
    let r = rig(Policy::default()
        .with_elevated_ttl(secs(120))
        .with_rotation(Rotation::Off));
    let login = r
        .manager
        .authenticate(None, "alice", Privilege::Authenticated, &alice())
        .unwrap();
    let before = login.token.expose_secret().to_owned();
    let elevated = r.manager.elevate(login.session, &alice()).unwrap();
    assert_eq!(elevated.session.privilege(), Privilege::Elevated);
    let elevated_text = elevated.token.expose_secret().to_owned();

    let stepped = r.manager.step_down(elevated.session, &alice()).unwrap();
    assert_eq!(stepped.session.privilege(), Privilege::Authenticated);
    // Inside the grace window the elevated predecessor is only a weaker copy.
    let copy = r.manager.verify(&elevated_text, &alice()).unwrap();
    assert_eq!(copy.session.privilege(), Privilege::Authenticated);
    assert!(copy.session.is_grace_copy());
    r.clock.advance(secs(10));
    assert_eq!(reason(r.manager.verify(&elevated_text, &alice())), Reason::Reused);

    // A second session: elevation lapses after its TTL even if nobody steps down.
    let login = r
        .manager
        .authenticate(None, "alice", Privilege::Authenticated, &alice())
        .unwrap();
    let elevated = r.manager.elevate(login.session, &alice()).unwrap();
    r.clock.advance(secs(121));
    let later = r
        .manager
        .verify(elevated.token.expose_secret(), &alice())
        .unwrap();
    assert_eq!(later.session.privilege(), Privilege::Authenticated);
    assert!(
        later.replacement.is_some(),
        "the lapse mints an authenticated token"
    );
    // The token from before any elevation of the first session is dead too.
    assert!(r.manager.verify(&before, &alice()).is_err());
}

/// Threat 6 of the README table (Wikipedia "verify additional information"; CAPEC "multiple origins"): a stolen token
/// replayed from Mallory's machine is refused, and by policy the session ends for everyone.
#[test]
fn stolen_token_replayed_from_elsewhere_is_refused_and_revokes() {
    let r = rig(Policy::default());
    let login = r
        .manager
        .authenticate(None, "alice", Privilege::Authenticated, &alice())
        .unwrap();
    let stolen = login.token.expose_secret().to_owned();
    assert_eq!(reason(r.manager.verify(&stolen, &mallory())), Reason::Unbound);
    assert!(r.events.saw(EventKind::BindingMismatch));
    assert_eq!(reason(r.manager.verify(&stolen, &alice())), Reason::Revoked);

    // Same network, other browser: the User-Agent binding alone still refuses it.
    let r = rig(Policy::default().with_mismatch_action(MismatchAction::Reject));
    let login = r
        .manager
        .authenticate(None, "alice", Privilege::Authenticated, &alice())
        .unwrap();
    let same_net = ClientContext::new(ip("203.0.113.99"), Some("curl/8.0"));
    assert_eq!(
        reason(r.manager.verify(login.token.expose_secret(), &same_net)),
        Reason::Unbound
    );
    assert!(
        r.manager.verify(login.token.expose_secret(), &alice()).is_ok(),
        "Reject mode keeps the owner"
    );

    // A TLS channel-binding value supplied by the application.
    let r = rig(Policy::default().with_binding(Binding::app_value()));
    let chan = ClientContext::default().with_app_value(b"exporter-of-alice-connection");
    let login = r
        .manager
        .authenticate(None, "alice", Privilege::Authenticated, &chan)
        .unwrap();
    let other = ClientContext::default().with_app_value(b"exporter-of-mallory-connection");
    assert_eq!(
        reason(r.manager.verify(login.token.expose_secret(), &other)),
        Reason::Unbound
    );
}

/// Threat 7 of the README table: a rotated-away token presented again after the grace window revokes the session.
#[test]
fn rotated_away_token_reused_after_grace_revokes_the_session() {
    let r = rig(Policy::default()
        .with_rotation(Rotation::After(secs(60)))
        .with_grace(secs(4)));
    let login = r
        .manager
        .authenticate(None, "alice", Privilege::Authenticated, &alice())
        .unwrap();
    let old = login.token.expose_secret().to_owned();
    r.clock.advance(secs(61));
    let rotated = r.manager.verify(&old, &alice()).unwrap();
    let new = rotated
        .replacement
        .expect("rotation is due")
        .expose_secret()
        .to_owned();
    // In-flight requests with the old token inside the grace window still work.
    r.clock.advance(secs(2));
    let in_grace = r.manager.verify(&old, &alice()).unwrap();
    assert!(in_grace.replacement.is_none());
    r.clock.advance(secs(10));
    assert_eq!(reason(r.manager.verify(&old, &alice())), Reason::Reused);
    assert!(r.events.saw(EventKind::ReuseDetected));
    assert!(r.events.saw(EventKind::SessionRevoked));
    assert_eq!(
        reason(r.manager.verify(&new, &alice())),
        Reason::Revoked,
        "whole session ends"
    );
}

/// Threat 8 of the README table (vendor guide "strong logout"): logout on one node is enforced on another node that
/// shares the revocation store; logout-everywhere and the kill switch cut whole populations.
#[test]
fn logout_is_enforced_on_every_node() {
    let keys = "sealed-session-keys v1\n1 primary AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";
    let node_a = rig(Policy::default());
    let node_b = rig_with(
        Policy::default(),
        KeyRing::parse(keys).unwrap(),
        node_a.store.clone(),
    );
    let node_a = rig_with(
        Policy::default(),
        KeyRing::parse(keys).unwrap(),
        node_a.store.clone(),
    );
    let login = node_a
        .manager
        .authenticate(None, "alice", Privilege::Authenticated, &alice())
        .unwrap();
    let text = login.token.expose_secret().to_owned();
    let on_b = node_b.manager.verify(&text, &alice()).unwrap();
    node_b.manager.logout(on_b.session, &alice()).unwrap();
    assert_eq!(reason(node_a.manager.verify(&text, &alice())), Reason::Revoked);
    assert_eq!(reason(node_b.manager.verify(&text, &alice())), Reason::Revoked);
}

#[test]
fn logout_everywhere_and_kill_switch_end_every_matching_session() {
    let r = rig(Policy::default());
    let phone = ClientContext::new(ip("192.0.2.1"), Some("Phone/1.0"));
    let laptop = r
        .manager
        .authenticate(None, "alice", Privilege::Authenticated, &alice())
        .unwrap();
    let mobile = r
        .manager
        .authenticate(None, "alice", Privilege::Authenticated, &phone)
        .unwrap();
    let bob = r
        .manager
        .authenticate(None, "bob", Privilege::Authenticated, &mallory())
        .unwrap();
    r.manager.logout_everywhere("alice", &alice()).unwrap();
    assert_eq!(
        reason(r.manager.verify(laptop.token.expose_secret(), &alice())),
        Reason::Revoked
    );
    assert_eq!(
        reason(r.manager.verify(mobile.token.expose_secret(), &phone)),
        Reason::Revoked
    );
    assert!(r.manager.verify(bob.token.expose_secret(), &mallory()).is_ok());
    r.clock.advance(secs(1));
    let again = r
        .manager
        .authenticate(None, "alice", Privilege::Authenticated, &alice())
        .unwrap();
    assert!(
        r.manager.verify(again.token.expose_secret(), &alice()).is_ok(),
        "a new login works"
    );

    r.clock.advance(secs(1));
    r.manager.kill_switch(r.clock.now(), &alice()).unwrap();
    assert_eq!(
        reason(r.manager.verify(bob.token.expose_secret(), &mallory())),
        Reason::Revoked
    );
    assert_eq!(
        reason(r.manager.verify(again.token.expose_secret(), &alice())),
        Reason::Revoked
    );
    let fresh = r.manager.begin(&alice()).unwrap();
    assert!(r.manager.verify(fresh.token.expose_secret(), &alice()).is_ok());
}

/// Threat 9 of the README table (vendor guide "timeout and replace"): idle tokens expire, and rolling rotation
/// cannot stretch a session past its absolute deadline.
#[test]
fn old_identifiers_do_not_live_forever() {
    let policy = Policy::default()
        .with_token_ttl(secs(600))
        .with_absolute_lifetime(secs(3600))
        .with_rotation(Rotation::After(secs(300)))
        .with_leeway(secs(1));
    let r = rig(policy);
    let login = r
        .manager
        .authenticate(None, "alice", Privilege::Authenticated, &alice())
        .unwrap();
    r.clock.advance(secs(601));
    assert_eq!(
        reason(r.manager.verify(login.token.expose_secret(), &alice())),
        Reason::Expired
    );

    let mut current = r
        .manager
        .authenticate(None, "alice", Privilege::Authenticated, &alice())
        .unwrap()
        .token;
    let start = r.clock.now();
    let mut alive_until = start;
    for _ in 0..20 {
        r.clock.advance(secs(301));
        match r.manager.verify(current.expose_secret(), &alice()) {
            Ok(v) => {
                alive_until = r.clock.now();
                if let Some(next) = v.replacement {
                    current = next;
                }
            }
            Err(e) => {
                assert_eq!(e.reason(), Reason::Expired);
                break;
            }
        }
    }
    assert!(
        alive_until.0 - start.0 <= 3600,
        "session outlived its absolute lifetime"
    );
    assert!(r.manager.verify(current.expose_secret(), &alice()).is_err());
}

/// Threat 11 of the README table (CAPEC-61 predictable or brute-forced identifiers).
#[test]
fn identifiers_are_unpredictable_and_unguessable() {
    let r = rig(Policy::default().with_binding(Binding::none()));
    let mut sessions = HashSet::new();
    let mut tokens = HashSet::new();
    let mut ones = [0u32; 128];
    let n = 4000;
    for _ in 0..n {
        let m = r.manager.begin(&alice()).unwrap();
        let sid = m.session.session_id().0;
        for (i, count) in ones.iter_mut().enumerate() {
            *count += u32::from(sid[i / 8] >> (i % 8) & 1);
        }
        assert!(sessions.insert(sid));
        assert!(tokens.insert(m.session.token_id().0));
    }
    // Each bit is set in about half the ids (binomial: 6 sigma is ±190 around 2000).
    assert!(
        ones.iter().all(|&c| (1810..=2190).contains(&c)),
        "biased session-id bits"
    );
    // Brute force: random well-formed tokens under the right key id never open.
    let genuine = r
        .manager
        .begin(&alice())
        .unwrap()
        .token
        .expose_secret()
        .to_owned();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for _ in 0..20_000 {
        let mut guess: Vec<u8> = genuine.as_bytes()[..3].to_vec();
        for _ in 3..genuine.len() - 1 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            guess.push(alphabet[(state % 64) as usize]);
        }
        guess.push(b'A');
        let refused = r.manager.verify(std::str::from_utf8(&guess).unwrap(), &alice());
        assert!(matches!(reason(refused), Reason::Forged | Reason::UnknownKey));
    }
}

/// Threat 12 of the README table (CAPEC-61 security control): a flood of unknown identifiers is detected per source.
#[test]
fn flood_of_unknown_identifiers_is_detected() {
    let r = rig(Policy::default());
    for i in 0..25 {
        let _ = r.manager.verify(&format!("guess-{i}"), &mallory());
    }
    let floods: Vec<_> = r
        .events
        .events()
        .into_iter()
        .filter(|e| e.kind == EventKind::FloodDetected)
        .collect();
    assert_eq!(floods.len(), 1, "one flood event per window");
    assert_eq!(floods[0].source, mallory().ip);
    let _ = r.manager.verify("one-mistake", &alice());
    let floods = r
        .events
        .events()
        .into_iter()
        .filter(|e| e.kind == EventKind::FloodDetected)
        .count();
    assert_eq!(floods, 1, "an honest client with one bad token is not a flood");
}

/// Seeds' "ghost session": Mallory logs into her own account and plants that authenticated
/// token in Alice's browser, hoping Alice acts (and types secrets) as Mallory.
#[test]
fn ghost_session_planted_in_victim_browser_is_rejected_by_binding() {
    let r = rig(Policy::default());
    let own = r
        .manager
        .authenticate(None, "mallory", Privilege::Authenticated, &mallory())
        .unwrap();
    let refused = r.manager.verify(own.token.expose_secret(), &alice());
    assert_eq!(reason(refused), Reason::Unbound);
    assert!(r.events.saw(EventKind::BindingMismatch));
}

/// Events never contain token text.
#[test]
fn events_never_carry_token_text() {
    let r = rig(Policy::default());
    let login = r
        .manager
        .authenticate(None, "alice", Privilege::Authenticated, &alice())
        .unwrap();
    let _ = r.manager.verify(login.token.expose_secret(), &mallory());
    let dump = format!("{:?}", r.events.events());
    assert!(!dump.contains(login.token.expose_secret()));
    assert!(!dump.contains(&login.token.expose_secret()[10..40]));
}
