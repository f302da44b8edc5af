//! Real processes on one data directory: two children revoke, one is SIGKILLed mid-write; the
//! survivor's tail thread must have seen everything the killed one acknowledged, and nothing
//! acknowledged may be lost.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sealed_session::revocation::{FileStore, RevocationStore};

use super::{fresh_id, hex, id_revocation, keys, small, unhex, wait_until, EPOCH};

/// Set in a child process: the data directory it revokes into.
const CHILD_DIR: &str = "SEALED_SESSION_SHARED_CHILD_DIR";
/// Set in a child process: how many ids it revokes before it only checks.
const CHILD_COUNT: &str = "SEALED_SESSION_SHARED_CHILD_COUNT";

/// Child-process entry point for `a_killed_process_loses_nothing_and_the_survivor_saw_it`, not
/// a test of its own: it returns at once unless `SEALED_SESSION_SHARED_CHILD_DIR` is set.
/// Then it opens that directory, revokes `SEALED_SESSION_SHARED_CHILD_COUNT` ids with
/// `Durability::Synced`, printing `ack <id>` after each `revoke` returned, and prints `done`.
/// After that it reads `expect <id>` lines from stdin and answers `seen <id>` once its tail
/// thread has applied that id, or `missing <id>` after 5 s (at once after a first miss).
#[test]
fn child_shared_writer() {
    let Ok(dir) = std::env::var(CHILD_DIR) else { return };
    let count: usize = std::env::var(CHILD_COUNT).unwrap().parse().unwrap();
    let store = FileStore::open(Path::new(&dir), keys(), small())
        .unwrap()
        .compact_after(4 << 10);
    // On a line of its own: the harness has just printed "test processes::child_shared_writer ... ".
    println!("\nready");
    // Should the parent die without killing us.
    let give_up = Instant::now() + Duration::from_secs(60);
    for _ in 0..count {
        if Instant::now() > give_up {
            return;
        }
        let id = fresh_id();
        store.revoke(id_revocation(id)).unwrap();
        println!("ack {}", hex(&id));
    }
    println!("done");
    let mut missed = false;
    for line in std::io::stdin().lines() {
        let line = line.unwrap();
        let Some(id) = line.strip_prefix("expect ") else {
            continue;
        };
        let id = unhex(id);
        let contains = || store.set().contains(EPOCH, &id);
        // After one miss, the rest are answered without waiting (the test has failed anyway).
        let seen = if missed {
            contains()
        } else {
            wait_until(contains).is_some()
        };
        missed |= !seen;
        println!("{} {}", if seen { "seen" } else { "missing" }, hex(&id));
    }
}

/// A child process, killed (SIGKILL) if still running when dropped.
struct ChildProcess(Child);

impl Drop for ChildProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Which child a line came from.
const SURVIVOR: u8 = 0;
const KILLED: u8 = 1;

/// Starts a child writer; its stdout lines arrive on `events`, then `None` at its end.
fn start_child(
    dir: &Path,
    count: usize,
    tag: u8,
    events: &mpsc::Sender<(u8, Option<String>)>,
) -> ChildProcess {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "processes::child_shared_writer",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir)
        .env(CHILD_COUNT, count.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let events = events.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if events.send((tag, Some(line))).is_err() {
                return;
            }
        }
        let _ = events.send((tag, None));
    });
    ChildProcess(child)
}

#[test]
fn a_killed_process_loses_nothing_and_the_survivor_saw_it() {
    if std::env::var(CHILD_DIR).is_ok() {
        return;
    }
    const SURVIVOR_COUNT: usize = 1_500;
    const AFTER_SURVIVOR_DONE: usize = 600;
    let dir = tempfile::tempdir().unwrap();
    let (tx, rx) = mpsc::channel();
    let next = |what: &str| {
        rx.recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no line from the children while waiting for {what}"))
    };
    let mut survivor = start_child(dir.path(), SURVIVOR_COUNT, SURVIVOR, &tx);
    loop {
        match next("ready") {
            (SURVIVOR, Some(l)) if l == "ready" => break,
            (SURVIVOR, None) => panic!("the survivor ended before it was ready"),
            _ => {} // test-harness chatter
        }
    }
    // Effectively unbounded: this one is killed while it writes.
    let mut killed = start_child(dir.path(), 1_000_000, KILLED, &tx);
    drop(tx);
    let (mut survivor_acks, mut killed_acks) = (Vec::new(), Vec::new());
    let mut killed_after_done = 0; // acknowledged while the survivor no longer appended
    let mut survivor_done = false;
    let mut killed_ended = false;
    while !killed_ended {
        match next("acknowledgements") {
            (SURVIVOR, Some(l)) if l == "done" => survivor_done = true,
            (SURVIVOR, Some(l)) => survivor_acks.extend(l.strip_prefix("ack ").map(unhex)),
            (KILLED, Some(l)) => {
                if let Some(id) = l.strip_prefix("ack ") {
                    killed_acks.push(unhex(id));
                    killed_after_done += usize::from(survivor_done);
                    if killed_after_done == AFTER_SURVIVOR_DONE {
                        killed.0.kill().unwrap(); // SIGKILL, mid-revocation
                    }
                }
            }
            (KILLED, None) => killed_ended = true,
            (SURVIVOR, None) => panic!("the survivor ended early"),
            _ => unreachable!(),
        }
    }
    let status = killed.0.wait().unwrap();
    assert!(
        survivor_done && !status.success(),
        "the writer was killed: {status}"
    );

    // The survivor must have applied every id the killed process acknowledged, including the
    // last few hundred, written after the survivor's own last append: only its tail thread
    // (following the killed one's compactions too) can have read those.
    let mut stdin = survivor.0.stdin.take().unwrap();
    for id in &killed_acks {
        writeln!(stdin, "expect {}", hex(id)).unwrap();
    }
    drop(stdin);
    let (mut seen, mut not_seen) = (0, 0);
    loop {
        match next("the survivor's answers") {
            (SURVIVOR, Some(l)) if l.starts_with("seen ") => seen += 1,
            (SURVIVOR, Some(l)) if l.starts_with("missing ") => not_seen += 1,
            (SURVIVOR, None) => break,
            _ => {}
        }
    }
    assert!(survivor.0.wait().unwrap().success());

    let store = FileStore::open(dir.path(), keys(), small()).unwrap();
    let acked: HashSet<[u8; 16]> = survivor_acks.iter().chain(&killed_acks).copied().collect();
    let lost = acked.iter().filter(|id| !store.set().contains(EPOCH, id)).count();
    println!(
        "two processes: survivor acknowledged {}, killed one {} ({killed_after_done} after the \
         survivor stopped appending) before SIGKILL; survivor's tail saw {seen}, missed {not_seen}; \
         after reopening {lost} of {} acknowledged ids lost; last open: {:?}",
        survivor_acks.len(),
        killed_acks.len(),
        acked.len(),
        store.recovery()
    );
    assert_eq!(survivor_acks.len(), SURVIVOR_COUNT);
    assert_eq!(lost, 0);
    assert_eq!((seen, not_seen), (killed_acks.len(), 0));
}
