//! The Redis feed against a real `redis-server` (one per test, on a free port): propagation,
//! forged entries, restarts, a stopped server, a server restarted empty, trimming, and the
//! outbox across an outage (`kill -9` during one: tests/redis_crash.rs). Each test prints
//! made / enforced / lost counts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod redis_support;

use std::time::{Duration, Instant};

use redis_support::*;
use sealed_session::revocation::redis::{feed_status, publish, RedisStoreBuilder, StartupPolicy};
use sealed_session::revocation::{Durability, Readiness, Revocation, RevocationStore};
use sealed_session::{EventKind, UnixTime};

const LONG: Duration = Duration::from_secs(30);

fn ready_all(nodes: &[&Node]) {
    for n in nodes {
        wait_for(LONG, &format!("{} to be ready", n.name), || n.ready());
    }
}

#[test]
fn a_revocation_on_one_node_is_enforced_on_the_others() {
    let server = Server::start();
    let (a, b, c) = (
        Node::open(&server.url(), "a"),
        Node::open(&server.url(), "b"),
        Node::open(&server.url(), "c"),
    );
    ready_all(&[&a, &b, &c]);
    let made = vec![
        id_revocation(1, 1),
        Revocation::Subject {
            subject: "alice".into(),
            cutoff: UnixTime(1_800_000_000),
        },
        Revocation::KillSwitch {
            before: UnixTime(1_700_000_000),
        },
    ];
    for r in &made {
        a.store().revoke(r.clone()).unwrap();
        assert!(
            enforces(a.store(), r),
            "enforced on the node that took it at once"
        );
    }
    let background = id_revocation(2, 1);
    b.store()
        .revoke_with(background.clone(), Durability::Background)
        .unwrap();
    let local = id_revocation(3, 1);
    c.store().revoke_with(local.clone(), Durability::Local).unwrap();
    let mut all = made.clone();
    all.push(background);
    for n in [&a, &b, &c] {
        converge(n, &all, LONG, "propagation");
    }
    wait_for(LONG, "outboxes to drain", || {
        [&a, &b, &c]
            .iter()
            .all(|n| n.store().status().outbox_pending == 0)
    });
    assert!(
        !enforces(a.store(), &local) && !enforces(b.store(), &local),
        "Local never leaves the node"
    );
    let status = feed_status(&server.url(), CONTEXT).unwrap();
    assert_eq!(status.length, 4);
    assert!(status.incarnation.is_some());
    wait_for(LONG, "every node to report its position", || {
        feed_status(&server.url(), CONTEXT).unwrap().nodes.len() == 3
    });
    wait_for(LONG, "c to count what it applied", || {
        c.store().status().records_applied >= 4
    });
    let s = c.store().status();
    assert!(s.connected && s.forged_records == 0, "{s:?}");
    assert_eq!(s.readiness, Readiness::Ready);
}

#[test]
fn forged_entries_are_ignored_and_reported() {
    let server = Server::start();
    let (a, b) = (Node::open(&server.url(), "a"), Node::open(&server.url(), "b"));
    ready_all(&[&a, &b]);
    let kill = Revocation::KillSwitch {
        before: UnixTime(4_000_000_000),
    };
    let stream = format!("sealed-session:{CONTEXT}:revocations");
    let mut raw = server.client();
    let mut forge = |fields: &[(&[u8], &[u8])]| {
        let mut xadd = redis::cmd("XADD");
        xadd.arg(&stream).arg("*");
        for (k, v) in fields {
            xadd.arg(*k).arg(*v);
        }
        let _: String = xadd.query(&mut raw).unwrap();
    };
    // A kill switch's payload (postcard: tag 2, varint time) with no key, and with a bad MAC.
    let payload = [0x02, 0x80, 0xd0, 0xac, 0xf3, 0x0e];
    forge(&[(b"r", &payload)]);
    forge(&[
        (b"k", b"1"),
        (b"n", b"mallory"),
        (b"r", &payload),
        (b"m", &[0u8; 32]),
    ]);
    forge(&[(b"garbage", b"\xff\xfe"), (b"\x00\x01", b"")]);
    forge(&[(b"k", b"200"), (b"n", b"x"), (b"r", &payload), (b"m", &[1u8; 32])]);
    // Correctly formed, under a key with the right id but the wrong secret.
    publish(&server.url(), CONTEXT, &other_keys(), &kill).unwrap();
    // A genuine entry of another deployment, replayed into this one.
    publish(&server.url(), "other", keys(), &kill).unwrap();
    let mut raw = server.client();
    let replayed: Vec<(String, Vec<Vec<u8>>)> = redis::cmd("XRANGE")
        .arg("sealed-session:other:revocations")
        .arg("-")
        .arg("+")
        .query(&mut raw)
        .unwrap();
    let mut xadd = redis::cmd("XADD");
    xadd.arg(&stream).arg("*");
    for part in &replayed[0].1 {
        xadd.arg(part.as_slice());
    }
    let _: String = xadd.query(&mut raw).unwrap();
    const FORGED: u64 = 6;

    // A genuine record after them: once B has it, B has read past every forgery.
    let genuine = id_revocation(9, 1);
    a.store().revoke(genuine.clone()).unwrap();
    converge(&b, std::slice::from_ref(&genuine), LONG, "after forgeries");
    for n in [&a, &b] {
        assert_eq!(
            n.store().set().kill_switch(),
            None,
            "a forged kill switch has no effect"
        );
        assert!(n.events.saw(EventKind::ForgedFeedRecord));
        let forged = n.store().status().forged_records;
        println!("node {}: forged entries seen {forged} of {FORGED}", n.name);
        assert_eq!(forged, FORGED);
    }
}

#[test]
fn a_restarted_node_catches_up_before_it_is_ready() {
    let server = Server::start();
    let (a, mut b) = (Node::open(&server.url(), "a"), Node::open(&server.url(), "b"));
    ready_all(&[&a, &b]);
    let before = id_revocation(1, 0);
    a.store().revoke(before.clone()).unwrap();
    converge(&b, std::slice::from_ref(&before), LONG, "before the restart");
    b.close();
    let made: Vec<_> = (0..2000).map(|i| id_revocation(2, i)).collect();
    for r in &made {
        a.store().revoke_with(r.clone(), Durability::Background).unwrap();
    }
    wait_for(LONG, "a to publish everything", || {
        a.store().status().outbox_pending == 0
    });
    b.reopen(&server.url());
    let mut not_ready_seen = 0u32;
    let start = Instant::now();
    loop {
        let ready = b.ready();
        // Whenever the node says it is ready, it must already hold everything.
        let missing = lost(b.store(), &made);
        if ready {
            assert_eq!(missing, 0, "ready with {missing} revocations missing");
            break;
        }
        not_ready_seen += 1;
        assert!(start.elapsed() < LONG, "b never became ready");
        std::thread::sleep(Duration::from_millis(1));
    }
    println!("restart: not ready on {not_ready_seen} checks before catching up");
    converge(&b, &made, LONG, "restart");
    assert!(
        enforces(b.store(), &before),
        "what it had before the restart is still there"
    );
}

#[test]
fn a_stopped_server_loses_nothing() {
    let server = Server::start();
    let a = Node::open(&server.url(), "a");
    let strict = |b: RedisStoreBuilder| b.max_staleness(Duration::from_millis(200));
    let b = Node::open_with(&server.url(), "b", strict);
    ready_all(&[&a, &b]);
    server.pause();
    let made: Vec<_> = (0..50).map(|i| id_revocation(1, i)).collect();
    for (i, r) in made.iter().enumerate() {
        let start = Instant::now();
        let durability = if i % 2 == 0 {
            Durability::Synced
        } else {
            Durability::Background
        };
        a.store().revoke_with(r.clone(), durability).unwrap();
        assert!(enforces(a.store(), r), "enforced at once during the outage");
        assert!(
            start.elapsed() < Duration::from_millis(500),
            "revoke never waits for the network"
        );
    }
    wait_for(LONG, "a to notice the outage", || {
        a.events.saw(EventKind::FeedUnavailable)
    });
    assert!(!a.store().status().connected);
    assert!(
        a.ready(),
        "an outage within max_staleness keeps a current node ready"
    );
    wait_for(
        LONG,
        "b to report the feed unavailable past its max_staleness",
        || b.store().readiness() == Readiness::FeedUnavailable,
    );
    assert_eq!(
        lost(b.store(), &made),
        made.len(),
        "nothing reaches b while the server is stopped"
    );
    server.resume();
    converge(&b, &made, LONG, "stopped server");
    wait_for(LONG, "b ready again", || b.ready());
    wait_for(LONG, "a's outbox to drain", || {
        a.store().status().outbox_pending == 0
    });
    let unavailable = a
        .events
        .events()
        .iter()
        .filter(|e| e.kind == EventKind::FeedUnavailable)
        .count();
    assert_eq!(unavailable, 1, "FeedUnavailable once per outage");
}

#[test]
fn a_server_restarted_empty_is_refilled() {
    let mut server = Server::start();
    let url = server.url();
    let (a, b, mut c) = (
        Node::open(&url, "a"),
        Node::open(&url, "b"),
        Node::open(&url, "c"),
    );
    ready_all(&[&a, &b, &c]);
    let mut made: Vec<_> = (0..30).map(|i| id_revocation(1, i)).collect();
    made.extend((0..30).map(|i| id_revocation(2, i)));
    for (i, r) in made.iter().enumerate() {
        let node = if i < 30 { &a } else { &b };
        node.store().revoke(r.clone()).unwrap();
    }
    for n in [&a, &b, &c] {
        converge(n, &made, LONG, "before the restart");
    }
    // C goes away; A revokes more, published but read by no one else before Redis loses it.
    c.close();
    let unread: Vec<_> = (0..20).map(|i| id_revocation(3, i)).collect();
    for r in &unread {
        a.store().revoke(r.clone()).unwrap();
    }
    // Published by the CLI: only the stream holds them until a node applies them, so after
    // the restart they live on only in A's and B's snapshots.
    let cli: Vec<_> = (0..10).map(|i| id_revocation(5, i)).collect();
    for r in &cli {
        publish(&url, CONTEXT, keys(), r).unwrap();
    }
    wait_for(LONG, "a to publish", || a.store().status().outbox_pending == 0);
    converge(&a, &cli, LONG, "published by the cli");
    converge(&b, &cli, LONG, "published by the cli");
    server.restart_empty();
    let after: Vec<_> = (0..20).map(|i| id_revocation(4, i)).collect();
    for r in &after {
        b.store().revoke(r.clone()).unwrap();
    }
    c.reopen(&url);
    made.extend(unread);
    made.extend(after);
    made.extend(cli);
    for n in [&a, &b, &c] {
        converge(n, &made, LONG, "restarted empty");
    }
    for n in [&a, &b, &c] {
        assert!(
            n.events.saw(EventKind::FeedRegressed),
            "node {} saw the regression",
            n.name
        );
    }
    assert!(
        feed_status(&url, CONTEXT).unwrap().incarnation.is_some(),
        "a new incarnation"
    );
}

#[test]
fn a_stream_behind_the_nodes_is_a_regression() {
    // A failover to a lagging replica, simulated: same incarnation, but the stream now ends
    // below what the nodes read (recreated with one entry at id 1-1).
    let server = Server::start();
    let url = server.url();
    let (a, b, mut c) = (
        Node::open(&url, "a"),
        Node::open(&url, "b"),
        Node::open(&url, "c"),
    );
    ready_all(&[&a, &b, &c]);
    let before: Vec<_> = (0..20).map(|i| id_revocation(1, i)).collect();
    for r in &before {
        a.store().revoke(r.clone()).unwrap();
    }
    for n in [&a, &b, &c] {
        converge(n, &before, LONG, "before the failover");
    }
    c.close();
    // Published while C is away, then lost with the old primary.
    let unread: Vec<_> = (0..10).map(|i| id_revocation(3, i)).collect();
    for r in &unread {
        a.store().revoke(r.clone()).unwrap();
    }
    converge(&b, &unread, LONG, "before the failover");
    let stream = format!("sealed-session:{CONTEXT}:revocations");
    let mut raw = server.client();
    let _: () = redis::cmd("DEL").arg(&stream).query(&mut raw).unwrap();
    let _: String = redis::cmd("XADD")
        .arg(&stream)
        .arg("1-1")
        .arg("x")
        .arg("y")
        .query(&mut raw)
        .unwrap();
    // A failover drops every client connection.
    let _: redis::Value = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("normal")
        .query(&mut raw)
        .unwrap();
    for n in [&a, &b] {
        wait_for(LONG, "the regression to be noticed", || {
            n.events.saw(EventKind::FeedRegressed)
        });
    }
    let after = id_revocation(2, 0);
    b.store().revoke(after.clone()).unwrap();
    c.reopen(&url);
    let mut all = before.clone();
    all.extend(unread);
    all.push(after);
    for n in [&a, &b, &c] {
        converge(n, &all, LONG, "stream behind");
        assert!(
            n.events.saw(EventKind::FeedRegressed),
            "node {} saw the regression",
            n.name
        );
    }
}

#[test]
fn a_node_away_past_the_trim_loads_the_shared_snapshots() {
    let server = Server::start();
    let url = server.url();
    let fast = |b: RedisStoreBuilder| {
        b.retention(Duration::from_millis(200))
            .snapshot_every(Duration::from_millis(200))
    };
    let a_dir = tempfile::tempdir().unwrap();
    let a_events = std::sync::Arc::new(sealed_session::CollectingSink::new());
    let a = fast(builder(&url, "a", a_dir.path(), &a_events)).open().unwrap();
    let mut b = Node::open(&url, "b");
    wait_for(LONG, "both ready", || a.readiness().is_ready() && b.ready());
    b.close();
    let made: Vec<_> = (0..100).map(|i| id_revocation(1, i)).collect();
    for r in &made {
        a.revoke(r.clone()).unwrap();
    }
    wait_for(LONG, "a to publish everything", || a.status().outbox_pending == 0);
    // Trimming needs entries older than the retention and covered by a published snapshot.
    wait_for(LONG, "the stream to be trimmed", || {
        feed_status(&url, CONTEXT).unwrap().length < made.len() as u64
    });
    let held = feed_status(&url, CONTEXT).unwrap().length;
    println!("trim: {held} of {} entries still in the stream", made.len());
    // A snapshot hash written by someone without the key, claiming to cover everything.
    let mut raw = server.client();
    let _: () = redis::cmd("HSET")
        .arg(format!("sealed-session:{CONTEXT}:nodes"))
        .arg("mallory")
        .arg("99999999999999-0 0")
        .query(&mut raw)
        .unwrap();
    let _: () = redis::cmd("HSET")
        .arg(format!("sealed-session:{CONTEXT}:snapshot:mallory"))
        .arg(&[
            "k",
            "1",
            "n",
            "mallory",
            "i",
            "00000000000000000000000000000000",
            "c",
            "99999999999999-0",
        ])
        .arg("s")
        .arg(&[1u8, 1, 0, 0][..])
        .arg("m")
        .arg(&[0u8; 32][..])
        .query(&mut raw)
        .unwrap();
    b.reopen_with(fast, &url);
    wait_for(LONG, "b ready", || b.ready());
    converge(&b, &made, LONG, "away past the trim");
    assert!(
        b.events.saw(EventKind::ForgedFeedRecord),
        "the forged snapshot was refused"
    );
    // Refused at every load (B loads again whenever a trim overtakes it while it reads).
    assert!(b.store().status().forged_records >= 1);
}

#[test]
fn the_outbox_survives_an_outage_and_a_restart() {
    let port = free_port();
    let url = url(port);
    let mut a = Node::open(&url, "a");
    let events = std::sync::Arc::new(sealed_session::CollectingSink::new());
    let dir = tempfile::tempdir().unwrap();
    let serve_local = builder(&url, "s", dir.path(), &events)
        .startup(StartupPolicy::ServeLocal)
        .open()
        .unwrap();
    wait_for(LONG, "a to find the feed unreachable", || {
        a.store().readiness() == Readiness::FeedUnavailable
    });
    assert!(
        serve_local.readiness().is_ready(),
        "ServeLocal serves from local state"
    );
    let made: Vec<_> = (0..25).map(|i| id_revocation(1, i)).collect();
    for (i, r) in made.iter().enumerate() {
        let durability = if i < 20 {
            Durability::Synced
        } else {
            Durability::Background
        };
        a.store().revoke_with(r.clone(), durability).unwrap();
    }
    assert!(a.events.saw(EventKind::FeedUnavailable));
    wait_for(LONG, "the outbox to hold every record", || {
        a.store().status().outbox_pending == 25
    });
    a.close(); // dropped without publishing anything
    drop(serve_local);

    let _server = Server::start_on(port);
    let b = Node::open(&url, "b");
    a.reopen(&url);
    converge(&b, &made, LONG, "outbox after the outage");
    converge(&a, &made, LONG, "outbox after the outage");
    wait_for(LONG, "a's outbox to drain", || {
        a.store().status().outbox_pending == 0
    });
}
