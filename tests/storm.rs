//! Revocation storms: background durability, compaction relative to snapshot size, private
//! file modes, and the pressure alarm from the set up to the manager's events.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::Path;
use std::sync::Arc;

use sealed_session::revocation::{
    Durability, FileStore, FilterConfig, PressureLevel, Revocation, RevocationStore, LOG_FILE, SNAPSHOT_FILE,
};
use sealed_session::token::{Epoch, SessionId};
use sealed_session::{
    ClientContext, CollectingSink, EventKind, KeyId, KeyRing, KeyState, Keys, SessionKey, SessionManager,
};

const EPOCH: Epoch = Epoch(60_000);

fn ring() -> KeyRing {
    KeyRing::empty()
        .with_key(KeyId(1), KeyState::Primary, SessionKey::from_bytes([5; 32]))
        .unwrap()
}

fn keys() -> Keys {
    Keys::new(ring()).unwrap()
}

fn open(dir: &Path) -> FileStore {
    FileStore::open(dir, &keys(), FilterConfig::default().with_capacity(10_000)).unwrap()
}

fn id_revocation() -> ([u8; 16], Revocation) {
    let id = SessionId::generate().unwrap().0;
    (id, Revocation::Id { epoch: EPOCH, id })
}

/// Copies the data directory as it is on disk now: what a crash at this instant would leave.
fn crash_copy(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().unwrap();
    for name in [LOG_FILE, SNAPSHOT_FILE] {
        if from.join(name).exists() {
            std::fs::copy(from.join(name), to.path().join(name)).unwrap();
        }
    }
    to
}

#[test]
fn background_revocations_are_enforced_at_once_and_durable_after_drop() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let ids: Vec<_> = (0..500)
        .map(|_| {
            let (id, r) = id_revocation();
            store.revoke_with(r, Durability::Background).unwrap();
            assert!(store.set().contains(EPOCH, &id), "enforced before it is durable");
            id
        })
        .collect();
    assert_eq!(store.background_dropped(), 0);
    drop(store);
    let store = open(dir.path());
    assert!(ids.iter().all(|id| store.set().contains(EPOCH, id)));
}

#[test]
fn a_synced_revocation_covers_every_background_one_queued_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for round in 0..20 {
        let background: Vec<_> = (0..50)
            .map(|_| {
                let (id, r) = id_revocation();
                store.revoke_with(r, Durability::Background).unwrap();
                id
            })
            .collect();
        let (synced, r) = id_revocation();
        store.revoke(r).unwrap();
        // No drop, no flush: only what is on disk now.
        let copy = crash_copy(dir.path());
        let recovered = open(copy.path());
        assert!(recovered.set().contains(EPOCH, &synced), "round {round}");
        assert!(
            background.iter().all(|id| recovered.set().contains(EPOCH, id)),
            "round {round}: a background revocation queued before a synced one was lost"
        );
    }
}

#[test]
fn background_revocations_from_many_threads_survive() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).compact_after(16 << 10);
    let ids: Vec<[u8; 16]> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    (0..2_000)
                        .map(|_| {
                            let (id, r) = id_revocation();
                            store.revoke_with(r, Durability::Background).unwrap();
                            id
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let dropped = store.background_dropped();
    drop(store);
    let store = open(dir.path());
    let missing = ids.iter().filter(|id| !store.set().contains(EPOCH, id)).count() as u64;
    assert!(
        missing <= dropped,
        "{missing} missing, {dropped} counted as dropped"
    );
}

#[test]
fn compaction_waits_for_as_much_log_as_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    // A large snapshot: a generation of capacity 10,000 is about 37 KiB of filter.
    let store = open(dir.path()).compact_after(1024);
    for _ in 0..40 {
        store.revoke(id_revocation().1).unwrap();
    }
    let snapshot = std::fs::metadata(dir.path().join(SNAPSHOT_FILE)).unwrap().len();
    assert!(snapshot > 30_000, "{snapshot}");
    // With a fixed 1 KiB threshold this log would have been compacted many times over.
    let mut max_log = 0;
    for _ in 0..(snapshot / 28) {
        store.revoke(id_revocation().1).unwrap();
        max_log = max_log.max(std::fs::metadata(dir.path().join(LOG_FILE)).unwrap().len());
    }
    assert!(
        max_log >= snapshot / 2,
        "log compacted at {max_log} bytes, snapshot {snapshot}"
    );
    assert!(
        max_log <= snapshot + 64,
        "log grew to {max_log} past snapshot {snapshot}"
    );
}

#[cfg(unix)]
#[test]
fn files_are_private_and_a_created_directory_is_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("revocations");
    let store = open(&dir).compact_after(1);
    store.revoke(id_revocation().1).unwrap();
    store.compact().unwrap();
    store.revoke(id_revocation().1).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join(LOG_FILE)), 0o600);
    assert_eq!(mode(&dir.join(SNAPSHOT_FILE)), 0o600);
}

#[test]
fn pressure_is_visible_to_operators_and_raised_as_an_event() {
    let config = FilterConfig::default()
        .with_capacity(2)
        .with_false_positive_rate(0.05);
    let store = Arc::new(sealed_session::revocation::MemoryStore::new(config).unwrap());
    let events = Arc::new(CollectingSink::new());
    let manager = SessionManager::builder(ring(), "storm", store.clone())
        .with_events(events.clone())
        .build()
        .unwrap();
    let client = ClientContext::default();
    assert!(store.set().pressure().is_none());
    // A filter is at least one 512-bit block, which holds about 40 ids at this rate: log out
    // until the third filter opens, far past the capacity of 2.
    let mut logouts = 0;
    while store.set().pressure().is_none() {
        let minted = manager.begin(&client).unwrap();
        manager.logout(minted.session, &client).unwrap();
        logouts += 1;
        assert!(logouts < 1000, "no pressure after {logouts} logouts");
    }
    let p = store.set().pressure().unwrap();
    assert!(p.level >= PressureLevel::Elevated);
    assert!(p.filters >= 3);
    let raised: Vec<_> = events
        .events()
        .into_iter()
        .filter(|e| matches!(e.kind, EventKind::RevocationPressure(_)))
        .collect();
    assert_eq!(raised.len(), 1, "edge-triggered: {raised:?}");
    assert_eq!(
        raised[0].kind,
        EventKind::RevocationPressure(PressureLevel::Elevated)
    );
}
