//! One data directory shared by several `FileStore`s: in one process, under concurrent writers
//! and compactions, and across real processes, one of which is SIGKILLed while it revokes
//! (`processes.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod processes;

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use sealed_session::revocation::{
    Durability, FileStore, FilterConfig, Revocation, RevocationStore, StoreError, LOG_FILE,
};
use sealed_session::token::{Epoch, SessionId};
use sealed_session::{KeyId, KeyRing, KeyState, Keys, SessionKey, UnixTime};

const EPOCH: Epoch = Epoch(55_000);
/// How long a store may take to enforce another's revocation before the test fails; the
/// tail interval (5 ms) is the design bound, this is slack for a loaded 2-core machine.
const DEADLINE: Duration = Duration::from_secs(5);
const PARKED: Duration = Duration::from_secs(3600);

fn keys() -> &'static Keys {
    static KEYS: std::sync::OnceLock<Keys> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        Keys::new(
            KeyRing::empty()
                .with_key(KeyId(1), KeyState::Primary, SessionKey::from_bytes([4; 32]))
                .unwrap(),
        )
        .unwrap()
    })
}

fn config() -> FilterConfig {
    FilterConfig::default().with_capacity(20_000)
}

fn open(dir: &Path) -> FileStore {
    FileStore::open(dir, keys(), config()).unwrap()
}

/// A small filter keeps the snapshot a few KiB, so a small `compact_after` means frequent
/// compactions.
fn small() -> FilterConfig {
    FilterConfig::default()
        .with_capacity(500)
        .with_false_positive_rate(1e-3)
}

fn id_revocation(id: [u8; 16]) -> Revocation {
    Revocation::Id { epoch: EPOCH, id }
}

fn fresh_id() -> [u8; 16] {
    SessionId::generate().unwrap().0
}

/// Whether `store` enforces `revocation`.
fn enforces(store: &FileStore, revocation: &Revocation) -> bool {
    let set = store.set();
    match revocation {
        Revocation::Id { epoch, id } => set.contains(*epoch, id),
        Revocation::Subject { subject, cutoff } => set.subject_cutoff(subject).is_some_and(|c| c >= *cutoff),
        Revocation::KillSwitch { before } => set.kill_switch().is_some_and(|k| k >= *before),
    }
}

/// Polls `condition` until it holds or `DEADLINE` passes; returns how long it took.
fn wait_until(mut condition: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < DEADLINE {
        if condition() {
            return Some(start.elapsed());
        }
        // Between polls of a condition, not a wait that stands in for it.
        std::thread::sleep(Duration::from_millis(1));
    }
    condition().then(|| start.elapsed())
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

fn kinds(n: u64) -> [Revocation; 3] {
    [
        id_revocation(fresh_id()),
        Revocation::Subject {
            subject: format!("user{n}"),
            cutoff: UnixTime(1_900_000_000 + n),
        },
        Revocation::KillSwitch {
            before: UnixTime(1_900_000_000 + n),
        },
    ]
}

#[test]
fn each_store_enforces_what_the_other_revokes() {
    let dir = tempfile::tempdir().unwrap();
    let a = open(dir.path());
    // With its tail thread parked for an hour, only `catch_up` can bring b up to date.
    let b = open(dir.path()).tail_every(PARKED);
    for (n, revocation) in kinds(1).into_iter().enumerate() {
        a.revoke(revocation.clone()).unwrap();
        assert!(!enforces(&b, &revocation), "b has not read the log yet");
        assert_eq!(b.catch_up().unwrap(), 1, "revocation {n}");
        assert!(enforces(&b, &revocation));
        assert_eq!(b.position(), a.position());
        assert_eq!(b.position().lag_bytes(), 0);
    }
    // With the default interval, the tail threads carry every kind both ways.
    let b = b.tail_every(Duration::from_millis(5));
    assert_eq!(a.tail_interval(), Duration::from_millis(5));
    let mut slowest = Duration::ZERO;
    for (n, revocation) in kinds(2).into_iter().chain(kinds(3)).enumerate() {
        let (from, to) = if n % 2 == 0 { (&a, &b) } else { (&b, &a) };
        from.revoke(revocation.clone()).unwrap();
        let took = wait_until(|| enforces(to, &revocation)).expect("enforced within the deadline");
        slowest = slowest.max(took);
    }
    // A background revocation travels once its writer has appended it.
    let id = fresh_id();
    a.revoke_with(id_revocation(id), Durability::Background).unwrap();
    let took = wait_until(|| b.set().contains(EPOCH, &id)).expect("background revocation enforced");
    println!(
        "tail thread: slowest synced revocation enforced by the other store after {slowest:?}, \
         background one after {took:?}"
    );
}

#[test]
fn a_compaction_by_one_store_is_followed_by_the_other() {
    let dir = tempfile::tempdir().unwrap();
    // Both tail threads parked: what each store reads, it reads through the calls below.
    let a = open(dir.path()).tail_every(PARKED);
    let b = open(dir.path()).tail_every(PARKED);
    let (before, theirs, after, late) = (fresh_id(), fresh_id(), fresh_id(), fresh_id());
    a.revoke(id_revocation(before)).unwrap();
    b.revoke(id_revocation(theirs)).unwrap(); // a has not read this one
    a.compact().unwrap();
    // The old log is gone from the directory: the compaction read it to its end first.
    let fresh = open(dir.path());
    assert!(fresh.set().contains(EPOCH, &before) && fresh.set().contains(EPOCH, &theirs));
    drop(fresh);
    a.revoke(id_revocation(after)).unwrap();
    assert_ne!(
        b.position().log_id,
        a.position().log_id,
        "b still has the old log open"
    );
    // b never read `before` from the old log: it comes from the snapshot a wrote.
    assert_eq!(b.catch_up().unwrap(), 1, "only `after` is in the new log");
    assert!(b.set().contains(EPOCH, &before) && b.set().contains(EPOCH, &after));
    assert_eq!(b.position(), a.position());

    // An appender follows a compaction it has not noticed yet: b's record must go to the new
    // log, not to the unlinked old one.
    a.compact().unwrap();
    b.revoke(id_revocation(late)).unwrap();
    assert_eq!(
        b.position().log_id,
        a.position().log_id,
        "b appended to the current log"
    );
    assert_eq!(a.catch_up().unwrap(), 1);
    assert_eq!(a.position(), b.position());
    drop((a, b));
    let reopened = open(dir.path());
    assert_eq!(
        reopened.recovery().records_replayed,
        1,
        "`late` is in the current log"
    );
    assert!([before, theirs, after, late]
        .iter()
        .all(|id| reopened.set().contains(EPOCH, id)));
}

/// One framed record, as a store writes it (taken from a store's own log).
fn one_record(id: [u8; 16]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    open(dir.path()).revoke(id_revocation(id)).unwrap();
    std::fs::read(dir.path().join(LOG_FILE)).unwrap()
}

fn append_raw(dir: &Path, bytes: &[u8]) {
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join(LOG_FILE))
        .unwrap();
    log.write_all(bytes).unwrap();
}

#[test]
fn a_record_in_progress_is_waited_for_and_a_torn_one_cut_only_by_an_appender() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).tail_every(PARKED);
    store.revoke(id_revocation(fresh_id())).unwrap();
    let log_len = || std::fs::metadata(dir.path().join(LOG_FILE)).unwrap().len();

    // Another process is half-way through writing a record: the reader waits at its start.
    let (theirs, torn) = (fresh_id(), fresh_id());
    let record = one_record(theirs);
    let (head, rest) = record.split_at(record.len() / 2);
    append_raw(dir.path(), head);
    assert_eq!(store.catch_up().unwrap(), 0);
    assert_eq!(store.position().lag_bytes(), head.len() as u64);
    append_raw(dir.path(), rest);
    assert_eq!(store.catch_up().unwrap(), 1, "the completed record is applied");
    assert!(store.set().contains(EPOCH, &theirs));

    // A writer died mid-record: reading never cuts it...
    let record = one_record(torn);
    append_raw(dir.path(), &record[..record.len() - 3]);
    let with_torn = log_len();
    assert_eq!(store.catch_up().unwrap(), 0);
    assert_eq!(log_len(), with_torn, "a reader never cuts");
    // ...the next append does, holding the lock, then writes after the valid records.
    let mine = fresh_id();
    store.revoke(id_revocation(mine)).unwrap();
    assert_eq!(store.position().lag_bytes(), 0);
    drop(store);
    let reopened = open(dir.path());
    assert_eq!(
        reopened.recovery().tail_bytes_cut,
        0,
        "the appender already cut it"
    );
    assert_eq!(reopened.recovery().records_replayed, 3);
    assert!(reopened.set().contains(EPOCH, &mine) && !reopened.set().contains(EPOCH, &torn));
}

#[test]
fn garbage_followed_by_valid_records_is_corrupt_not_cut() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).tail_every(PARKED);
    store.revoke(id_revocation(fresh_id())).unwrap();
    let at = store.position().offset;
    append_raw(dir.path(), &[0xff; 7]);
    append_raw(dir.path(), &one_record(fresh_id()));
    assert_eq!(store.catch_up().unwrap(), 0, "a reader just stops");
    let err = store.revoke(id_revocation(fresh_id())).unwrap_err();
    assert!(
        matches!(err, StoreError::Corrupt { offset } if offset == at),
        "{err}"
    );
}

/// Two stores revoke from four threads at once, with compactions every 4 KiB of log by
/// whichever store crosses the threshold: afterwards both stores and a third opened fresh hold
/// every id.
#[test]
fn concurrent_writers_and_compactions_lose_nothing() {
    const THREADS: usize = 4;
    const PER_THREAD: usize = 2_000;
    let dir = tempfile::tempdir().unwrap();
    let open_small = || {
        FileStore::open(dir.path(), keys(), small())
            .unwrap()
            .compact_after(4 << 10)
    };
    let stores = [open_small(), open_small()];
    let per_thread: Vec<Vec<[u8; 16]>> = (0..THREADS)
        .map(|_| (0..PER_THREAD).map(|_| fresh_id()).collect())
        .collect();
    let switches = std::thread::scope(|s| {
        let handles: Vec<_> = per_thread
            .iter()
            .enumerate()
            .map(|(t, ids)| {
                let store = &stores[t % 2];
                s.spawn(move || {
                    // Log switches this thread saw: a lower bound on compactions (several
                    // between two looks count once, and ext4 may reuse an inode number).
                    let (mut switches, mut last) = (0, store.position().log_id);
                    for (n, id) in ids.iter().enumerate() {
                        let durability = if n % 50 == 49 {
                            Durability::Synced
                        } else {
                            Durability::Background
                        };
                        store.revoke_with(id_revocation(*id), durability).unwrap();
                        let now = store.position().log_id;
                        switches += usize::from(now != last);
                        last = now;
                    }
                    switches
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).max().unwrap_or(0)
    });
    for store in &stores {
        store.sync().unwrap();
    }
    for store in &stores {
        store.catch_up().unwrap();
        assert_eq!(store.background_dropped(), 0);
    }
    let third = FileStore::open(dir.path(), keys(), small()).unwrap();
    let all: Vec<&[u8; 16]> = per_thread.iter().flatten().collect();
    let missing = |store: &FileStore| all.iter().filter(|id| !store.set().contains(EPOCH, id)).count();
    let lost = [missing(&stores[0]), missing(&stores[1]), missing(&third)];
    println!(
        "concurrent writers: {} ids from {THREADS} threads on 2 stores, at least {switches} \
         compactions seen while writing (snapshot now {} bytes); missing in store A, B, fresh C: \
         {lost:?}",
        all.len(),
        std::fs::metadata(dir.path().join(sealed_session::revocation::SNAPSHOT_FILE))
            .unwrap()
            .len()
    );
    assert_eq!(lost, [0, 0, 0]);
    assert!(
        switches >= 10,
        "compactions must have happened under both writers"
    );
}
