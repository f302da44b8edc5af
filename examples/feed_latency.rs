//! Measures the Redis revocation feed: how long a logout on node A takes to be refused on
//! node B at 100, 1,000 and 10,000 revocations/s (p50, p99, max), how much memory a node
//! holding 1M revocations takes, and how long a node that was down while 100,000 revocations
//! arrived takes to catch up.
//!
//! `cargo run --release --example feed_latency --features redis` (starts its own
//! `redis-server` on a free loopback port, stops it at the end). With `--catch-up N,N,...`,
//! only the catch-up, once per backlog size (benches/cost-curve.sh).
//!
//! A and B are two `RedisStore`s in this process, each with its own data directory and its
//! own connections, so the delay includes A's durable local write, the XADD, B's blocking
//! XREAD, decoding, MAC check and filter insert; only the process boundary is missing. The
//! "acknowledged" instant is when A's `revoke` returns (the logout response could go out);
//! "refused on B" is when B's filter first holds the id.
// A measurement tool: ids are indexed within their own length, percentiles round on purpose.
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sealed_session::revocation::redis::RedisStore;
use sealed_session::revocation::{Durability, FilterConfig, MemoryStore, Revocation, RevocationStore};
use sealed_session::token::{Epoch, SessionId};
use sealed_session::{KeyRing, Keys};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const CONTEXT: &str = "feed-latency";

struct Redis(Child, u16);

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_redis(dir: &std::path::Path) -> Result<Redis, BoxError> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .spawn()?;
    let redis = Redis(child, port);
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if start.elapsed() > Duration::from_secs(10) {
            return Err("redis-server did not start".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(redis)
}

/// Random ids, as the server's own are: the filter hashes an id's two halves directly
/// (spec/revocation.md, "Hashing"), so structured ids would collide.
fn random_ids(count: u32) -> Result<Vec<[u8; 16]>, BoxError> {
    (0..count).map(|_| Ok(SessionId::generate()?.0)).collect()
}

fn open(url: &str, node: &str, dir: &std::path::Path, keys: &Keys) -> Result<RedisStore, BoxError> {
    Ok(RedisStore::builder(url, CONTEXT, node, dir.join(node), keys).open()?)
}

fn wait_ready(store: &RedisStore) -> Result<Duration, BoxError> {
    let start = Instant::now();
    while !store.readiness().is_ready() {
        if start.elapsed() > Duration::from_secs(120) {
            return Err("node never became ready".into());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(start.elapsed())
}

/// Revokes `count` ids on A at `rate` per second (logout durability: fsync'd, group commit
/// across `threads`) and records, per id, acknowledgement → visible on B.
fn propagation(a: &RedisStore, b: &RedisStore, ids: &[[u8; 16]], rate: u32) -> Vec<Duration> {
    let count = u32::try_from(ids.len()).unwrap_or(u32::MAX);
    let epoch = Epoch(1_000_000);
    let acked: Arc<Vec<Mutex<Option<Instant>>>> = Arc::new((0..count).map(|_| Mutex::new(None)).collect());
    let seen: Vec<Mutex<Option<Instant>>> = (0..count).map(|_| Mutex::new(None)).collect();
    let done = AtomicBool::new(false);
    let next = AtomicUsize::new(0);
    let threads = if rate >= 10_000 { 8 } else { 2 };
    let start = Instant::now();
    std::thread::scope(|s| {
        // B: watches every id that is due and not yet seen. Not only the first unseen one:
        // with several revoking threads, acknowledgements (each after its own fsync) finish
        // out of order, and an id published early must not wait for a slower one's turn.
        s.spawn(|| {
            let mut first_unseen = 0usize;
            let mut noted = vec![false; count as usize];
            while first_unseen < count as usize && start.elapsed() < Duration::from_secs(120) {
                // Ids due by now (plus one pacing step): the window of ids that may be in flight.
                let due =
                    ((start.elapsed().as_secs_f64() * f64::from(rate)) as usize + 1).min(count as usize);
                for i in first_unseen..due {
                    if !noted[i] && b.set().contains(epoch, &ids[i]) {
                        noted[i] = true;
                        if let Some(slot) = seen.get(i) {
                            let mut slot = slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                            slot.get_or_insert_with(Instant::now);
                        }
                    }
                }
                while first_unseen < count as usize && noted[first_unseen] {
                    first_unseen += 1;
                }
                // A short sleep, not a spin: on a 2-core machine a spinning watcher would take
                // a core from the feed threads and redis-server it is measuring (resolution
                // ≈ 0.1 ms, well under the 10 ms goal).
                std::thread::sleep(Duration::from_micros(100));
            }
            done.store(true, Ordering::Relaxed);
        });
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count as usize {
                    return;
                }
                // Paced: revocation i is due at i / rate seconds.
                let due = start + Duration::from_secs_f64(i as f64 / f64::from(rate));
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                let r = Revocation::Id { epoch, id: ids[i] };
                if a.revoke_with(r, Durability::Synced).is_ok() {
                    if let Some(slot) = acked.get(i) {
                        *slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
                            Some(Instant::now());
                    }
                }
            });
        }
    });
    let mut delays: Vec<Duration> = acked
        .iter()
        .zip(&seen)
        .filter_map(|(a, s)| {
            let a = (*a.lock().ok()?)?;
            let s = (*s.lock().ok()?)?;
            Some(s.saturating_duration_since(a))
        })
        .collect();
    delays.sort();
    let lost = count as usize - delays.len();
    if lost > 0 {
        println!("  {lost} revocations not seen on B within 120 s");
    }
    delays
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmRSS:")
                    .map(|v| v.trim().trim_end_matches(" kB").trim().to_owned())
            })
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// One catch-up: how long A took to publish the backlog, and B (down meanwhile) to be ready.
struct CatchUp {
    published: Duration,
    ready: Duration,
    total: Duration,
    missing: usize,
}

/// With B down (its store dropped), revokes `count` ids on A in `epoch`, waits until A has
/// published them all, then reopens B from its data directory and times it until ready.
fn catch_up(
    a: &RedisStore,
    url: &str,
    dir: &std::path::Path,
    keys: &Keys,
    epoch: Epoch,
    count: u32,
) -> Result<CatchUp, BoxError> {
    let backlog = random_ids(count)?;
    // In chunks: `Background` revocations beyond the outbox queue's capacity are enforced but
    // never published (a storm guard), and the backlog must reach the stream whole.
    for chunk in backlog.chunks(5_000) {
        for id in chunk {
            a.revoke_with(Revocation::Id { epoch, id: *id }, Durability::Background)?;
        }
        while a.status().outbox_pending > 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    if a.status().outbox_dropped > 0 {
        return Err(format!("A dropped {} backlog records", a.status().outbox_dropped).into());
    }
    // The backlog must be in the stream before B returns (A publishes from its outbox).
    let publishing = Instant::now();
    while a.status().outbox_pending > 0 {
        if publishing.elapsed() > Duration::from_secs(300) {
            return Err("A never published its backlog".into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let published = publishing.elapsed();
    let reopened = Instant::now();
    let b = open(url, "b", dir, keys)?;
    let ready = wait_ready(&b)?;
    let missing = backlog.iter().filter(|id| !b.set().contains(epoch, id)).count();
    Ok(CatchUp {
        published,
        ready,
        total: reopened.elapsed(),
        missing,
    })
}

/// `--catch-up N,N,...`: only the catch-up, once per backlog size (benches/cost-curve.sh).
fn catch_up_sizes() -> Result<Option<Vec<u32>>, BoxError> {
    let mut args = std::env::args().skip(1);
    match (args.next().as_deref(), args.next()) {
        (None, _) => Ok(None),
        (Some("--catch-up"), Some(list)) => {
            Ok(Some(list.split(',').map(str::parse).collect::<Result<_, _>>()?))
        }
        _ => Err("usage: feed_latency [--catch-up N,N,...]".into()),
    }
}

fn main() -> Result<(), BoxError> {
    let only_catch_up = catch_up_sizes()?;
    let dir = tempfile::tempdir()?;
    let redis = start_redis(dir.path())?;
    let url = format!("redis://127.0.0.1:{}/", redis.1);
    let keys = Keys::new(KeyRing::generate()?)?;
    let a = open(&url, "a", dir.path(), &keys)?;
    let b = open(&url, "b", dir.path(), &keys)?;
    wait_ready(&a)?;
    wait_ready(&b)?;
    if let Some(sizes) = only_catch_up {
        drop(b);
        for (i, count) in (0u64..).zip(sizes) {
            let c = catch_up(&a, &url, dir.path(), &keys, Epoch(1_000_001 + i), count)?;
            println!(
                "catch-up backlog {count}: published {:.3} s, ready {:.3} s, total {:.3} s, missing {}",
                c.published.as_secs_f64(),
                c.ready.as_secs_f64(),
                c.total.as_secs_f64(),
                c.missing
            );
        }
        return Ok(());
    }

    println!(
        "propagation, logout acknowledged on A → refused on B (loopback, {} cores):",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    for (rate, count) in [(100u32, 1_000u32), (1_000, 5_000), (10_000, 30_000)] {
        let delays = propagation(&a, &b, &random_ids(count)?, rate);
        println!(
            "  {rate:>6}/s, {count} revocations: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            percentile(&delays, 0.5).as_secs_f64() * 1e3,
            percentile(&delays, 0.99).as_secs_f64() * 1e3,
            delays.last().copied().unwrap_or_default().as_secs_f64() * 1e3
        );
    }

    // Catch-up: B is down while 100,000 revocations arrive.
    drop(b);
    let caught = catch_up(&a, &url, dir.path(), &keys, Epoch(1_000_001), 100_000)?;
    println!(
        "A published the 100,000-record backlog in {:.2} s",
        caught.published.as_secs_f64()
    );
    println!(
        "catch-up of a node down while 100,000 revocations arrived: ready after {:.2} s (open + feed), {} missing once ready; total {:.2} s",
        caught.ready.as_secs_f64(),
        caught.missing,
        caught.total.as_secs_f64()
    );

    // Memory of a node holding 1M revocations (ids spread over 12 hourly generations).
    let before = rss_kib();
    let store = MemoryStore::new(FilterConfig::default())?;
    for i in 0..1_000_000u64 {
        let (epoch, id) = (Epoch(2_000_000 + i % 12), SessionId::generate()?.0);
        store.revoke_with(Revocation::Id { epoch, id }, Durability::Local)?;
    }
    println!(
        "1M revocations over 12 generations: filters {:.1} MiB ({} filters), process RSS +{:.1} MiB",
        store.set().memory_bytes() as f64 / (1 << 20) as f64,
        store.set().filter_count(),
        (rss_kib().saturating_sub(before)) as f64 / 1024.0
    );
    Ok(())
}
