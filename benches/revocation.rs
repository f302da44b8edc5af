//! Revocation filter lookups at 1M entries (capacity 1M, rate 1e-6): `contains_either` for an
//! absent pair (the common verify) and a revoked one, and one insert.
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

fn main() {
    let mut c = Criterion::default().configure_from_args();
    lookups(&mut c);
    c.final_summary();
}
