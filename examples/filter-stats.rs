//! Measures the revocation filter at 1M entries: memory, false-positive rate over random
//! probes (single ids, and pairs as a verify probes them), lookup time, and lookup throughput
//! with 1 and 2 reader threads while another thread inserts 1,000 revocations per second. It
//! also times verifies in a cold cache (16 generations of 1M entries, probed at random) in CPU
//! time, which time spent descheduled on a shared machine does not inflate.
//!
//! `cargo run --release --example filter-stats [probes] [seconds-per-scaling-run] [rounds]`
//! (defaults: 10,000,000 probes, 1 s, 7 rounds). The scaling runs alternate 1 and 2 readers,
//! `rounds` times each, and compare medians, so that load from other processes on the machine
//! hits both sides alike. `… filter-stats fp [verifies]` counts false positives per verify
//! only (default 10^8); `… filter-stats cold [verifies] [generations]` runs only the cold-cache
//! timing (small enough for `valgrind --tool=cachegrind --cache-sim=yes`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use sealed_session::revocation::{Durability, FilterConfig, MemoryStore, Revocation, RevocationStore};
use sealed_session::token::Epoch;

const ENTRIES: usize = 1_000_000;
const EPOCH: Epoch = Epoch(52_608);

/// Revokes in memory only, through the store (the only way to write a revocation).
fn insert(store: &MemoryStore, epoch: Epoch, id: &[u8; 16]) {
    let _ = store.revoke_with(Revocation::Id { epoch, id: *id }, Durability::Local);
}

fn random_id(rng: &mut ChaCha8Rng) -> [u8; 16] {
    let mut id = [0u8; 16];
    rng.fill_bytes(&mut id);
    id
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("cold") {
        // `filter-stats cold [verifies] [generations]`: only the cold-cache run, e.g. under
        // `valgrind --tool=cachegrind --cache-sim=yes` with a small simulated LL.
        let arg = |i: usize, default: u64| std::env::args().nth(i).map_or(default, |a| a.parse().unwrap());
        cold(arg(2, 10_000_000), arg(3, COLD_GENERATIONS));
        return;
    }
    if std::env::args().nth(1).as_deref() == Some("fp") {
        // `filter-stats fp [verifies]`: only the false-positive count per verify, for runs
        // long enough to bound a rate near 1e-7.
        let verifies = std::env::args()
            .nth(2)
            .map_or(100_000_000, |a| a.parse().unwrap());
        false_positives_per_verify(verifies);
        return;
    }
    let mut args = std::env::args().skip(1);
    let probes: u64 = args.next().map_or(10_000_000, |a| a.parse().unwrap());
    let secs: u64 = args.next().map_or(1, |a| a.parse().unwrap());
    let rounds: usize = args.next().map_or(7, |a| a.parse().unwrap());
    println!("load average at start   {}", loadavg());
    let config = FilterConfig::default().with_capacity(ENTRIES);
    let store = MemoryStore::new(config).unwrap();
    let set = store.set();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let inserted: Vec<[u8; 16]> = (0..ENTRIES).map(|_| random_id(&mut rng)).collect();
    let t = Instant::now();
    for id in &inserted {
        insert(&store, EPOCH, id);
    }
    let insert_ns = t.elapsed().as_nanos() as f64 / ENTRIES as f64;

    let bytes = set.memory_bytes();
    println!(
        "entries inserted        {ENTRIES} (capacity {ENTRIES}, target rate {:.0e})",
        config.false_positive_rate()
    );
    println!("filters                 {}", set.filter_count());
    println!(
        "memory                  {bytes} bytes = {:.3} MiB per million ({:.2} bits per entry)",
        bytes as f64 / (1 << 20) as f64 * 1e6 / ENTRIES as f64,
        bytes as f64 * 8.0 / ENTRIES as f64
    );
    println!("len_hint                {}", set.len_hint());
    println!(
        "estimated fp rate       {:.3e}",
        set.false_positive_estimate(EPOCH)
    );
    assert!(
        inserted.iter().all(|id| set.contains(EPOCH, id)),
        "false negative"
    );

    // Fresh ids from a different seed: none was inserted, so every hit is a false positive.
    let mut probe_rng = ChaCha8Rng::seed_from_u64(2);
    let t = Instant::now();
    let fp = (0..probes)
        .filter(|_| set.contains(EPOCH, &random_id(&mut probe_rng)))
        .count();
    let probe_secs = t.elapsed().as_secs_f64();
    let rate = fp as f64 / probes as f64;
    // One-sided 95% upper bound for a Poisson count (fp + 1.645·sqrt(fp) + 1.5, rough).
    let upper = (fp as f64 + 1.645 * (fp as f64).sqrt() + 1.5) / probes as f64;
    println!("measured fp             {fp} / {probes} probes = {rate:.2e} (95% upper bound ~{upper:.1e})");
    println!(
        "probe loop              {:.1} ns per probe incl. id generation",
        probe_secs * 1e9 / probes as f64
    );
    // A verify probes two ids (session id and token id): a false positive of either refuses
    // the token. `probes` more pairs of fresh ids, through the verify path.
    let mut pair_rng = ChaCha8Rng::seed_from_u64(6);
    let t = Instant::now();
    let fp_verify = (0..probes)
        .filter(|_| {
            let (a, b) = (random_id(&mut pair_rng), random_id(&mut pair_rng));
            set.contains_either(EPOCH, &a, &b)
        })
        .count();
    let verify_secs = t.elapsed().as_secs_f64();
    let upper = (fp_verify as f64 + 1.645 * (fp_verify as f64).sqrt() + 1.5) / probes as f64;
    println!(
        "measured fp per verify  {fp_verify} / {probes} verifies (pairs) = {:.2e} (95% upper bound ~{upper:.1e}; target 1e-6)",
        fp_verify as f64 / probes as f64
    );
    println!(
        "verify probe loop       {:.1} ns per verify incl. generating two ids",
        verify_secs * 1e9 / probes as f64
    );

    let absent: Vec<[u8; 16]> = (0..1 << 20).map(|_| random_id(&mut probe_rng)).collect();
    let lookups = |ids: &[[u8; 16]], rounds: usize| {
        let t = Instant::now();
        let mut hits = 0usize;
        for _ in 0..rounds {
            for pair in ids.chunks_exact(2) {
                hits += usize::from(set.contains_either(EPOCH, &pair[0], &pair[1]));
            }
        }
        black_box(hits);
        t.elapsed().as_nanos() as f64 / (rounds * ids.len() / 2) as f64
    };
    println!("insert                  {insert_ns:.0} ns per id (single thread)");
    println!(
        "contains_either absent  {:.1} ns (session id and token id both absent: the common verify)",
        lookups(&absent, 4)
    );
    println!(
        "contains_either present {:.1} ns (first id revoked)",
        lookups(&inserted, 2)
    );

    cold(probes, COLD_GENERATIONS);

    let (one, two) = alternate(&store, &absent, rounds, Duration::from_secs(secs));
    println!(
        "scaling, 1 reader       {:.2} M lookups/s (median of {rounds})",
        one / 1e6
    );
    println!(
        "scaling, 2 readers      {:.2} M lookups/s (median of {rounds})",
        two / 1e6
    );
    println!(
        "ratio 2/1               {:.2}x (2 cores; an inserter thread adds 1,000 revocations/s throughout)",
        two / one
    );
    println!("filters after scaling   {}", set.filter_count());

    // The same with a set small enough to stay in cache (10,000 entries, 37 KiB): separates
    // what the memory system allows from what synchronization allows.
    let small = MemoryStore::new(FilterConfig::default().with_capacity(10_000)).unwrap();
    for id in inserted.iter().take(10_000) {
        insert(&small, EPOCH, id);
    }
    let (one, two) = alternate(&small, &absent, rounds, Duration::from_secs(secs));
    println!(
        "cache-resident 10k set  1 reader {:.2} M/s, 2 readers {:.2} M/s, ratio {:.2}x",
        one / 1e6,
        two / 1e6,
        two / one
    );
    println!(
        "load average at end     {} (other processes on the 2 cores skew every timing)",
        loadavg()
    );
}

/// Fills a set of capacity 1M with 1M random ids (seed 1, as `main`) and counts the verifies
/// (pairs of fresh random ids, seed 7) it would refuse.
fn false_positives_per_verify(verifies: u64) {
    let store = MemoryStore::new(FilterConfig::default().with_capacity(ENTRIES)).unwrap();
    let set = store.set();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for _ in 0..ENTRIES {
        insert(&store, EPOCH, &random_id(&mut rng));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let fp = (0..verifies)
        .filter(|_| {
            let (a, b) = (random_id(&mut rng), random_id(&mut rng));
            set.contains_either(EPOCH, &a, &b)
        })
        .count();
    let upper = (fp as f64 + 1.645 * (fp as f64).sqrt() + 1.5) / verifies as f64;
    println!(
        "fp per verify           {fp} / {verifies} = {:.2e} (95% upper bound ~{upper:.1e}; estimate {:.2e}; target 1e-6)",
        fp as f64 / verifies as f64,
        2.0 * set.false_positive_estimate(EPOCH)
    );
}

/// Generations of the cold-cache run, each filled with 1M ids.
const COLD_GENERATIONS: u64 = 16;

/// splitmix64 (Steele, Lea & Flood 2014): probe ids from a few instructions and no memory.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn cold_probe(state: &mut u64, generations: u64) -> (Epoch, [u8; 16], [u8; 16]) {
    let mut id = || {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&splitmix(state).to_le_bytes());
        out[8..].copy_from_slice(&splitmix(state).to_le_bytes());
        out
    };
    let (a, b) = (id(), id());
    (Epoch(EPOCH.0 + splitmix(state) % generations), a, b)
}

/// Verifies in a cold cache: `generations` of 1M entries (16 by default: 16 filters, about
/// twice the 32 MiB L3),
/// probed at random. Timed in CPU time of this process (`/proc/self/stat`), so that time spent
/// descheduled on a shared machine does not count; `probes` verifies per mode.
fn cold(probes: u64, generations: u64) {
    let store = MemoryStore::new(FilterConfig::default().with_capacity(ENTRIES)).unwrap();
    let set = store.set();
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    for g in 0..generations {
        for _ in 0..ENTRIES {
            insert(&store, Epoch(EPOCH.0 + g), &random_id(&mut rng));
        }
    }
    println!(
        "cold set                {} filters, {} bytes ({} per 1M entries)",
        set.filter_count(),
        set.memory_bytes(),
        set.memory_bytes() as u64 / generations
    );
    let run = |mode: u8| {
        let mut state = 5u64;
        let (wall, cpu) = (Instant::now(), process_cpu_seconds());
        let mut hits = 0u64;
        for _ in 0..probes {
            let (epoch, a, b) = cold_probe(&mut state, generations);
            let hit = match mode {
                0 => black_box(epoch.0 == u64::MAX),
                _ => set.contains_either(epoch, &a, &b),
            };
            hits += u64::from(hit);
            if mode == 2 {
                // The next ids depend on this answer: no two verifies overlap.
                state ^= u64::from(hit);
            }
        }
        black_box(hits);
        let per = |secs: f64| secs * 1e9 / probes as f64;
        (
            per(process_cpu_seconds() - cpu),
            per(wall.elapsed().as_secs_f64()),
        )
    };
    // The floor: one random 8-byte read from a 64 MiB array, each address the value read
    // before (one cycle through all 8M slots, Sattolo's shuffle, so the chain never settles in
    // cache), in the same CPU time. A cold verify waits for at least one such read.
    let table: Vec<usize> = {
        let mut next: Vec<usize> = (0..8 << 20).collect();
        let mut state = 9u64;
        for i in (1..next.len()).rev() {
            let j = usize::try_from(splitmix(&mut state) % i as u64).unwrap();
            next.swap(i, j);
        }
        next
    };
    let (mut at, cpu) = (0usize, process_cpu_seconds());
    for _ in 0..probes {
        at = table[at];
    }
    black_box(at);
    let read_ns = (process_cpu_seconds() - cpu) * 1e9 / probes as f64;
    println!(
        "dependent random read   {read_ns:.1} ns CPU per 8-byte read of a 64 MiB array (DRAM latency floor)"
    );
    drop(table);
    let (ids_cpu, ids_wall) = run(0);
    let (free_cpu, free_wall) = run(1);
    let (dep_cpu, dep_wall) = run(2);
    println!("cold probe ids only     {ids_cpu:.1} ns CPU ({ids_wall:.1} ns wall) per verify's ids");
    println!(
        "cold contains_either    {free_cpu:.1} ns CPU ({free_wall:.1} ns wall) per verify, \
         independent; {:.1} ns CPU without the id generation",
        free_cpu - ids_cpu
    );
    println!(
        "cold, dependent         {dep_cpu:.1} ns CPU ({dep_wall:.1} ns wall) per verify, each \
         waiting on the one before; {:.1} ns CPU without the id generation",
        dep_cpu - ids_cpu
    );
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(|_| "unknown".into(), |s| s.trim().to_owned())
}

/// Median lookups per second with 1 and with 2 readers, over `rounds` alternating runs.
fn alternate(store: &MemoryStore, ids: &[[u8; 16]], rounds: usize, run: Duration) -> (f64, f64) {
    let (mut one, mut two) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        one.push(scaling(store, ids, 1, run));
        two.push(scaling(store, ids, 2, run));
    }
    (median(one), median(two))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Lookups per second (contains_either) summed over `readers` threads, while one more thread
/// inserts 1,000 ids per second.
fn scaling(store: &MemoryStore, ids: &[[u8; 16]], readers: usize, run: Duration) -> f64 {
    let set = store.set();
    let stop = AtomicBool::new(false);
    let total = AtomicU64::new(0);
    let inserted = AtomicU64::new(0);
    let start = Instant::now();
    let cpu_start = process_cpu_seconds();
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut rng = ChaCha8Rng::seed_from_u64(3 + readers as u64);
            let mut next = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                // The next generation: growing the measured one mid-run would change its cost.
                insert(store, Epoch(EPOCH.0 + 1), &random_id(&mut rng));
                inserted.fetch_add(1, Ordering::Relaxed);
                next += Duration::from_millis(1);
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
        });
        for r in 0..readers {
            let (stop, total) = (&stop, &total);
            s.spawn(move || {
                let mut n = 0usize;
                let mut hits = 0usize;
                let offset = r * ids.len() / 2;
                'outer: loop {
                    for i in 0..4096 {
                        let j = (offset + (n + i) * 2) % (ids.len() - 1);
                        hits += usize::from(set.contains_either(EPOCH, &ids[j], &ids[j + 1]));
                    }
                    n += 4096;
                    if stop.load(Ordering::Relaxed) {
                        break 'outer;
                    }
                }
                black_box(hits);
                total.fetch_add(n as u64, Ordering::Relaxed);
            });
        }
        std::thread::sleep(run);
        stop.store(true, Ordering::Relaxed);
    });
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = process_cpu_seconds() - cpu_start;
    let lookups = total.load(Ordering::Relaxed) as f64;
    println!(
        "  ({readers} reader(s): {} inserts, {:.0}/s; this process got {cpu:.2} CPU-s in {elapsed:.2} s \
         = {:.2} cores; {:.2} M lookups per CPU-second)",
        inserted.load(Ordering::Relaxed),
        inserted.load(Ordering::Relaxed) as f64 / elapsed,
        cpu / elapsed,
        lookups / cpu / 1e6
    );
    lookups / elapsed
}

/// User plus system CPU time of this process so far (Linux `/proc/self/stat`, 100 ticks/s).
fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of the whole line are the 12th and 13th after the name.
    let ticks: u64 = fields
        .iter()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    ticks as f64 / 100.0
}
