//! Checks `spec/vectors/snapshot.json` (made by `examples/gen-snapshot-vectors/`): the valid
//! snapshots decode to the listed revocations and rebuilding them gives the same bytes, growth
//! up to the eighth filter included; each tampered snapshot fails with its listed error.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use sealed_session::revocation::{
    FilterConfig, MemoryStore, Revocation, RevocationSet, RevocationSnapshot, RevocationStore,
};
use sealed_session::token::Epoch;
use sealed_session::{KeyId, KeyRing, KeyState, SessionKey, UnixTime};
use serde_json::Value;

fn load() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/spec/vectors/snapshot.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn id16(v: &Value) -> [u8; 16] {
    unhex(v.as_str().unwrap()).try_into().unwrap()
}

/// The vector's key ring; `primary` overrides which key mints (the others stay as listed,
/// except the listed primary, which becomes accept-only).
fn ring(doc: &Value, primary: Option<u8>) -> KeyRing {
    let mut ring = KeyRing::empty();
    for k in doc["keys"].as_array().unwrap() {
        let id = u8::try_from(k["id"].as_u64().unwrap()).unwrap();
        let mut state = match k["state"].as_str().unwrap() {
            "primary" => KeyState::Primary,
            "accept-only" => KeyState::AcceptOnly,
            _ => KeyState::Retired,
        };
        if let Some(p) = primary {
            if id == p {
                state = KeyState::Primary;
            } else if state == KeyState::Primary {
                state = KeyState::AcceptOnly;
            }
        }
        let secret: [u8; 32] = unhex(k["secret"].as_str().unwrap()).try_into().unwrap();
        ring.insert(KeyId(id), state, SessionKey::from_bytes(secret))
            .unwrap();
    }
    ring
}

fn config(doc: &Value) -> FilterConfig {
    let c = &doc["config"];
    assert_eq!(c["epochs_per_generation"], 1);
    FilterConfig::default()
        .with_capacity(usize::try_from(c["capacity"].as_u64().unwrap()).unwrap())
        .with_false_positive_rate(c["false_positive_rate"].as_f64().unwrap())
        .with_epochs_per_generation(u32::try_from(c["epochs_per_generation"].as_u64().unwrap()).unwrap())
}

/// A set holding exactly the vector's (or growth case's) revocations, applied in the listed
/// order: with growth, the order decides which filter each id lands in.
fn rebuild(doc: &Value) -> MemoryStore {
    let store = MemoryStore::new(config(doc)).unwrap();
    for r in doc["revocations"].as_array().unwrap() {
        let revocation = match r["type"].as_str().unwrap() {
            "id" => Revocation::Id {
                epoch: Epoch(r["epoch"].as_u64().unwrap()),
                id: id16(&r["id"]),
            },
            "subject" => Revocation::Subject {
                subject: r["subject"].as_str().unwrap().to_owned(),
                cutoff: UnixTime(r["cutoff"].as_u64().unwrap()),
            },
            "kill_switch" => Revocation::KillSwitch {
                before: UnixTime(r["before"].as_u64().unwrap()),
            },
            other => panic!("unknown revocation type {other}"),
        };
        store.revoke(revocation).unwrap();
    }
    store
}

fn check_contents(doc: &Value, snap: &RevocationSnapshot) {
    let expected = &doc["expected"];
    let gens: Vec<u64> = expected["generations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_u64().unwrap())
        .collect();
    assert_eq!(snap.generations(), gens);
    let counts: Vec<usize> = expected["filter_counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| usize::try_from(c.as_u64().unwrap()).unwrap())
        .collect();
    assert_eq!(snap.filter_counts(), counts);
    for r in doc["revocations"].as_array().unwrap() {
        match r["type"].as_str().unwrap() {
            "id" => assert!(snap.contains(Epoch(r["epoch"].as_u64().unwrap()), &id16(&r["id"]))),
            "subject" => {
                let got: Vec<_> = snap.subject_cutoffs().collect();
                let want = (
                    r["subject"].as_str().unwrap(),
                    UnixTime(r["cutoff"].as_u64().unwrap()),
                );
                assert!(got.contains(&want), "{want:?} not in {got:?}");
            }
            _ => assert_eq!(snap.kill_switch(), Some(UnixTime(r["before"].as_u64().unwrap()))),
        }
    }
    for id in expected["absent_ids"].as_array().unwrap() {
        for g in &gens {
            assert!(!snap.contains(Epoch(*g), &id16(id)));
        }
    }
    // Merged into a set, the snapshot answers the same.
    let set = RevocationSet::new(config(doc)).unwrap();
    set.merge(snap).unwrap();
    assert_eq!(set.snapshot(), *snap);
}

#[test]
fn valid_snapshots_decode_to_their_revocations() {
    let doc = load();
    let checking = ring(&doc, None);
    for case in doc["valid"].as_array().unwrap() {
        let bytes = unhex(case["snapshot"].as_str().unwrap());
        let snap = RevocationSnapshot::from_bytes(&bytes, &checking)
            .unwrap_or_else(|e| panic!("{}: {e}", case["name"]));
        check_contents(&doc, &snap);
        let signer = ring(
            &doc,
            Some(u8::try_from(case["key_id"].as_u64().unwrap()).unwrap()),
        );
        assert_eq!(
            snap.to_bytes(&signer).unwrap(),
            bytes,
            "{}: re-encoding differs",
            case["name"]
        );
    }
}

#[test]
fn rebuilding_from_the_listed_revocations_gives_the_same_bytes() {
    let doc = load();
    let bytes = unhex(doc["valid"][0]["snapshot"].as_str().unwrap());
    let rebuilt = rebuild(&doc)
        .set()
        .snapshot()
        .to_bytes(&ring(&doc, Some(1)))
        .unwrap();
    assert_eq!(
        rebuilt, bytes,
        "spec/vectors/snapshot.json is stale: cargo run --example gen-snapshot-vectors"
    );
}

#[test]
fn tampered_snapshots_fail_with_the_listed_error() {
    let doc = load();
    let checking = ring(&doc, None);
    let cases = doc["invalid"].as_array().unwrap();
    assert!(cases.len() >= 8);
    for case in cases {
        let bytes = unhex(case["snapshot"].as_str().unwrap());
        let err = RevocationSnapshot::from_bytes(&bytes, &checking).err();
        assert_eq!(err.map(|e| e.code()), case["error"].as_str(), "{}", case["name"]);
    }
}

#[test]
fn growth_cases_rebuild_byte_for_byte_and_hold_every_id() {
    let doc = load();
    let checking = ring(&doc, None);
    let cases = doc["growth"].as_array().unwrap();
    assert!(cases.len() >= 2);
    let mut most_filters = 0;
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let bytes = unhex(case["snapshot"].as_str().unwrap());
        let rebuilt = rebuild(case)
            .set()
            .snapshot()
            .to_bytes(&ring(&doc, Some(1)))
            .unwrap();
        assert_eq!(
            rebuilt, bytes,
            "{name}: stale, run cargo run --example gen-snapshot-vectors"
        );
        let snap = RevocationSnapshot::from_bytes(&bytes, &checking).unwrap();
        let counts: Vec<u64> = snap.filter_counts().iter().map(|&c| c as u64).collect();
        let listed: Vec<u64> = case["expected"]["filter_counts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_u64().unwrap())
            .collect();
        assert_eq!(counts, listed, "{name}");
        most_filters = most_filters.max(*counts.iter().max().unwrap());
        for r in case["revocations"].as_array().unwrap() {
            assert!(
                snap.contains(Epoch(r["epoch"].as_u64().unwrap()), &id16(&r["id"])),
                "{name}"
            );
        }
        let set = RevocationSet::new(config(case)).unwrap();
        set.merge(&snap).unwrap();
        assert_eq!(set.snapshot(), snap, "{name}: merge");
    }
    assert_eq!(most_filters, 8, "no case grows the eighth filter");
}
