//! Writes `spec/vectors/snapshot.json` (revocation snapshots under a fixed key ring: the
//! revocations they hold, filter growth up to the eighth filter, tampered variants with the
//! error each must produce) and `spec/vectors/filter_geometry.json` (the integer sizing of
//! spec/revocation.md §4 for a range of configurations).
//!
//! `cargo run --example gen-snapshot-vectors --features test-vectors` regenerates them; CI
//! fails if that changes anything. Every snapshot is built twice, by the crate and by
//! `model.rs` (the spec alone), and must agree byte for byte; the MACs of the hand-built
//! invalid bodies are computed from the spec (HKDF-SHA256 then HMAC-SHA256), not by the crate.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod geometry;
mod model;
mod scenario;

use sealed_session::revocation::{RevocationSnapshot, RevocationStore};
use sealed_session::token::Epoch;
use sealed_session::{KeyId, KeyRing, KeyState, SessionKey};
use serde_json::{json, Value};

use scenario::{Rev, Scenario};

pub(crate) const SECRETS: [(u8, &str, [u8; 32]); 3] = [
    (1, "primary", [0x11; 32]),
    (2, "accept-only", [0x22; 32]),
    (3, "retired", [0x33; 32]),
];
const EPOCH: u64 = 52_608; // 2030-01-01T00:00Z is hour 52,608 since 2024-01-01
const CAPACITY: u64 = 16;
const RATE: f64 = 1e-3;

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A ring holding the three keys with `primary` as the minting key, the rest accept-only.
pub(crate) fn ring_with_primary(primary: u8) -> KeyRing {
    let mut ring = KeyRing::empty();
    for (id, _, secret) in SECRETS {
        let state = if id == primary {
            KeyState::Primary
        } else {
            KeyState::AcceptOnly
        };
        ring.insert(KeyId(id), state, SessionKey::from_bytes(secret))
            .unwrap();
    }
    ring
}

/// Deterministic ids: the first 16 bytes of SHA-256(n as 4 little-endian bytes), uniform as
/// the server's random ids are.
fn id(n: u32) -> [u8; 16] {
    let d = ring::digest::digest(&ring::digest::SHA256, &n.to_le_bytes());
    d.as_ref()[..16].try_into().unwrap()
}

/// 24 ids in one generation (1.5 × its capacity of 16, still below filter 0's limit: one
/// 512-bit block, the smallest filter, is more than 16 ids need), 3 in the next, two subject
/// cutoffs and a kill switch.
fn basic() -> Scenario {
    let mut s = Scenario::new(CAPACITY, RATE);
    for n in 0..24 {
        s.apply(Rev::Id(EPOCH, id(n)));
    }
    for n in 24..27 {
        s.apply(Rev::Id(EPOCH + 1, id(n)));
    }
    s.apply(Rev::Subject("alice", 1_893_456_000));
    s.apply(Rev::Subject("bob", 1_893_459_600));
    s.apply(Rev::Kill(1_893_400_000));
    s
}

/// Ids into one generation until it has three filters and four more, then the first id again
/// (it is in filter 0 and is inserted into filter 2 all the same), then one id of the next hour.
fn three_filters() -> Scenario {
    let mut s = Scenario::new(CAPACITY, RATE);
    let mut n = 2000;
    while s.filters(EPOCH) < 3 {
        s.apply(Rev::Id(EPOCH, id(n)));
        n += 1;
    }
    for _ in 0..4 {
        s.apply(Rev::Id(EPOCH, id(n)));
        n += 1;
    }
    let before = s.model.generations[&EPOCH][2].set_bits();
    s.apply(Rev::Id(EPOCH, id(2000)));
    assert!(
        s.model.generations[&EPOCH][2].set_bits() > before,
        "the repeat must show"
    );
    s.apply(Rev::Id(EPOCH + 1, id(n)));
    s
}

/// Capacity 1 at rate 0.1 (j = 6): the generation grows all eight filters, seals the last,
/// and keeps inserting into it past its limit.
fn eight_filters() -> Scenario {
    let mut s = Scenario::new(1, 0.1);
    let mut n = 3000;
    let last_sealed = |s: &Scenario| {
        s.filters(EPOCH) == 8
            && s.model.generations[&EPOCH][7].set_bits() >= s.model.generations[&EPOCH][7].limit
    };
    while !last_sealed(&s) {
        s.apply(Rev::Id(EPOCH, id(n)));
        n += 1;
    }
    for _ in 0..3 {
        s.apply(Rev::Id(EPOCH, id(n)));
        n += 1;
    }
    s
}

fn growth_json(name: &str, comment: &str, s: &Scenario) -> Value {
    let snap = s.store.set().snapshot();
    json!({
        "name": name,
        "comment": comment,
        "config": s.config_json(),
        "revocations": s.revocations_json(),
        "expected": {
            "generations": snap.generations(),
            "filter_counts": snap.filter_counts(),
            "filters": s.filters_json(),
        },
        "key_id": 1,
        "snapshot": hex(&s.snapshot(1)),
    })
}

fn invalid_cases(valid: &[u8], under_retired: Vec<u8>) -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let body = &valid[2..valid.len() - 32];
    let flip = |bytes: &[u8], at: usize| {
        let mut b = bytes.to_vec();
        b[at] ^= 0x01;
        b
    };
    let with_key = |key: u8| {
        let mut b = valid.to_vec();
        b[1] = key;
        b
    };
    let mut trailing = body.to_vec();
    trailing.push(0);
    // epochs_per_generation 1 spelt `81 00` instead of `01`: postcard reads it as 1.
    assert_eq!(body[0], 0x01);
    let mut overlong = vec![0x81, 0x00];
    overlong.extend_from_slice(&body[1..]);
    // Version 1 held classic Bloom filters: refused before anything else is read.
    let mut version_1 = valid.to_vec();
    version_1[0] = 1;
    let mut version_3 = valid.to_vec();
    version_3[0] = 3;
    let key1 = &SECRETS[0].2;
    vec![
        ("mac_flipped", flip(valid, valid.len() - 1), "bad_mac"),
        ("body_flipped", flip(valid, 2 + body.len() / 2), "bad_mac"),
        ("key_id_changed_to_another_known_key", with_key(2), "bad_mac"),
        ("unknown_key", with_key(9), "unknown_key"),
        ("retired_key", under_retired, "retired_key"),
        ("old_version_1_classic_filters", version_1, "unsupported_version"),
        ("unsupported_version", version_3, "unsupported_version"),
        ("too_short", valid[..33].to_vec(), "malformed"),
        ("empty", Vec::new(), "malformed"),
        (
            "valid_mac_over_garbage_body",
            model::seal(1, key1, &[0xff; 8]),
            "malformed",
        ),
        (
            "valid_mac_over_trailing_byte",
            model::seal(1, key1, &trailing),
            "malformed",
        ),
        (
            "valid_mac_over_empty_body",
            model::seal(1, key1, &[]),
            "malformed",
        ),
        (
            "valid_mac_over_overlong_varint",
            model::seal(1, key1, &overlong),
            "malformed",
        ),
    ]
}

fn main() {
    let s = basic();
    let set = s.store.set();
    // Ids absent from both generations (checked here, so no false positive is listed).
    let absent: Vec<Value> = (1000..)
        .filter(|&n| !set.contains(Epoch(EPOCH), &id(n)) && !set.contains(Epoch(EPOCH + 1), &id(n)))
        .take(8)
        .map(|n| json!(hex(&id(n))))
        .collect();
    let snap = set.snapshot();
    let valid = s.snapshot(1);
    let under_accept_only = s.snapshot(2);
    let under_retired = snap.to_bytes(&ring_with_primary(3)).unwrap();
    let invalid = invalid_cases(&valid, under_retired);
    let mut checking = ring_with_primary(1);
    checking.retire(KeyId(3)).unwrap();
    for (name, bytes, error) in &invalid {
        let got = RevocationSnapshot::from_bytes(bytes, &checking);
        assert_eq!(got.err().map(|e| e.code()), Some(*error), "{name}");
    }
    let growth = [
        growth_json(
            "three_filters_and_a_repeat",
            "filter 0 seals at its limit and filter 1 opens, then filter 2; the first id, \
             already in filter 0, is inserted again into filter 2 (no lookup precedes an insert)",
            &three_filters(),
        ),
        growth_json(
            "eight_filters_saturated",
            "capacity 1, rate 0.1: all eight filters; the eighth is sealed and keeps absorbing \
             inserts past its limit (set_bits > limit)",
            &eight_filters(),
        ),
    ];
    let doc = json!({
        "description": "Revocation snapshots (spec/revocation.md, \"Snapshot format\"). Generated by examples/gen-snapshot-vectors/; do not edit.",
        "keys": SECRETS.iter().map(|(id, state, secret)| json!({"id": id, "state": state, "secret": hex(secret)})).collect::<Vec<_>>(),
        "config": s.config_json(),
        "revocations": s.revocations_json(),
        "expected": {
            "generations": [EPOCH, EPOCH + 1],
            "filter_counts": snap.filter_counts(),
            "filters": s.filters_json(),
            "absent_ids": absent,
        },
        "valid": [
            {"name": "primary_key", "key_id": 1, "snapshot": hex(&valid)},
            {"name": "accept_only_key", "key_id": 2, "snapshot": hex(&under_accept_only)},
        ],
        "invalid": invalid.iter().map(|(name, bytes, error)| json!({"name": name, "snapshot": hex(bytes), "error": error})).collect::<Vec<_>>(),
        "growth": growth,
    });
    write("snapshot.json", &doc);
    write("filter_geometry.json", &geometry::document());
}

fn write(file: &str, doc: &Value) {
    let path = format!("{}/spec/vectors/{file}", env!("CARGO_MANIFEST_DIR"));
    let mut text = serde_json::to_string_pretty(doc).unwrap();
    text.push('\n');
    std::fs::write(&path, text).unwrap();
    println!("wrote {path}");
}
