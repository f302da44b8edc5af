//! Writes `spec/vectors/feed.json`: Redis feed entries (spec/revocation.md §10: records,
//! markers, shared snapshot hashes) sealed by the feed's own code, with their MAC inputs, and
//! refused entries with the reason each must get.
//!
//! `cargo run --example gen-feed-vectors --features test-vectors`; CI fails if that changes
//! the file. MAC inputs and MACs are also computed here from the spec (HKDF-SHA256, HMAC-SHA256)
//! and must equal the crate's; refused entries with a valid MAC over a bad payload are sealed
//! only this way.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use ring::{hkdf, hmac};
use sealed_session::__vectors::feed;
use sealed_session::revocation::{FilterConfig, MemoryStore, Revocation, RevocationStore};
use sealed_session::token::Epoch;
use sealed_session::{KeyId, KeyRing, KeyState, SessionKey, UnixTime};
use serde_json::{json, Value};

const STREAM: &str = "sealed-session:bank:revocations";
const KEYS: [(u8, &str, [u8; 32]); 3] = [
    (1, "primary", [0x09; 32]),
    (2, "accept-only", [0x0a; 32]),
    (3, "retired", [0x0b; 32]),
];

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The listed ring with `primary` minting (the other keys keep their states, a listed primary
/// becomes accept-only).
fn ring(primary: u8) -> KeyRing {
    let mut r = KeyRing::empty();
    for (id, state, secret) in KEYS {
        let state = match (id == primary, state) {
            (true, _) => KeyState::Primary,
            (false, "retired") => KeyState::Retired,
            _ => KeyState::AcceptOnly,
        };
        r.insert(KeyId(id), state, SessionKey::from_bytes(secret))
            .unwrap();
    }
    r
}

fn feed_key(secret: &[u8; 32]) -> [u8; 32] {
    struct Len;
    impl hkdf::KeyType for Len {
        fn len(&self) -> usize {
            32
        }
    }
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"sealed-session/v1").extract(secret);
    let mut out = [0u8; 32];
    prk.expand(&[b"sealed-session/v1 feed"], Len)
        .unwrap()
        .fill(&mut out)
        .unwrap();
    out
}

/// `lp(label) ‖ lp(key id byte) ‖ lp(stream) ‖ lp(node) ‖ lp(part)…`, `lp(x) = u32be(len) ‖ x`.
fn mac_input(label: &str, key_id: u8, node: &str, parts: &[&[u8]]) -> Vec<u8> {
    let fixed: [&[u8]; 4] = [label.as_bytes(), &[key_id], STREAM.as_bytes(), node.as_bytes()];
    let mut out = Vec::new();
    for p in fixed.iter().chain(parts) {
        out.extend_from_slice(&u32::try_from(p.len()).unwrap().to_be_bytes());
        out.extend_from_slice(p);
    }
    out
}

fn mac(key_id: u8, input: &[u8]) -> Vec<u8> {
    let secret = KEYS.iter().find(|k| k.0 == key_id).unwrap().2;
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &feed_key(&secret)), input)
        .as_ref()
        .to_vec()
}

type Fields = Vec<(&'static str, Vec<u8>)>;

fn fields_json(fields: &Fields) -> Vec<Value> {
    fields
        .iter()
        .map(|(name, v)| {
            let printable = v.iter().all(|b| b.is_ascii_graphic());
            match printable {
                true => json!({"name": name, "hex": hex(v), "text": String::from_utf8(v.clone()).unwrap()}),
                false => json!({"name": name, "hex": hex(v)}),
            }
        })
        .collect()
}

fn raw(fields: &Fields) -> Vec<(Vec<u8>, Vec<u8>)> {
    fields
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.clone()))
        .collect()
}

fn revocation_json(r: &Revocation) -> Value {
    match r {
        Revocation::Id { epoch, id } => json!({"type": "id", "epoch": epoch.0, "id": hex(id)}),
        Revocation::Subject { subject, cutoff } => {
            json!({"type": "subject", "subject": subject, "cutoff": cutoff.0})
        }
        Revocation::KillSwitch { before } => json!({"type": "kill_switch", "before": before.0}),
    }
}

/// A record entry sealed by the crate, checked against the spec's MAC and the crate's opening.
fn record(name: &str, key_id: u8, node: &str, r: &Revocation) -> Value {
    let fields = feed::seal_record(&ring(key_id), STREAM, node, r).unwrap();
    let payload = &fields[2].1;
    let input = mac_input("sealed-session/v1 feed record", key_id, node, &[payload]);
    assert_eq!(fields[3].1, mac(key_id, &input), "{name}");
    let opened = feed::open_entry(&ring(1), STREAM, &raw(&fields)).unwrap();
    assert_eq!(opened, (node.to_owned(), Some(r.clone())), "{name}");
    json!({"name": name, "kind": "record", "fields": fields_json(&fields), "mac_input": hex(&input),
           "node": node, "revocation": revocation_json(r)})
}

fn marker(name: &str, node: &str, (ms, seq): (u64, u64)) -> Value {
    let fields = feed::seal_marker(&ring(1), STREAM, node, ms, seq).unwrap();
    let covered = format!("{ms}-{seq}");
    assert_eq!(fields[2].1, covered.as_bytes());
    let input = mac_input(
        "sealed-session/v1 feed snapshot-marker",
        1,
        node,
        &[covered.as_bytes()],
    );
    assert_eq!(fields[3].1, mac(1, &input));
    assert_eq!(
        feed::open_entry(&ring(1), STREAM, &raw(&fields)).unwrap(),
        (node.to_owned(), None)
    );
    json!({"name": name, "kind": "marker", "fields": fields_json(&fields), "mac_input": hex(&input), "node": node, "covered": covered})
}

/// A refused entry: `edit` changes the fields of a good record; `open` must give `reason`.
fn refused(name: &str, comment: &str, fields: Fields, reason: &str) -> Value {
    let got = feed::open_entry(&ring(1), STREAM, &raw(&fields))
        .map(|_| ())
        .unwrap_err();
    assert_eq!(got, reason, "{name}");
    json!({"name": name, "comment": comment, "fields": fields_json(&fields), "reason": reason})
}

/// A record entry with a correct MAC (computed here) over any payload.
fn sealed_payload(node: &str, payload: Vec<u8>) -> Fields {
    let m = mac(
        1,
        &mac_input("sealed-session/v1 feed record", 1, node, &[&payload]),
    );
    vec![
        ("k", b"1".to_vec()),
        ("n", node.as_bytes().to_vec()),
        ("r", payload),
        ("m", m),
    ]
}

fn invalid(good: &Fields) -> Vec<Value> {
    let edit = |f: &dyn Fn(&mut Fields)| {
        let mut e = good.clone();
        f(&mut e);
        e
    };
    let mut id_payload = vec![0x00, 0x05];
    id_payload.extend_from_slice(&[0x2a; 16]);
    let mut overlong = vec![0x00, 0x85, 0x00];
    overlong.extend_from_slice(&[0x2a; 16]);
    let mut trailing = id_payload.clone();
    trailing.push(0);
    vec![
        refused(
            "mac_flipped",
            "last MAC byte changed",
            edit(&|f| f[3].1[31] ^= 1),
            "bad_mac",
        ),
        refused(
            "payload_flipped",
            "payload changed under the MAC",
            edit(&|f| f[2].1[2] ^= 1),
            "bad_mac",
        ),
        refused(
            "other_node",
            "n changed: the node name is in the MAC input",
            edit(&|f| f[1].1 = b"web-2".to_vec()),
            "bad_mac",
        ),
        refused(
            "unknown_key",
            "k names no key of the ring (checked before any MAC)",
            edit(&|f| f[0].1 = b"9".to_vec()),
            "unknown_key",
        ),
        refused(
            "retired_key",
            "k names the retired key 3",
            edit(&|f| f[0].1 = b"3".to_vec()),
            "retired_key",
        ),
        refused(
            "accept_only_key_wrong_mac",
            "k names accept-only key 2, whose MAC this is not",
            edit(&|f| f[0].1 = b"2".to_vec()),
            "bad_mac",
        ),
        refused(
            "key_id_leading_zero",
            "k is decimal without leading zeros",
            edit(&|f| f[0].1 = b"01".to_vec()),
            "malformed",
        ),
        refused(
            "missing_mac",
            "no m field",
            edit(&|f| {
                f.pop();
            }),
            "malformed",
        ),
        refused(
            "extra_field",
            "a field outside the MAC",
            edit(&|f| f.push(("x", b"1".to_vec()))),
            "malformed",
        ),
        refused(
            "repeated_field",
            "n twice",
            edit(&|f| f.insert(2, ("n", b"web-1".to_vec()))),
            "malformed",
        ),
        refused(
            "short_mac",
            "m of 31 bytes",
            edit(&|f| {
                f[3].1.pop();
            }),
            "malformed",
        ),
        refused(
            "bad_node_name",
            "n outside [A-Za-z0-9._-]",
            edit(&|f| f[1].1 = b"web 1".to_vec()),
            "malformed",
        ),
        refused(
            "overlong_varint_payload",
            "valid MAC over 00 85 00 ‖ id: epoch 5 with an over-long varint",
            sealed_payload("web-1", overlong),
            "bad_payload",
        ),
        refused(
            "trailing_byte_payload",
            "valid MAC over a payload with a byte after the revocation",
            sealed_payload("web-1", trailing),
            "bad_payload",
        ),
        refused(
            "empty_subject_payload",
            "valid MAC over a subject revocation with an empty subject",
            sealed_payload("web-1", vec![0x01, 0x00, 0x05]),
            "bad_payload",
        ),
        refused(
            "unknown_variant_payload",
            "valid MAC over variant index 3",
            sealed_payload("web-1", vec![0x03, 0x05]),
            "bad_payload",
        ),
    ]
}

fn snapshot_hash() -> Value {
    let store = MemoryStore::new(
        FilterConfig::default()
            .with_capacity(16)
            .with_false_positive_rate(1e-3),
    )
    .unwrap();
    store
        .revoke(Revocation::Id {
            epoch: Epoch(5),
            id: [0x2a; 16],
        })
        .unwrap();
    let snap = store.set().snapshot().to_bytes(&ring(1)).unwrap();
    let (incarnation, covered) = ("0123456789abcdef0123456789abcdef", (1_800_000_000_000u64, 3u64));
    let fields = feed::seal_snapshot(&ring(1), STREAM, "web-1", incarnation, covered, snap.clone()).unwrap();
    let c = format!("{}-{}", covered.0, covered.1);
    let input = mac_input(
        "sealed-session/v1 feed snapshot",
        1,
        "web-1",
        &[incarnation.as_bytes(), c.as_bytes(), &snap],
    );
    assert_eq!(fields.last().unwrap().1, mac(1, &input));
    let opened = feed::open_snapshot(&ring(1), STREAM, "web-1", &raw(&fields)).unwrap();
    assert_eq!(opened, (incarnation.to_owned(), c.clone()));
    json!({"name": "snapshot_hash", "kind": "snapshot", "fields": fields_json(&fields), "mac_input": hex(&input),
           "node": "web-1", "incarnation": incarnation, "covered": c,
           "snapshot_holds": [{"type": "id", "epoch": 5, "id": hex(&[0x2a; 16])}]})
}

fn main() {
    let logout = Revocation::Id {
        epoch: Epoch(5),
        id: [0x2a; 16],
    };
    let good = feed::seal_record(&ring(1), STREAM, "web-1", &logout).unwrap();
    let valid = vec![
        record("record_id", 1, "web-1", &logout),
        record(
            "record_subject",
            1,
            "web-1",
            &Revocation::Subject {
                subject: "alice".into(),
                cutoff: UnixTime(1_800_000_000),
            },
        ),
        record(
            "record_kill_switch",
            1,
            "cli",
            &Revocation::KillSwitch {
                before: UnixTime(1_800_000_001),
            },
        ),
        record("record_under_accept_only_key", 2, "web-2", &logout),
        marker("marker", "web-1", (1_800_000_000_000, 7)),
        snapshot_hash(),
    ];
    let doc = json!({
        "description": "Redis feed entries (spec/revocation.md §10). Generated by examples/gen-feed-vectors.rs; do not edit.",
        "spec": "spec/revocation.md §10",
        "notes": [
            "field values are raw bytes (hex; 'text' when printable ASCII); entries may list fields in any order",
            "feed_key = HKDF-SHA256(salt 'sealed-session/v1', ikm = secret, info 'sealed-session/v1 feed'); m = HMAC-SHA256(feed_key, mac_input)",
            "open every entry with the ring 'keys' (1 primary, 2 accept-only, 3 retired) and the stream key 'stream'",
        ],
        "stream": STREAM,
        "keys": KEYS.iter().map(|(id, state, s)| json!({"id": id, "state": state, "secret": hex(s), "feed_key": hex(&feed_key(s))})).collect::<Vec<_>>(),
        "valid": valid,
        "invalid": invalid(&good),
    });
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/spec/vectors/feed.json");
    let mut text = serde_json::to_string_pretty(&doc).unwrap();
    text.push('\n');
    std::fs::write(path, text).unwrap();
    println!("wrote {path}");
}
