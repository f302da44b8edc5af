//! The Redis feed's outbox under `kill -9`: a child node revokes while Redis is unreachable
//! and is SIGKILLed; every revocation it acknowledged must be enforced when it reopens, before
//! Redis is back, and reach a peer once it is.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod redis_support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis_support::*;
use sealed_session::revocation::RevocationStore;
use sealed_session::CollectingSink;

/// Set in the child: `<data dir>|<redis url>`.
const CHILD: &str = "SEALED_SESSION_REDIS_CHILD";
const LONG: Duration = Duration::from_secs(30);

/// The child: a node whose Redis is unreachable, revoking (`Synced`) and printing each
/// revocation once `revoke` returned `Ok`, until it is killed (or 30 s pass).
#[test]
fn child_node() {
    let Ok(spec) = std::env::var(CHILD) else { return };
    let (dir, url) = spec.split_once('|').unwrap();
    let events = Arc::new(CollectingSink::new());
    let store = builder(url, "k", Path::new(dir), &events).open().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    for i in 0u32.. {
        if Instant::now() > deadline {
            return;
        }
        store.revoke(id_revocation(6, i)).unwrap();
        println!("ack {i}");
    }
}

#[test]
fn kill_9_during_an_outage_loses_nothing() {
    let port = free_port();
    let url = url(port);
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_node", "--nocapture", "--test-threads", "1"])
        .env(CHILD, format!("{}|{url}", dir.path().display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut acked = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(i) = line.strip_prefix("ack ").and_then(|i| i.parse::<u32>().ok()) {
            acked.push(id_revocation(6, i));
            if acked.len() == 300 {
                child.kill().unwrap(); // SIGKILL: no destructor runs
                break;
            }
        }
    }
    child.wait().unwrap();
    // Reopened while Redis is still away: everything acknowledged is enforced from local state.
    let events = Arc::new(CollectingSink::new());
    let k = builder(&url, "k", dir.path(), &events).open().unwrap();
    let local = lost(&k, &acked);
    println!("kill -9: the killed node itself lost {local} of {}", acked.len());
    assert_eq!(local, 0);
    assert!(
        k.status().outbox_pending >= acked.len() as u64,
        "all still to publish"
    );
    let _server = Server::start_on(port);
    let b = Node::open(&url, "b");
    converge(&b, &acked, LONG, "kill -9 during an outage");
}
