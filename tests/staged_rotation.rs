//! Staged key rotation across nodes sharing one key file (no coordination): a key is
//! distributed with an activation time and becomes primary on every node at that time; the
//! old key is retired on schedule later. Clocks are injected, up to the 5 s leeway apart.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use sealed_session::revocation::{FilterConfig, MemoryStore};
use sealed_session::*;

struct Node {
    keys: Keys,
    clock: ManualClock,
    manager: SessionManager,
}

fn node(key_file: &std::path::Path, skew: i64) -> Node {
    let keys = Keys::from_file(key_file).unwrap();
    let start = UnixTime(T0.0.checked_add_signed(skew).unwrap());
    let clock = ManualClock::new(start);
    let store = Arc::new(MemoryStore::new(FilterConfig::default()).unwrap());
    let manager = SessionManager::builder(keys.clone(), "bank", store)
        .with_policy(Policy::default().with_rotation(Rotation::Off))
        .with_clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    Node { keys, clock, manager }
}

#[test]
fn a_scheduled_key_becomes_primary_on_every_node_at_once_and_no_session_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("keys");
    KeyRing::empty()
        .with_key(KeyId(1), KeyState::Primary, SessionKey::generate().unwrap())
        .unwrap()
        .write_new_file(&key_file)
        .unwrap();
    // Five seconds between the fastest and the slowest clock: the policy's leeway.
    let nodes: Vec<Node> = [-2, 0, 3].into_iter().map(|skew| node(&key_file, skew)).collect();

    // The operator distributes key 2, primary two hours from now, and every node reloads.
    let activate = T0.saturating_add(Duration::from_secs(2 * 3600));
    let mut ring = KeyRing::from_file(&key_file).unwrap();
    ring.insert(KeyId(2), KeyState::AcceptOnly, SessionKey::generate().unwrap())
        .unwrap();
    ring.set_schedule(
        KeyId(2),
        KeySchedule {
            activate_at: Some(activate),
            retire_at: None,
        },
    )
    .unwrap();
    ring.replace_file(&key_file).unwrap();
    for n in &nodes {
        n.keys.reload_from(&key_file).unwrap();
    }

    let (mut live, mut refused, mut checked) = (Vec::<(String, UnixTime)>::new(), 0, 0);
    let step = Duration::from_secs(600);
    for round in 0..30 {
        for (i, n) in nodes.iter().enumerate() {
            let login = n
                .manager
                .authenticate(
                    None,
                    &format!("user-{round}-{i}"),
                    Privilege::Authenticated,
                    &alice(),
                )
                .unwrap();
            let now = n.manager.now();
            let expected = if now >= activate { KeyId(2) } else { KeyId(1) };
            assert_eq!(
                login.session.key_id(),
                expected,
                "node {i} at {now:?} mints under the scheduled primary"
            );
            live.push((login.token.expose_secret().to_owned(), now));
        }
        // Round-robin: every node verifies every token still inside its lifetime.
        live.retain(|(_, minted)| nodes[0].manager.now().0 < minted.0 + 1500);
        for (text, _) in &live {
            for n in &nodes {
                checked += 1;
                if n.manager.verify(text, &alice()).is_err() {
                    refused += 1;
                }
            }
        }
        for n in &nodes {
            n.clock.advance(step);
        }
    }
    eprintln!("{checked} verifications across 3 nodes, {refused} refused");
    assert_eq!(refused, 0, "no valid session may be refused during the rotation");

    // Later the old key is retired on schedule; after that time its tokens are refused.
    let retire = nodes[0].manager.now().saturating_add(Duration::from_secs(60));
    let mut ring = KeyRing::from_file(&key_file).unwrap();
    ring.set_schedule(
        KeyId(1),
        KeySchedule {
            activate_at: None,
            retire_at: Some(retire),
        },
    )
    .unwrap();
    ring.replace_file(&key_file).unwrap();
    for n in &nodes {
        n.keys.reload_from(&key_file).unwrap();
        assert_eq!(n.keys.in_force_at(n.manager.now()).primary_id(), Some(KeyId(2)));
        assert_eq!(
            n.keys.in_force_at(retire).states(),
            vec![(KeyId(1), KeyState::Retired), (KeyId(2), KeyState::Primary)]
        );
    }
}

#[test]
fn a_changed_key_file_is_picked_up_by_a_watching_node() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("keys");
    KeyRing::generate().unwrap().write_new_file(&key_file).unwrap();
    let keys = Keys::from_file(&key_file).unwrap();
    keys.watch_file(&key_file, Duration::from_millis(20)).unwrap();
    let mut ring = KeyRing::from_file(&key_file).unwrap();
    ring.insert(KeyId(2), KeyState::AcceptOnly, SessionKey::generate().unwrap())
        .unwrap();
    ring.promote(KeyId(2)).unwrap();
    ring.replace_file(&key_file).unwrap();
    // Waiting for the watcher thread to notice is the behaviour under test, not a timing
    // assumption: the loop ends as soon as the reload is seen.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while keys.current().primary_id() != Some(KeyId(2)) {
        assert!(
            std::time::Instant::now() < deadline,
            "the watcher never reloaded the file"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // A broken file is reported and ignored: the ring in force stays.
    std::fs::write(&key_file, "not a key file").unwrap();
    assert!(keys.reload_from(&key_file).is_err());
    assert_eq!(keys.current().primary_id(), Some(KeyId(2)));
}
