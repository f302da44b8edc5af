//! Durability of `FileStore`: a child process revoking in a loop is SIGKILLed at random
//! moments and restarted; every revocation it acknowledged must survive. Plus torn and corrupt
//! log tails, a corrupt middle record and a tampered snapshot.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use sealed_session::revocation::{
    Durability, FileStore, FilterConfig, Revocation, RevocationStore, SnapshotError, StoreError, LOG_FILE,
    SNAPSHOT_FILE,
};
use sealed_session::token::{Epoch, SessionId};
use sealed_session::{KeyId, KeyRing, KeyState, Keys, SessionKey, UnixTime};

/// Set in the child: the data directory it revokes into.
const CHILD_DIR: &str = "SEALED_SESSION_CRASH_CHILD_DIR";
const EPOCH: Epoch = Epoch(55_000);
const ROUNDS: usize = 30;

fn keys() -> &'static Keys {
    static KEYS: std::sync::OnceLock<Keys> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        Keys::new(
            KeyRing::empty()
                .with_key(KeyId(1), KeyState::Primary, SessionKey::from_bytes([3; 32]))
                .unwrap(),
        )
        .unwrap()
    })
}

fn config() -> FilterConfig {
    FilterConfig::default().with_capacity(20_000)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

/// The child: revokes from three threads until killed (or 30 s pass, should the parent die),
/// printing each revocation only after `revoke` returned `Ok`. A third of the ids are revoked
/// with `Durability::Background` and printed as queued; the parent counts them acknowledged
/// once a later synced revocation of the same thread is. Compacts every 8 KiB of log, so
/// kills also land inside compactions.
#[test]
fn child_revoker() {
    let Ok(dir) = std::env::var(CHILD_DIR) else { return };
    let store = FileStore::open(Path::new(&dir), keys(), config())
        .unwrap()
        .compact_after(8 << 10);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    std::thread::scope(|s| {
        for t in 0..3u64 {
            let store = &store;
            s.spawn(move || {
                for n in 0u64.. {
                    if std::time::Instant::now() > deadline {
                        return;
                    }
                    let id = SessionId::generate().unwrap().0;
                    if n % 50 == 49 {
                        let subject = format!("user{t}");
                        let cutoff = UnixTime(1_900_000_000 + n);
                        store
                            .revoke(Revocation::Subject {
                                subject: subject.clone(),
                                cutoff,
                            })
                            .unwrap();
                        println!("ack subject {subject} {}", cutoff.0);
                    } else if n % 3 == 1 {
                        // Queued, not acknowledged: durable once a later `revoke` of this
                        // thread returns.
                        let r = Revocation::Id { epoch: EPOCH, id };
                        store.revoke_with(r, Durability::Background).unwrap();
                        println!("bg {t} {}", hex(&id));
                    } else {
                        store.revoke(Revocation::Id { epoch: EPOCH, id }).unwrap();
                        println!("ack id {} {t}", hex(&id));
                    }
                }
            });
        }
    });
}

#[test]
fn acknowledged_revocations_survive_sigkill() {
    if std::env::var(CHILD_DIR).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed);
    let mut acked_ids = HashSet::new();
    let mut acked_cutoffs: BTreeMap<String, u64> = BTreeMap::new();
    let mut kills = 0;
    for round in 0..ROUNDS {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_revoker", "--nocapture", "--test-threads=1"])
            .env(CHILD_DIR, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        // Every third round dies before its first acknowledgement (often while recovering).
        let kill_after = if round % 3 == 2 {
            0
        } else {
            20 + rng.next_u32() % 600
        };
        let mut seen = 0;
        let mut killed = false;
        // Background revocations per child thread not yet covered by a later acknowledgement.
        let mut queued: BTreeMap<String, Vec<[u8; 16]>> = BTreeMap::new();
        if kill_after == 0 {
            child.kill().unwrap();
            killed = true;
        }
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            let line = line.unwrap();
            let mut words = line.split_whitespace();
            match (words.next(), words.next(), words.next(), words.next()) {
                (Some("bg"), Some(t), Some(id), None) => {
                    queued.entry(t.to_owned()).or_default().push(unhex(id));
                    continue;
                }
                (Some("ack"), Some("id"), Some(id), Some(t)) => {
                    acked_ids.insert(unhex(id));
                    acked_ids.extend(queued.remove(t).unwrap_or_default());
                }
                (Some("ack"), Some("subject"), Some(s), Some(t)) => {
                    let t: u64 = t.parse().unwrap();
                    let e = acked_cutoffs.entry(s.to_owned()).or_default();
                    *e = (*e).max(t);
                    let thread = s.trim_start_matches("user");
                    acked_ids.extend(queued.remove(thread).unwrap_or_default());
                }
                _ => continue, // test-harness chatter
            }
            seen += 1;
            if !killed && seen >= kill_after {
                child.kill().unwrap(); // SIGKILL; lines already printed are still read
                killed = true;
            }
        }
        let status = child.wait().unwrap();
        assert!(
            killed && !status.success(),
            "round {round}: the child ended by itself: {status}"
        );
        kills += 1;
    }
    let store = FileStore::open(dir.path(), keys(), config()).unwrap();
    let set = store.set();
    let missing = acked_ids.iter().filter(|id| !set.contains(EPOCH, id)).count();
    for (subject, cutoff) in &acked_cutoffs {
        assert!(
            set.subject_cutoff(subject).unwrap().0 >= *cutoff,
            "{subject} lost its cutoff"
        );
    }
    println!(
        "crash test: {kills} SIGKILLs, {} acknowledged id revocations, {} subject cutoffs, {missing} missing; \
         last open: {:?}",
        acked_ids.len(),
        acked_cutoffs.len(),
        store.recovery()
    );
    assert_eq!(missing, 0);
    assert!(acked_ids.len() > 1000, "too few revocations to mean anything");
}

/// Revokes `n` ids into a fresh store whose log is never compacted; returns the ids.
fn fill(dir: &Path, n: u64) -> Vec<[u8; 16]> {
    let store = FileStore::open(dir, keys(), config())
        .unwrap()
        .compact_after(u64::MAX);
    (0..n)
        .map(|i| {
            let mut id = [0u8; 16];
            ChaCha8Rng::seed_from_u64(i).fill_bytes(&mut id);
            store.revoke(Revocation::Id { epoch: EPOCH, id }).unwrap();
            id
        })
        .collect()
}

fn edit_log(dir: &Path, f: impl FnOnce(&mut Vec<u8>)) {
    let path = dir.join(LOG_FILE);
    let mut bytes = std::fs::read(&path).unwrap();
    f(&mut bytes);
    std::fs::write(&path, bytes).unwrap();
}

fn assert_cut_last(dir: &Path, ids: &[[u8; 16]]) {
    let store = FileStore::open(dir, keys(), config()).unwrap();
    assert!(store.recovery().tail_bytes_cut > 0);
    assert_eq!(store.recovery().records_replayed, ids.len() - 1);
    let set = store.set();
    assert!(
        ids[..ids.len() - 1].iter().all(|id| set.contains(EPOCH, id)),
        "earlier records kept"
    );
    assert!(
        !set.contains(EPOCH, ids.last().unwrap()),
        "the corrupt record is refused"
    );
    // The cut log takes new records and reopens clean.
    store
        .revoke(Revocation::KillSwitch {
            before: UnixTime(1_900_000_000),
        })
        .unwrap();
    drop(store);
    let again = FileStore::open(dir, keys(), config()).unwrap();
    assert_eq!(again.recovery().tail_bytes_cut, 0);
    assert_eq!(again.set().kill_switch(), Some(UnixTime(1_900_000_000)));
}

#[test]
fn torn_tail_is_cut() {
    let dir = tempfile::tempdir().unwrap();
    let ids = fill(dir.path(), 10);
    edit_log(dir.path(), |b| b.truncate(b.len() - 5));
    assert_cut_last(dir.path(), &ids);
}

#[test]
fn flipped_byte_in_last_record_is_cut() {
    for at in [1, 6, 20] {
        let dir = tempfile::tempdir().unwrap();
        let ids = fill(dir.path(), 10);
        edit_log(dir.path(), |b| {
            let i = b.len() - at;
            b[i] ^= 0x40;
        });
        assert_cut_last(dir.path(), &ids);
    }
}

#[test]
fn corrupt_middle_record_refuses_to_open() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 10);
    edit_log(dir.path(), |b| b[40] ^= 1);
    let err = FileStore::open(dir.path(), keys(), config()).err().unwrap();
    assert!(matches!(err, StoreError::Corrupt { offset: 32 }), "{err}");
}

#[test]
fn compaction_keeps_everything_and_tampered_snapshot_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ids = fill(dir.path(), 5);
    {
        let store = FileStore::open(dir.path(), keys(), config()).unwrap();
        store.compact().unwrap();
        assert_eq!(std::fs::metadata(dir.path().join(LOG_FILE)).unwrap().len(), 0);
        store
            .revoke(Revocation::Subject {
                subject: "mallory".into(),
                cutoff: UnixTime(1_900_000_000),
            })
            .unwrap();
    }
    let store = FileStore::open(dir.path(), keys(), config()).unwrap();
    assert!(store.recovery().snapshot_loaded);
    assert_eq!(store.recovery().records_replayed, 1);
    assert!(ids.iter().all(|id| store.set().contains(EPOCH, id)));
    assert_eq!(
        store.set().subject_cutoff("mallory"),
        Some(UnixTime(1_900_000_000))
    );
    drop(store);
    let path = dir.path().join(SNAPSHOT_FILE);
    let mut snap = std::fs::read(&path).unwrap();
    let mid = snap.len() / 2;
    snap[mid] ^= 1;
    std::fs::write(&path, snap).unwrap();
    let err = FileStore::open(dir.path(), keys(), config()).err().unwrap();
    assert!(
        matches!(err, StoreError::Snapshot(SnapshotError::BadMac)),
        "{err}"
    );
}

#[test]
fn a_version_1_snapshot_of_classic_filters_is_refused_with_a_typed_error() {
    // spec/revocation.md §7: version 1 held classic Bloom filters, whose bits the blocked
    // layout would misread (false negatives), so a data directory from before is refused.
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 3);
    FileStore::open(dir.path(), keys(), config())
        .unwrap()
        .compact()
        .unwrap();
    let path = dir.path().join(SNAPSHOT_FILE);
    let mut snap = std::fs::read(&path).unwrap();
    assert_eq!(snap[0], 2, "the current format");
    snap[0] = 1;
    std::fs::write(&path, snap).unwrap();
    let err = FileStore::open(dir.path(), keys(), config()).err().unwrap();
    assert!(
        matches!(err, StoreError::Snapshot(SnapshotError::UnsupportedVersion)),
        "{err}"
    );
}
