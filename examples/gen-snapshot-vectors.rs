//! Writes `spec/vectors/snapshot.json`: revocation snapshots under a fixed key ring, with the
//! revocations they hold and tampered variants with the error each must produce.
//!
//! `cargo run --example gen-snapshot-vectors` regenerates it; `tests/snapshot_vectors.rs`
//! checks the file and fails if regenerating would change it. The MACs of the hand-built
//! invalid bodies are computed here from the spec (HKDF-SHA256 then HMAC-SHA256), not through
//! the crate.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use ring::{hkdf, hmac};
use sealed_session::revocation::{FilterConfig, MemoryStore, Revocation, RevocationStore};
use sealed_session::token::Epoch;
use sealed_session::{KeyId, KeyRing, KeyState, SessionKey, UnixTime};
use serde_json::{json, Value};

const SECRETS: [(u8, &str, [u8; 32]); 3] = [
    (1, "primary", [0x11; 32]),
    (2, "accept-only", [0x22; 32]),
    (3, "retired", [0x33; 32]),
];
const EPOCH: u64 = 52_608; // 2030-01-01T00:00Z is hour 52,608 since 2024-01-01
const CAPACITY: usize = 16;
const RATE: f64 = 1e-3;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A ring holding the three keys with `primary` as the minting key, the rest accept-only.
fn ring_with_primary(primary: u8) -> KeyRing {
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

/// HMAC-SHA256 of `data` under the snapshot subkey of `secret` (spec/revocation.md).
fn mac(secret: &[u8; 32], data: &[u8]) -> Vec<u8> {
    struct Len;
    impl hkdf::KeyType for Len {
        fn len(&self) -> usize {
            32
        }
    }
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"sealed-session/v1").extract(secret);
    let mut sub = [0u8; 32];
    prk.expand(&[b"sealed-session/v1 snapshot"], Len)
        .unwrap()
        .fill(&mut sub)
        .unwrap();
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &sub), data)
        .as_ref()
        .to_vec()
}

/// `version ‖ key id ‖ body ‖ mac` with a correct MAC over an arbitrary body.
fn sealed(key: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![1, key];
    out.extend_from_slice(body);
    let tag = mac(&SECRETS[usize::from(key - 1)].2, &out);
    out.extend_from_slice(&tag);
    out
}

fn main() {
    let config = FilterConfig::default()
        .with_capacity(CAPACITY)
        .with_false_positive_rate(RATE);
    let store = MemoryStore::new(config).unwrap();
    let mut revocations = Vec::new();
    // 24 ids in one generation (past its capacity of 16: it grows a second filter), 3 in the next.
    for (n, epoch) in (0..24)
        .map(|n| (n, EPOCH))
        .chain((24..27).map(|n| (n, EPOCH + 1)))
    {
        store
            .revoke(Revocation::Id {
                epoch: Epoch(epoch),
                id: id(n),
            })
            .unwrap();
        revocations.push(json!({"type": "id", "epoch": epoch, "id": hex(&id(n))}));
    }
    let cutoffs = [("alice", 1_893_456_000u64), ("bob", 1_893_459_600)];
    for (subject, t) in cutoffs {
        let cutoff = UnixTime(t);
        store
            .revoke(Revocation::Subject {
                subject: subject.to_owned(),
                cutoff,
            })
            .unwrap();
        revocations.push(json!({"type": "subject", "subject": subject, "cutoff": t}));
    }
    store
        .revoke(Revocation::KillSwitch {
            before: UnixTime(1_893_400_000),
        })
        .unwrap();
    let set = store.set();
    revocations.push(json!({"type": "kill_switch", "before": 1_893_400_000u64}));
    // Ids absent from both generations (checked here, so no false positive is listed).
    let absent: Vec<Value> = (1000..)
        .filter(|&n| !set.contains(Epoch(EPOCH), &id(n)) && !set.contains(Epoch(EPOCH + 1), &id(n)))
        .take(8)
        .map(|n| json!(hex(&id(n))))
        .collect();

    let snap = set.snapshot();
    let valid = snap.to_bytes(&ring_with_primary(1)).unwrap();
    let under_accept_only = snap.to_bytes(&ring_with_primary(2)).unwrap();
    let under_retired = snap.to_bytes(&ring_with_primary(3)).unwrap();
    let body = &valid[2..valid.len() - 32];

    let flip = |bytes: &[u8], at: usize| {
        let mut b = bytes.to_vec();
        b[at] ^= 0x01;
        b
    };
    let with_key = |key: u8| {
        let mut b = valid.clone();
        b[1] = key;
        b
    };
    let mut trailing = body.to_vec();
    trailing.push(0);
    let mut version_2 = valid.clone();
    version_2[0] = 2;
    let invalid = [
        ("mac_flipped", flip(&valid, valid.len() - 1), "bad_mac"),
        ("body_flipped", flip(&valid, 2 + body.len() / 2), "bad_mac"),
        ("key_id_changed_to_another_known_key", with_key(2), "bad_mac"),
        ("unknown_key", with_key(9), "unknown_key"),
        ("retired_key", under_retired, "retired_key"),
        ("unsupported_version", version_2, "unsupported_version"),
        ("too_short", valid[..33].to_vec(), "malformed"),
        ("empty", Vec::new(), "malformed"),
        ("valid_mac_over_garbage_body", sealed(1, &[0xff; 8]), "malformed"),
        ("valid_mac_over_trailing_byte", sealed(1, &trailing), "malformed"),
        ("valid_mac_over_empty_body", sealed(1, &[]), "malformed"),
    ];

    let doc = json!({
        "description": "Revocation snapshots (spec/revocation.md, \"Snapshot format\"). Generated by examples/gen-snapshot-vectors.rs; do not edit.",
        "keys": SECRETS.iter().map(|(id, state, secret)| json!({"id": id, "state": state, "secret": hex(secret)})).collect::<Vec<_>>(),
        "config": {"capacity": CAPACITY, "false_positive_rate": RATE, "epochs_per_generation": 1},
        "revocations": revocations,
        "expected": {
            "generations": [EPOCH, EPOCH + 1],
            "filter_counts": snap.filter_counts(),
            "absent_ids": absent,
        },
        "valid": [
            {"name": "primary_key", "key_id": 1, "snapshot": hex(&valid)},
            {"name": "accept_only_key", "key_id": 2, "snapshot": hex(&under_accept_only)},
        ],
        "invalid": invalid.iter().map(|(name, bytes, error)| json!({"name": name, "snapshot": hex(bytes), "error": error})).collect::<Vec<_>>(),
    });
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/spec/vectors/snapshot.json");
    let mut text = serde_json::to_string_pretty(&doc).unwrap();
    text.push('\n');
    std::fs::write(path, text).unwrap();
    println!("wrote {path}: {} valid, {} invalid cases", 2, invalid.len());
}
