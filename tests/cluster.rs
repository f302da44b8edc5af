//! A three-node cluster under faults: real `redis-server` processes on free loopback ports,
//! node processes (this binary re-executed), SIGKILL, SIGSTOP, a restarted-empty Redis, a
//! partition through a stopped proxy, forged stream records, staged key rotation under load,
//! skewed clocks, and the shared-directory feed with the CLI revoking into it.
//!
//! Every scenario counts what it did (revocations made, enforced, lost; sessions refused)
//! and prints it; the assertions are on those counts.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "cluster_support/mod.rs"]
mod support;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use sealed_session::{KeyId, KeyRing, KeySchedule, KeyState, SessionKey, UnixTime};
use support::node::{Feed, Node, NodeSpec, CONTEXT};
use support::proxy::{Proxy, ROLE};
use support::redis_server::RedisServer;
use support::wait_for;

/// How long a revocation may take to reach another node before the test calls it lost.
const BOUND: Duration = Duration::from_secs(5);

/// Child-process entry point, not a test: when the harness re-executes this binary with
/// `SEALED_CLUSTER_ROLE` set, this runs a node or a proxy until killed. Run normally it
/// returns at once.
#[test]
fn cluster_child_process() {
    match std::env::var(ROLE).as_deref() {
        Ok("node") => support::node::run_node_from_env(),
        Ok("proxy") => support::proxy::run_proxy_from_env(),
        _ => {}
    }
}

/// The scenarios run one at a time: each starts its own Redis and three nodes, and timing
/// bounds mean little on two cores shared by four clusters.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn key_file(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("keys");
    KeyRing::empty()
        .with_key(KeyId(1), KeyState::Primary, SessionKey::generate().unwrap())
        .unwrap()
        .write_new_file(&path)
        .unwrap();
    path
}

struct Cluster {
    nodes: Vec<Node>,
    _dir: tempfile::TempDir,
}

impl Cluster {
    fn start(feeds: &[Feed], tweak: impl Fn(&mut NodeSpec)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let keys = key_file(dir.path());
        let nodes = feeds
            .iter()
            .zip(["a", "b", "c"])
            .map(|(feed, name)| {
                let mut spec = NodeSpec::new(name, &keys, dir.path(), feed.clone());
                tweak(&mut spec);
                Node::start(spec)
            })
            .collect::<Vec<_>>();
        for node in &nodes {
            assert!(
                wait_for(BOUND * 2, || node.ready()).is_some(),
                "node {} never ready",
                node.spec.name
            );
        }
        Self { nodes, _dir: dir }
    }

    fn redis(redis: &RedisServer) -> Self {
        Self::start(
            &[
                Feed::Redis(redis.url()),
                Feed::Redis(redis.url()),
                Feed::Redis(redis.url()),
            ],
            |_| {},
        )
    }

    fn keys(&self) -> &Path {
        &self.nodes[0].spec.keys
    }
}

/// Waits until every node in `nodes` refuses every token; the tokens still accepted by some
/// node once the bound has passed are lost revocations. Returns (lost, slowest wait).
fn enforced_everywhere(nodes: &[&Node], tokens: &[String]) -> (usize, Duration) {
    let mut slowest = Duration::ZERO;
    let mut lost = 0;
    for node in nodes {
        for token in tokens {
            match wait_for(BOUND, || !node.accepts(token)) {
                Some(waited) => slowest = slowest.max(waited),
                None => lost += 1,
            }
        }
    }
    (lost, slowest)
}

#[test]
fn logout_logout_everywhere_and_kill_switch_reach_every_node() {
    let _serial = serial();
    let redis = RedisServer::start();
    let cluster = Cluster::redis(&redis);
    let [a, b, c] = &cluster.nodes[..] else {
        unreachable!()
    };
    let all = [a, b, c];

    let alice = a.login("alice");
    assert!(
        all.iter().all(|n| n.accepts(&alice)),
        "a session minted on A opens on every node"
    );
    a.logout(&alice);
    assert!(
        !a.accepts(&alice),
        "refused at once on the node that took the logout"
    );
    let (lost, slowest) = enforced_everywhere(&[b, c], std::slice::from_ref(&alice));
    println!("logout: made 1, lost {lost}, slowest node {slowest:?}");
    assert_eq!(lost, 0);

    let bob = [b.login("bob"), c.login("bob"), a.login("bob")];
    let carol = c.login("carol");
    a.logout_everywhere("bob");
    let (lost, slowest) = enforced_everywhere(&all, &bob);
    println!("logout-everywhere: 3 sessions, lost {lost}, slowest {slowest:?}");
    assert_eq!(lost, 0);
    assert!(
        all.iter().all(|n| n.accepts(&carol)),
        "another subject is untouched"
    );
    let event = a
        .events()
        .into_iter()
        .find(|e| e.starts_with("LogoutEverywhere"))
        .unwrap();
    assert!(
        event.contains("subject=Some(\"bob\")") && event.contains("at=Some("),
        "{event}"
    );

    let dave = [a.login("dave"), b.login("dave")];
    b.kill_switch();
    let (lost, slowest) = enforced_everywhere(&all, &[dave[0].clone(), dave[1].clone(), carol]);
    println!("kill switch: 3 sessions, lost {lost}, slowest {slowest:?}");
    assert_eq!(lost, 0);
    assert!(b
        .events()
        .iter()
        .any(|e| e.starts_with("KillSwitch") && e.contains("at=Some(")));
    // Sessions begun after the kill switch reached a node live there and everywhere.
    let after = c.login("erin");
    assert!(all.iter().all(|n| n.accepts(&after)));
}

/// Logs in and out on `node` `count` times; the revoked tokens.
fn revoke_stream(node: &Node, user: &str, count: usize) -> Vec<String> {
    (0..count)
        .map(|_| {
            let token = node.login(user);
            node.logout(&token);
            token
        })
        .collect()
}

#[test]
fn a_node_killed_during_a_revocation_stream_is_ready_only_once_caught_up() {
    let _serial = serial();
    let redis = RedisServer::start();
    let mut cluster = Cluster::redis(&redis);
    let before_kill = revoke_stream(&cluster.nodes[0], "alice", 50);
    cluster.nodes[2].kill9();
    let while_down = revoke_stream(&cluster.nodes[0], "alice", 200);
    let revoked: Vec<String> = before_kill.iter().chain(&while_down).cloned().collect();
    // Revocations keep arriving while C restarts.
    let a_port = cluster.nodes[0].port;
    let stream = std::thread::spawn(move || {
        let a = support::http::request;
        let mut tokens = Vec::new();
        for _ in 0..100 {
            let t = a(a_port, "POST", "/login/bob", None).body;
            a(a_port, "POST", "/logout", Some(&t));
            tokens.push(t);
        }
        tokens
    });
    cluster.nodes[2].restart();
    let c = &cluster.nodes[2];
    let mut unready_polls = 0;
    let ready_after = wait_for(BOUND * 4, || {
        let ready = c.ready();
        unready_polls += usize::from(!ready);
        ready
    })
    .expect("C became ready");
    // The moment it says ready, it refuses everything revoked before it restarted.
    let accepted_when_ready = revoked.iter().filter(|t| c.accepts(t)).count();
    let during_restart = stream.join().unwrap();
    let (lost, slowest) = enforced_everywhere(&[c], &during_restart);
    println!(
        "kill -9 of C: revocations made {} before and while down, {} while restarting; \
         ready after {ready_after:?} ({unready_polls} unready polls); accepted once ready {accepted_when_ready}; \
         lost {lost}; slowest {slowest:?}",
        revoked.len(),
        during_restart.len()
    );
    assert_eq!(accepted_when_ready, 0);
    assert_eq!(lost, 0);
}

/// Sessions that must stay valid through a fault, checked on every node.
fn refused_valid(nodes: &[&Node], valid: &[String]) -> usize {
    nodes
        .iter()
        .map(|n| valid.iter().filter(|t| !n.accepts(t)).count())
        .sum()
}

#[test]
fn redis_stopped_then_restarted_empty_loses_no_revocation() {
    let _serial = serial();
    let mut redis = RedisServer::start();
    let cluster = Cluster::redis(&redis);
    let [a, b, c] = &cluster.nodes[..] else {
        unreachable!()
    };
    let all = [a, b, c];
    let valid: Vec<String> = (0..10).map(|i| all[i % 3].login(&format!("user{i}"))).collect();

    // 30 s of a hung Redis (SIGSTOP keeps the connections open and silent).
    redis.pause();
    let outage = Instant::now();
    let mut during = Vec::new();
    let mut served = 0;
    let mut refused = 0;
    while outage.elapsed() < Duration::from_secs(30) {
        let token = a.login("mallory");
        a.logout(&token);
        assert!(!a.accepts(&token), "enforced at once on the node that took it");
        during.push(token);
        let r = refused_valid(&all, &valid);
        refused += r;
        served += valid.len() * 3 - r;
        std::thread::sleep(Duration::from_millis(500));
    }
    redis.resume();
    let (lost, slowest) = enforced_everywhere(&[b, c], &during);
    println!(
        "redis SIGSTOP 30 s: revocations made {} on A (enforced on A at once), valid checks served {served}, \
         refused {refused}; after SIGCONT lost {lost}, slowest {slowest:?}",
        during.len()
    );
    assert_eq!((refused, lost), (0, 0));

    // Killed and restarted with nothing: no persistence, as after a failover to an empty replica.
    redis.restart();
    let after: Vec<String> = revoke_stream(b, "oscar", 10);
    let everything: Vec<String> = during.iter().chain(&after).cloned().collect();
    let (lost, slowest) = enforced_everywhere(&all, &everything);
    let refused = refused_valid(&all, &valid);
    println!(
        "redis restarted empty: revocations before {} and after {}, lost {lost}, slowest {slowest:?}, valid refused {refused}",
        during.len(),
        after.len()
    );
    assert_eq!((lost, refused), (0, 0));
    // A node that starts now, with an empty Redis refilled by the others, misses nothing.
    let late = Node::start(NodeSpec::new(
        "d",
        cluster.keys(),
        cluster._dir.path(),
        Feed::Redis(redis.url()),
    ));
    assert!(wait_for(BOUND * 2, || late.ready()).is_some());
    let (lost, _) = enforced_everywhere(&[&late], &everything);
    println!(
        "a fourth node started after the empty restart: lost {lost} of {}",
        everything.len()
    );
    assert_eq!(lost, 0);
    assert!(all
        .iter()
        .any(|n| n.events().iter().any(|e| e.starts_with("FeedRegressed"))));
}

#[test]
fn a_forged_stream_record_is_ignored_and_reported() {
    let _serial = serial();
    let redis = RedisServer::start();
    let cluster = Cluster::redis(&redis);
    let all: Vec<&Node> = cluster.nodes.iter().collect();
    let valid: Vec<String> = (0..6).map(|i| all[i % 3].login("alice")).collect();
    let stream = format!("sealed-session:{CONTEXT}:revocations");
    // A kill switch for everything, as the payload the nodes would apply, with a made-up MAC.
    let far_future = sealed_session::revocation::Revocation::KillSwitch {
        before: UnixTime(4_000_000_000),
    };
    let payload = postcard::to_allocvec(&far_future).unwrap();
    forge(&redis, &stream, &payload, &[0u8; 32]);
    forge(&redis, &stream, b"garbage", b"not a mac");
    let _ = redis.cli(&["XADD", &stream, "*", "hello", "world"]);
    let reported = wait_for(BOUND, || {
        all.iter().all(|n| {
            n.events()
                .iter()
                .filter(|e| e.starts_with("ForgedFeedRecord"))
                .count()
                >= 3
        })
    });
    let refused = refused_valid(&all, &valid);
    println!(
        "forged records: 3 written, reported by every node: {}, valid sessions refused {refused}",
        reported.is_some()
    );
    assert!(reported.is_some(), "every node reports every forged record");
    assert_eq!(refused, 0, "the forged kill switch had no effect");
    // The feed still works after the forgeries.
    let t = all[0].login("bob");
    all[0].logout(&t);
    assert_eq!(enforced_everywhere(&all, &[t]).0, 0);
}

/// XADD with binary field values, as someone with write access to Redis but no key would:
/// key id 1, the payload, a made-up MAC.
fn forge(redis: &RedisServer, stream: &str, payload: &[u8], mac: &[u8]) {
    let reply = redis.raw_command(&[
        b"XADD",
        stream.as_bytes(),
        b"*",
        b"k",
        b"1",
        b"n",
        b"mallory",
        b"r",
        payload,
        b"m",
        mac,
    ]);
    assert!(
        reply.starts_with(b"$"),
        "XADD refused: {}",
        String::from_utf8_lossy(&reply)
    );
}

#[test]
fn staged_rotation_under_round_robin_load_refuses_no_valid_session() {
    let _serial = serial();
    let redis = RedisServer::start();
    let lifetime = 8;
    let cluster = Cluster::start(
        &[
            Feed::Redis(redis.url()),
            Feed::Redis(redis.url()),
            Feed::Redis(redis.url()),
        ],
        |s| {
            s.lifetime = lifetime;
        },
    );
    let nodes: Vec<&Node> = cluster.nodes.iter().collect();
    let start = Instant::now();
    let now = || sealed_session::Clock::now(&sealed_session::SystemClock);
    let activate_at = now().saturating_add(Duration::from_secs(4));
    let retire_at = activate_at.saturating_add(Duration::from_secs(lifetime + 6));
    let mut ring = KeyRing::from_file(cluster.keys()).unwrap();
    ring.insert(KeyId(2), KeyState::AcceptOnly, SessionKey::generate().unwrap())
        .unwrap();
    ring.set_schedule(
        KeyId(2),
        KeySchedule {
            activate_at: Some(activate_at),
            retire_at: None,
        },
    )
    .unwrap();
    ring.set_schedule(
        KeyId(1),
        KeySchedule {
            activate_at: None,
            retire_at: Some(retire_at),
        },
    )
    .unwrap();
    ring.replace_file(cluster.keys()).unwrap();
    // (minted at, token)
    let mut sessions: Vec<(UnixTime, String)> = Vec::new();
    let (mut verified, mut refused, mut minted_new_key_late, mut minted_old_key_late) = (0, 0, 0, 0);
    let mut i = 0usize;
    while now() < retire_at.saturating_add(Duration::from_secs(3)) {
        let node = nodes[i % 3];
        i += 1;
        let t = now();
        let token = node.login(&format!("u{}", i % 50));
        let key = node.check(&token).body;
        if t > activate_at.saturating_add(Duration::from_secs(1)) {
            if key.ends_with("key=2") {
                minted_new_key_late += 1;
            } else {
                minted_old_key_late += 1;
            }
        }
        sessions.push((t, token));
        // Still valid by the client's own clock, with a second of margin: must open on the
        // next node in the round.
        sessions.retain(|(m, _)| now().0 + 1 < m.0 + lifetime);
        for (_, token) in sessions.iter().rev().take(3) {
            let next = nodes[i % 3];
            verified += 1;
            if !next.accepts(token) {
                refused += 1;
            }
        }
    }
    println!(
        "staged rotation in {:?}: {verified} verifications of valid sessions, {refused} refused; \
         logins after the activation: {minted_new_key_late} under the new key, {minted_old_key_late} under the old",
        start.elapsed()
    );
    assert_eq!(refused, 0);
    assert_eq!(minted_old_key_late, 0);
    assert!(minted_new_key_late > 0);
}

#[test]
fn clocks_five_seconds_apart_inside_the_leeway_refuse_nothing_valid() {
    let _serial = serial();
    let redis = RedisServer::start();
    let skews = [-5, 0, 5];
    let cluster = Cluster::start(
        &[
            Feed::Redis(redis.url()),
            Feed::Redis(redis.url()),
            Feed::Redis(redis.url()),
        ],
        |s| {
            s.skew = skews[(s.name.as_bytes()[0] - b'a') as usize];
            s.leeway = 10; // the widest gap between two nodes
        },
    );
    let nodes: Vec<&Node> = cluster.nodes.iter().collect();
    let (mut verified, mut refused) = (0, 0);
    let mut tokens = Vec::new();
    for round in 0..30 {
        for (i, minter) in nodes.iter().enumerate() {
            let token = minter.login(&format!("user{round}"));
            for checker in &nodes {
                verified += 1;
                refused += usize::from(!checker.accepts(&token));
            }
            if i == 0 {
                tokens.push(token);
            }
        }
    }
    // Revocation across the skew: a logout on the node ahead is enforced by the node behind.
    let ahead = nodes[2].login("zed");
    nodes[2].logout(&ahead);
    let (lost, _) = enforced_everywhere(&nodes, &[ahead]);
    println!(
        "clock skew -5/0/+5 s, leeway 10 s: {verified} verifications, {refused} refused; logout lost {lost}"
    );
    assert_eq!((refused, lost), (0, 0));
}

#[test]
fn a_partitioned_node_enforces_everything_after_the_heal() {
    let _serial = serial();
    let redis = RedisServer::start();
    let proxy = Proxy::start(redis.port);
    let cluster = Cluster::start(
        &[
            Feed::Redis(redis.url()),
            Feed::Redis(redis.url()),
            Feed::Redis(proxy.url()),
        ],
        |_| {},
    );
    let [a, b, c] = &cluster.nodes[..] else {
        unreachable!()
    };
    let valid: Vec<String> = (0..6).map(|i| [a, b, c][i % 3].login("keeper")).collect();
    proxy.pause();
    let mut revoked = revoke_stream(a, "alice", 40);
    revoked.extend(revoke_stream(b, "bob", 40));
    let served_during = valid.iter().filter(|t| c.accepts(t)).count();
    proxy.resume();
    let (lost, slowest) = enforced_everywhere(&[c], &revoked);
    let refused = refused_valid(&[a, b, c], &valid);
    println!(
        "partition of C: {} revocations on A and B during it; C served {served_during}/{} valid sessions \
         during; after the heal lost {lost}, slowest {slowest:?}; valid refused {refused}",
        revoked.len(),
        valid.len()
    );
    assert_eq!((lost, refused, served_during), (0, 0, valid.len()));
}

#[test]
fn shared_directory_nodes_and_the_cli_share_revocations_and_survive_kill_9() {
    let _serial = serial();
    let shared = tempfile::tempdir().unwrap();
    let feed = Feed::SharedDir(shared.path().join("revocations"));
    let mut cluster = Cluster::start(&[feed.clone(), feed], |_| {});
    let subject_tokens = [cluster.nodes[0].login("alice"), cluster.nodes[1].login("alice")];
    // The operator's CLI, into the running deployment's directory.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sealed-session"))
        .args(["revoke", "--subject", "alice", "--context", CONTEXT, "--keys"])
        .arg(cluster.keys())
        .arg("--data-dir")
        .arg(shared.path().join("revocations"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let nodes: Vec<&Node> = cluster.nodes.iter().collect();
    let (lost, slowest) = enforced_everywhere(&nodes, &subject_tokens);
    println!("CLI revoke --subject into the shared directory: 2 sessions, lost {lost}, slowest {slowest:?}");
    assert_eq!(lost, 0);

    let before = revoke_stream(&cluster.nodes[0], "bob", 50);
    cluster.nodes[1].kill9();
    let while_down = revoke_stream(&cluster.nodes[0], "bob", 50);
    cluster.nodes[1].restart();
    let mut by_b = revoke_stream(&cluster.nodes[1], "carol", 20);
    cluster.nodes[0].kill9();
    cluster.nodes[0].restart();
    by_b.extend(revoke_stream(&cluster.nodes[1], "carol", 5));
    let all: Vec<String> = before.iter().chain(&while_down).chain(&by_b).cloned().collect();
    let nodes: Vec<&Node> = cluster.nodes.iter().collect();
    let (lost, slowest) = enforced_everywhere(&nodes, &all);
    println!(
        "shared directory, kill -9 of each node in turn: {} revocations, lost {lost}, slowest {slowest:?}",
        all.len()
    );
    assert_eq!(lost, 0);
}
