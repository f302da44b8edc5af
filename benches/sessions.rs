//! Session-level costs: a full verify (open, kill switch, subject cutoff, two filter probes,
//! binding), its scaling over threads while revocations keep arriving, and what each kind of
//! rejection costs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sealed_session::revocation::{
    Durability, FileStore, FilterConfig, MemoryStore, Revocation, RevocationStore,
};
use sealed_session::token::*;
use sealed_session::*;

const NOW: UnixTime = UnixTime(1_795_000_000);

struct Fixture {
    manager: SessionManager,
    store: Arc<MemoryStore>,
    token: String,
    epoch: Epoch,
}

/// `cache`: the verified-token cache's capacity (0: none, every verify opens the token).
fn fixture_with_cache(cache: usize) -> Fixture {
    let store = Arc::new(MemoryStore::new(FilterConfig::default()).unwrap());
    let clock = ManualClock::new(NOW);
    let manager = SessionManager::builder(KeyRing::generate().unwrap(), "bench", store.clone())
        .with_policy(Policy::default().with_rotation(Rotation::Off))
        .with_clock(Arc::new(clock))
        .with_verify_cache(cache)
        .build()
        .unwrap();
    let login = manager
        .authenticate(None, "alice-01", Privilege::Authenticated, &client())
        .unwrap();
    let epoch = login.session.epoch();
    // A realistically busy filter: 100,000 other revocations in the token's generation.
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for _ in 0..100_000 {
        let mut id = [0u8; 16];
        rng.fill_bytes(&mut id);
        let _ = store.revoke_with(Revocation::Id { epoch, id }, Durability::Local);
    }
    Fixture {
        token: login.token.expose_secret().to_owned(),
        manager,
        store,
        epoch,
    }
}

/// The figures before the cache existed: every verify opens the token.
fn fixture() -> Fixture {
    fixture_with_cache(0)
}

/// `n` distinct sessions' token texts for `ctx` (a login each).
fn logins(manager: &SessionManager, ctx: &ClientContext<'_>, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            let minted = manager
                .authenticate(None, "alice-01", Privilege::Authenticated, ctx)
                .unwrap();
            minted.token.expose_secret().to_owned()
        })
        .collect()
}

fn client() -> ClientContext<'static> {
    ClientContext::new(
        Some("203.0.113.7".parse().unwrap()),
        Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"),
    )
}

fn verify(c: &mut Criterion) {
    let f = fixture();
    let ctx = client();
    let mut g = c.benchmark_group("session");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    g.bench_function("verify_full", |b| {
        b.iter(|| black_box(f.manager.verify_at(black_box(&f.token), &ctx, NOW).unwrap()))
    });
    // The same token verified again by a manager with the verified-token cache (the
    // default): open, claims and binding MAC come from the cache; kill switch, cutoff, both
    // filter probes, times and rotation are still checked. The peers have no cache.
    let cached = fixture_with_cache(10_000);
    g.bench_function("verify_cached", |b| {
        b.iter(|| {
            black_box(
                cached
                    .manager
                    .verify_at(black_box(&cached.token), &ctx, NOW)
                    .unwrap(),
            )
        })
    });
    // A miss with the cache on: 64 tokens through a 4-entry cache, so every verify opens its
    // token and then records it (the cold path's extra cost when the cache is on).
    let small = fixture_with_cache(4);
    let tokens = logins(&small.manager, &ctx, 64);
    let mut i = 0;
    g.bench_function("verify_cache_miss", |b| {
        b.iter(|| {
            i = (i + 1) % tokens.len();
            black_box(small.manager.verify_at(black_box(&tokens[i]), &ctx, NOW).unwrap())
        })
    });
    // The same 64 tokens with no cache: the miss's own cost is the difference.
    let none = fixture_with_cache(0);
    let tokens = logins(&none.manager, &ctx, 64);
    g.bench_function("verify_full_64_tokens", |b| {
        b.iter(|| {
            i = (i + 1) % tokens.len();
            black_box(none.manager.verify_at(black_box(&tokens[i]), &ctx, NOW).unwrap())
        })
    });
    g.bench_function("parse_only", |b| {
        b.iter(|| black_box(UntrustedToken::parse(black_box(&f.token)).unwrap()))
    });
    g.finish();
}

/// Wall time per verify with `threads` verifying, while one more thread inserts 1,000
/// revocations per second into the same generation for the whole group. Throughput scaling
/// is time(1) / time(2).
fn scaling(c: &mut Criterion) {
    let f = fixture();
    let stop = AtomicBool::new(false);
    thread::scope(|s| {
        s.spawn(|| insert_steadily(&f, &stop));
        let mut g = c.benchmark_group("verify_scaling");
        g.warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(4))
            .sample_size(20);
        for threads in [1u64, 2] {
            g.bench_with_input(BenchmarkId::new("threads", threads), &threads, |b, &threads| {
                b.iter_custom(|iters| run_scaled(&f, threads, iters))
            });
        }
        g.finish();
        stop.store(true, Ordering::Relaxed);
    });
}

/// 1,000 revocations per second in batches of 10 every 10 ms, as a log tail delivers them.
/// One timer wake-up per revocation (1 ms sleeps) would measure the VM's scheduler instead: on
/// the 2-vCPU machine here it halves even pure-CPU work that shares nothing.
fn insert_steadily(f: &Fixture, stop: &AtomicBool) {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..10 {
            let mut id = [0u8; 16];
            rng.fill_bytes(&mut id);
            let _ = f
                .store
                .revoke_with(Revocation::Id { epoch: f.epoch, id }, Durability::Local);
        }
        thread::sleep(Duration::from_millis(10));
    }
}

fn run_scaled(f: &Fixture, threads: u64, iters: u64) -> Duration {
    let per_thread = iters.div_ceil(threads);
    let start = Instant::now();
    thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let ctx = client();
                for _ in 0..per_thread {
                    let _ = black_box(f.manager.verify_at(&f.token, &ctx, NOW).unwrap());
                }
            });
        }
    });
    start.elapsed()
}

/// What each rejection costs the server, on a durable store: a binding mismatch (which revokes
/// the session) must not stand out, or its timing tells a prober which check failed, and it
/// must not wait for the disk.
fn rejections(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::new(KeyRing::generate().unwrap()).unwrap();
    // Room for every session the mismatch case revokes, so the filter does not grow mid-run.
    let config = FilterConfig::default().with_capacity(4_000_000);
    let store = Arc::new(FileStore::open(dir.path(), &keys, config).unwrap());
    let clock = ManualClock::new(NOW);
    let manager = SessionManager::builder(keys, "bench", store)
        .with_policy(Policy::default().with_rotation(Rotation::After(Duration::from_secs(60))))
        .with_clock(Arc::new(clock))
        .with_transition_limit(u32::MAX, Duration::from_secs(60))
        .build()
        .unwrap();
    let ctx = client();
    let thief = ClientContext::new(Some("198.51.100.66".parse().unwrap()), Some("curl/8"));
    let login = || {
        manager
            .authenticate(None, "alice-01", Privilege::Authenticated, &ctx)
            .unwrap()
            .token
            .expose_secret()
            .to_owned()
    };
    let mut tampered = login().into_bytes();
    tampered[60] ^= 1;
    let tampered = String::from_utf8(tampered).unwrap();
    let revoked = login();
    let session = manager.verify_at(&revoked, &ctx, NOW).unwrap().session;
    manager.logout(session, &ctx).unwrap();
    let mut g = c.benchmark_group("rejection");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    g.bench_function("forged", |b| {
        b.iter(|| black_box(manager.verify_at(&tampered, &ctx, NOW).unwrap_err()))
    });
    g.bench_function("revoked", |b| {
        b.iter(|| black_box(manager.verify_at(&revoked, &ctx, NOW).unwrap_err()))
    });
    g.bench_function("accepted", |b| {
        b.iter_batched(
            login,
            |token| black_box(manager.verify_at(&token, &ctx, NOW).unwrap()),
            BatchSize::SmallInput,
        )
    });
    // Last: every iteration revokes a session, and the filter grows with them.
    g.bench_function("unbound_and_revoke", |b| {
        b.iter_batched(
            login,
            |token| black_box(manager.verify_at(&token, &thief, NOW).unwrap_err()),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, verify, scaling, rejections);
criterion_main!(benches);
