//! Revocation filter lookups at 1M entries (capacity 1M, rate 1e-6): `contains_either` for an
//! absent pair (the common verify) and a revoked one, and one insert; then the same verify in a
//! cold cache: 16 generations of 1M entries each (16 filters, about 4× the 32 MiB L3 of the
//! development VM), probed at random, so nearly every line a lookup reads comes from DRAM;
//! beside them the floor, one random read of a buffer as large as those filters.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::Duration;

use criterion::{black_box, Criterion};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use sealed_session::revocation::{Durability, FilterConfig, MemoryStore, Revocation, RevocationStore};
use sealed_session::token::Epoch;

const EPOCH: Epoch = Epoch(52_608);

fn ids(seed: u64, n: usize) -> Vec<[u8; 16]> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let mut id = [0u8; 16];
            rng.fill_bytes(&mut id);
            id
        })
        .collect()
}

/// Revokes in memory only, through the store (the only way to write a revocation).
fn insert(store: &MemoryStore, epoch: Epoch, id: &[u8; 16]) {
    let _ = store.revoke_with(Revocation::Id { epoch, id: *id }, Durability::Local);
}

fn lookups(c: &mut Criterion) {
    let store = MemoryStore::new(FilterConfig::default().with_capacity(1_000_000)).unwrap();
    let set = store.set();
    let inserted = ids(1, 1_000_000);
    for id in &inserted {
        insert(&store, EPOCH, id);
    }
    let absent = ids(2, 1 << 16);
    let mut g = c.benchmark_group("revocation_1m");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    let mut i = 0usize;
    g.bench_function("contains_either_absent", |b| {
        b.iter(|| {
            i = (i + 2) % (absent.len() - 1);
            set.contains_either(EPOCH, black_box(&absent[i]), black_box(&absent[i + 1]))
        })
    });
    g.bench_function("contains_either_revoked", |b| {
        b.iter(|| {
            i = (i + 1) % inserted.len();
            set.contains_either(
                EPOCH,
                black_box(&inserted[i]),
                black_box(&absent[i % absent.len()]),
            )
        })
    });
    let fresh = ids(3, 1 << 16);
    g.bench_function("insert", |b| {
        b.iter(|| {
            i = (i + 1) % fresh.len();
            insert(&store, EPOCH, black_box(&fresh[i]));
        })
    });
    g.finish();
}

/// Generations in the cold-cache group, each filled with 1M ids.
const COLD_GENERATIONS: u64 = 16;

/// splitmix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number generators", 2014):
/// a few instructions per id and no memory, so the probe ids add no cache traffic.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A random epoch of the cold set and two random (absent) ids.
fn cold_probe(state: &mut u64) -> (Epoch, [u8; 16], [u8; 16]) {
    let mut id = || {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&splitmix(state).to_le_bytes());
        out[8..].copy_from_slice(&splitmix(state).to_le_bytes());
        out
    };
    let (a, b) = (id(), id());
    (Epoch(EPOCH.0 + splitmix(state) % COLD_GENERATIONS), a, b)
}

fn cold_lookups(c: &mut Criterion) {
    let store = MemoryStore::new(FilterConfig::default().with_capacity(1_000_000)).unwrap();
    let set = store.set();
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    for g in 0..COLD_GENERATIONS {
        for _ in 0..1_000_000 {
            let mut id = [0u8; 16];
            rng.fill_bytes(&mut id);
            insert(&store, Epoch(EPOCH.0 + g), &id);
        }
    }
    eprintln!(
        "cold set: {} filters, {} bytes of filter bits ({} bytes per 1M entries)",
        set.filter_count(),
        set.memory_bytes(),
        set.memory_bytes() as u64 / COLD_GENERATIONS
    );
    let mut g = c.benchmark_group("revocation_cold_16x1m");
    g.measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1));
    let mut state = 5u64;
    // The probe generator alone, to subtract from the rows below.
    g.bench_function("probe_ids_only", |b| b.iter(|| black_box(cold_probe(&mut state))));
    // Independent verifies back to back: what a busy server sees (misses of consecutive
    // verifies may overlap).
    g.bench_function("contains_either_absent", |b| {
        b.iter(|| {
            let (epoch, a, b) = cold_probe(&mut state);
            set.contains_either(epoch, &a, &b)
        })
    });
    // Each probe's ids depend on the previous answer, so no two verifies overlap: the
    // latency of one verify with its lines in DRAM.
    g.bench_function("contains_either_absent_dependent", |b| {
        b.iter(|| {
            let (epoch, a, b) = cold_probe(&mut state);
            let hit = set.contains_either(epoch, &a, &b);
            state ^= u64::from(hit);
            hit
        })
    });
    // The machine's floor for the rows above: one random 8-byte read from a buffer as large
    // as the filters, the same id draw beside it, independent and then dependent. A cold
    // probe cannot cost less than one such read.
    let memory: Vec<u64> = (0..set.memory_bytes() as u64 / 8).collect();
    let slot = |id: &[u8; 16]| {
        let word = u64::from_le_bytes(id[..8].try_into().unwrap());
        usize::try_from(word % memory.len() as u64).unwrap()
    };
    g.bench_function("floor_one_dram_read", |b| {
        b.iter(|| {
            let (_, a, _) = cold_probe(&mut state);
            memory[slot(&a)]
        })
    });
    g.bench_function("floor_one_dram_read_dependent", |b| {
        b.iter(|| {
            let (_, a, _) = cold_probe(&mut state);
            let word = memory[slot(&a)];
            state ^= word & 1;
            word
        })
    });
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    lookups(&mut c);
    cold_lookups(&mut c);
    c.final_summary();
}
