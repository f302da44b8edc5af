//! Key rotation as an operator does it on a node with a durable store: edit the key file
//! (add, promote, retire), restart after each step, with sessions being created and logged
//! out all along. The node must start every time, lose no revocation, and keep every session
//! minted under the old key working until that key is retired.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use sealed_session::revocation::{FileStore, FilterConfig, Revocation, RevocationStore, StoreError};
use sealed_session::*;

/// One running node: its key handle, its store and its manager.
struct Node {
    manager: SessionManager,
    store: Arc<FileStore>,
}

fn start(dir: &Path, key_file: &Path, clock: &ManualClock) -> Node {
    let keys = Keys::from_file(key_file).expect("the key file loads");
    let store = Arc::new(FileStore::open(dir, &keys, FilterConfig::default()).expect("the node starts"));
    let manager = SessionManager::builder(keys, "bank", store.clone())
        .with_policy(Policy::default().with_rotation(Rotation::Off))
        .with_clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    Node { manager, store }
}

/// A key file holding key 1 as primary, and where the node's data directory goes.
fn key_file_with_key_1(dir: &Path) -> (PathBuf, PathBuf) {
    let key_file = dir.join("keys");
    KeyRing::empty()
        .with_key(KeyId(1), KeyState::Primary, SessionKey::generate().unwrap())
        .unwrap()
        .write_new_file(&key_file)
        .unwrap();
    (key_file, dir.join("data"))
}

fn edit(key_file: &Path, change: impl FnOnce(&mut KeyRing)) {
    let mut ring = KeyRing::from_file(key_file).unwrap();
    change(&mut ring);
    ring.replace_file(key_file).unwrap();
}

/// Traffic between restarts: three logins, one of which logs out again.
fn traffic(node: &Node, live: &mut Vec<(String, KeyId)>, revoked: &mut Vec<(String, KeyId)>) {
    for i in 0..3 {
        let login = node
            .manager
            .authenticate(None, &format!("user-{i}"), Privilege::Authenticated, &alice())
            .unwrap();
        let text = login.token.expose_secret().to_owned();
        if i == 2 {
            let key = login.session.key_id();
            node.manager.logout(login.session, &alice()).unwrap();
            revoked.push((text, key));
        } else {
            live.push((text, login.session.key_id()));
        }
    }
    // Half the steps leave their revocations in the snapshot, half in the log.
    if live.len().is_multiple_of(4) {
        node.store.compact().unwrap();
    }
}

fn check(node: &Node, live: &[(String, KeyId)], revoked: &[(String, KeyId)], retired: &[KeyId]) -> usize {
    for (text, key) in revoked {
        // A token of a retired key is refused before its revocation is even looked at.
        let expected = if retired.contains(key) {
            Reason::RetiredKey
        } else {
            Reason::Revoked
        };
        assert_eq!(
            reason(node.manager.verify(text, &alice())),
            expected,
            "a revocation was lost"
        );
    }
    let mut refused = 0;
    for (text, key) in live {
        let result = node.manager.verify(text, &alice());
        if retired.contains(key) {
            assert_eq!(reason(result), Reason::RetiredKey);
        } else if result.is_err() {
            refused += 1;
        }
    }
    refused
}

#[test]
fn the_operators_rotation_survives_a_restart_after_every_step() {
    let dir = tempfile::tempdir().unwrap();
    let (key_file, data) = key_file_with_key_1(dir.path());
    let clock = ManualClock::new(T0);
    let (mut live, mut revoked) = (Vec::new(), Vec::new());
    let mut node = start(&data, &key_file, &clock);
    traffic(&node, &mut live, &mut revoked);
    node.store.compact().unwrap();
    type Step = (&'static str, fn(&mut KeyRing), &'static [KeyId]);
    let steps: [Step; 3] = [
        (
            "add key 2 accept-only",
            |r| {
                r.insert(KeyId(2), KeyState::AcceptOnly, SessionKey::generate().unwrap())
                    .unwrap()
            },
            &[],
        ),
        ("promote key 2", |r| r.promote(KeyId(2)).unwrap(), &[]),
        ("retire key 1", |r| r.retire(KeyId(1)).unwrap(), &[KeyId(1)]),
    ];
    let mut refused = 0;
    for (step, change, retired) in steps {
        edit(&key_file, change);
        drop(node);
        node = start(&data, &key_file, &clock);
        refused += check(&node, &live, &revoked, retired);
        traffic(&node, &mut live, &mut revoked);
        clock.advance(Duration::from_secs(60));
        eprintln!(
            "{step}: restarted, {} live and {} revoked sessions checked",
            live.len(),
            revoked.len()
        );
    }
    assert_eq!(refused, 0, "no valid session may be refused");
    let primary = node.manager.keys().current().primary_id();
    assert_eq!(primary, Some(KeyId(2)));
}

/// Promote and retire without a restart in between: the snapshot on disk is still sealed
/// under the now-retired key. The node opens it (its MAC checked) and re-seals it.
#[test]
fn a_snapshot_under_a_retired_key_is_resealed_not_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (key_file, data) = key_file_with_key_1(dir.path());
    let clock = ManualClock::new(T0);
    let (mut live, mut revoked) = (Vec::new(), Vec::new());
    let node = start(&data, &key_file, &clock);
    traffic(&node, &mut live, &mut revoked);
    node.store.compact().unwrap();
    drop(node);
    edit(&key_file, |r| {
        r.insert(KeyId(2), KeyState::AcceptOnly, SessionKey::generate().unwrap())
            .unwrap();
        r.promote(KeyId(2)).unwrap();
        r.retire(KeyId(1)).unwrap();
    });
    let node = start(&data, &key_file, &clock);
    assert!(node.store.recovery().snapshot_loaded);
    check(&node, &live, &revoked, &[KeyId(1)]);
    // The re-sealed snapshot opens with key 1 gone entirely from the key file.
    drop(node);
    let text = KeyRing::from_file(&key_file).unwrap().to_key_file_text();
    let without_key_1: String = text
        .lines()
        .filter(|l| !l.starts_with("1 "))
        .map(|l| format!("{l}\n"))
        .collect();
    KeyRing::parse(&without_key_1)
        .unwrap()
        .replace_file(&key_file)
        .unwrap();
    let node = start(&data, &key_file, &clock);
    let still_revoked: Vec<_> = revoked.iter().filter(|(_, k)| *k != KeyId(1)).cloned().collect();
    check(&node, &[], &still_revoked, &[]);
}

#[test]
fn a_snapshot_under_a_key_the_ring_lacks_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let first = Keys::new(KeyRing::generate().unwrap()).unwrap();
    let store = FileStore::open(dir.path(), &first, FilterConfig::default()).unwrap();
    store.compact().unwrap();
    drop(store);
    let other = KeyRing::empty()
        .with_key(KeyId(9), KeyState::Primary, SessionKey::generate().unwrap())
        .unwrap();
    let err = FileStore::open(dir.path(), &Keys::new(other).unwrap(), FilterConfig::default())
        .err()
        .expect("refused");
    assert!(
        matches!(err, StoreError::SnapshotKeyMissing { key_id: 1, .. }),
        "{err}"
    );
    let message = err.to_string();
    assert!(message.contains("add that key back"), "{message}");
}

/// A data directory is shared: a second store opens it while the first holds it, and each
/// enforces what the other revokes.
#[test]
fn a_second_opener_of_a_data_directory_shares_it() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::new(KeyRing::generate().unwrap()).unwrap();
    let first = FileStore::open(dir.path(), &keys, FilterConfig::default()).unwrap();
    let second = FileStore::open(dir.path(), &keys, FilterConfig::default()).unwrap();
    // Parked, so the count below is what `catch_up` read and not the tail thread.
    let first = first.tail_every(Duration::from_secs(3600));
    let revoked = Revocation::Id {
        epoch: token::Epoch(5),
        id: [0x2a; 16],
    };
    second.revoke(revoked).unwrap();
    assert_eq!(first.catch_up().unwrap(), 1);
    assert!(first.set().contains(token::Epoch(5), &[0x2a; 16]));
}

/// One handle: a key replaced through the manager reaches the store, whose next snapshot is
/// sealed under the new primary.
#[test]
fn replace_keys_reaches_every_store() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::new(
        KeyRing::empty()
            .with_key(KeyId(1), KeyState::Primary, SessionKey::generate().unwrap())
            .unwrap(),
    )
    .unwrap();
    let store = Arc::new(FileStore::open(dir.path(), &keys, FilterConfig::default()).unwrap());
    let manager = SessionManager::builder(keys.clone(), "bank", store.clone())
        .build()
        .unwrap();
    keys.modify(|r| r.insert(KeyId(2), KeyState::AcceptOnly, SessionKey::generate()?))
        .unwrap();
    keys.modify(|r| r.promote(KeyId(2))).unwrap();
    assert_eq!(manager.keys().current().primary_id(), Some(KeyId(2)));
    store.compact().unwrap();
    let snapshot = std::fs::read(dir.path().join(sealed_session::revocation::SNAPSHOT_FILE)).unwrap();
    assert_eq!(snapshot.get(1), Some(&2), "sealed under the new primary");
}
