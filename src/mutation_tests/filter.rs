//! The filter probe and its bit positions: the snapshot vector rebuilt byte for byte from its
//! revocations (every bit position of spec/revocation.md, "Hashing" and "Filter layout"),
//! inserted ids found through either probe argument, and a false-positive count over many
//! absent ids within what the measured fill allows.

use serde_json::Value;

use crate::revocation::{FilterConfig, MemoryStore, Revocation, RevocationSet, RevocationStore};
use crate::token::Epoch;
use crate::*;

const VECTORS: &str = include_str!("../../spec/vectors/snapshot.json");

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn id16(v: &Value) -> [u8; 16] {
    unhex(v.as_str().unwrap()).try_into().unwrap()
}

/// The vector's ring with key 1 primary (the key its first snapshot is sealed under).
fn ring(doc: &Value) -> KeyRing {
    let mut ring = KeyRing::empty();
    for k in doc["keys"].as_array().unwrap() {
        let id = u8::try_from(k["id"].as_u64().unwrap()).unwrap();
        let state = match (id, k["state"].as_str().unwrap()) {
            (1, _) => KeyState::Primary,
            (_, "retired") => KeyState::Retired,
            _ => KeyState::AcceptOnly,
        };
        let secret: [u8; 32] = unhex(k["secret"].as_str().unwrap()).try_into().unwrap();
        ring.insert(KeyId(id), state, SessionKey::from_bytes(secret))
            .unwrap();
    }
    ring
}

fn config(doc: &Value) -> FilterConfig {
    let c = &doc["config"];
    FilterConfig::default()
        .with_capacity(usize::try_from(c["capacity"].as_u64().unwrap()).unwrap())
        .with_false_positive_rate(c["false_positive_rate"].as_f64().unwrap())
        .with_epochs_per_generation(u32::try_from(c["epochs_per_generation"].as_u64().unwrap()).unwrap())
}

fn revocation(r: &Value) -> Revocation {
    match r["type"].as_str().unwrap() {
        "id" => Revocation::Id {
            epoch: Epoch(r["epoch"].as_u64().unwrap()),
            id: id16(&r["id"]),
        },
        "subject" => Revocation::Subject {
            subject: r["subject"].as_str().unwrap().to_owned(),
            cutoff: UnixTime(r["cutoff"].as_u64().unwrap()),
        },
        _ => Revocation::KillSwitch {
            before: UnixTime(r["before"].as_u64().unwrap()),
        },
    }
}

#[test]
fn the_snapshot_vector_is_rebuilt_bit_for_bit_and_answers_its_ids() {
    let doc: Value = serde_json::from_str(VECTORS).unwrap();
    let rebuild = |doc: &Value| {
        let store = MemoryStore::new(config(doc)).unwrap();
        for r in doc["revocations"].as_array().unwrap() {
            store.revoke(revocation(r)).unwrap();
        }
        store
    };
    let store = rebuild(&doc);
    let bytes = store.set().snapshot().to_bytes(&ring(&doc)).unwrap();
    assert_eq!(bytes, unhex(doc["valid"][0]["snapshot"].as_str().unwrap()));
    for r in doc["revocations"].as_array().unwrap() {
        if let Revocation::Id { epoch, id } = revocation(r) {
            assert!(store.set().contains(epoch, &id));
        }
    }
    let generations: Vec<u64> = doc["expected"]["generations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_u64().unwrap())
        .collect();
    for id in doc["expected"]["absent_ids"].as_array().unwrap() {
        for g in &generations {
            assert!(!store.set().contains(Epoch(*g), &id16(id)));
        }
    }
    // Growth: the order of inserts decides which filter holds each bit.
    for case in doc["growth"].as_array().unwrap() {
        let bytes = rebuild(case).set().snapshot().to_bytes(&ring(&doc)).unwrap();
        assert_eq!(
            bytes,
            unhex(case["snapshot"].as_str().unwrap()),
            "{}",
            case["name"]
        );
    }
}

/// splitmix64: deterministic ids, so the counts below are the same on every run.
fn ids(seed: u64) -> impl Iterator<Item = [u8; 16]> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    std::iter::repeat_with(move || {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&next().to_le_bytes());
        id[8..].copy_from_slice(&next().to_le_bytes());
        id
    })
}

/// One filter for 1,000 ids at a 1e-3 false-positive rate: enough false positives among
/// 100,000 absent ids to count, few enough to tell a sound probe from a broken one.
fn small_filter() -> FilterConfig {
    FilterConfig::default()
        .with_capacity(1000)
        .with_false_positive_rate(1e-3)
}

#[test]
fn the_probe_finds_every_inserted_id_and_few_absent_ones() {
    let epoch = Epoch(7);
    let set = RevocationSet::new(small_filter()).unwrap();
    let present: Vec<[u8; 16]> = ids(1).take(1000).collect();
    for id in &present {
        set.insert(epoch, id);
    }
    assert_eq!(set.filter_count(), 1, "one filter, below its fill limit");
    let absent: Vec<[u8; 16]> = ids(2).take(100_000).collect();
    for (p, a) in present.iter().zip(&absent) {
        assert!(set.contains(epoch, p));
        assert!(set.contains_either(epoch, p, a));
        assert!(set.contains_either(epoch, a, p));
        assert!(!set.contains(Epoch(8), p), "another generation");
    }
    let rate = set.false_positive_estimate(epoch);
    assert!(rate > 1e-5 && rate < 1e-3, "{rate}");
    let pairs = absent
        .chunks_exact(2)
        .filter(|ab| set.contains_either(epoch, &ab[0], &ab[1]));
    let both = pairs.count() as f64;
    let single = absent.iter().filter(|a| set.contains(epoch, a)).count() as f64;
    // (X/m)^k per probe: about 30 of 100,000; a probe that skipped positions or stopped
    // early on a set bit would find hundreds or thousands.
    let expected = rate * absent.len() as f64;
    assert!(
        single <= 2.0 * expected + 20.0,
        "{single} false positives, {expected} expected"
    );
    assert!(
        both <= 2.0 * expected + 20.0,
        "{both} pair false positives, {expected} expected"
    );
}

/// A snapshot read back answers like the set it came from (its own probe, `block_has`, over
/// the stored words): every inserted id in its generation, none in another, and absent ids
/// only at the rate the fill allows. Caught `block_has` mutants that answered `true`,
/// `false`, or tested a mask with `|` / `^` / `!=` instead of "all its bits set".
#[test]
fn a_snapshot_answers_like_its_set() {
    let epoch = Epoch(7);
    let store = MemoryStore::new(small_filter()).unwrap();
    let present: Vec<[u8; 16]> = ids(3).take(1000).collect();
    for id in &present {
        store.revoke(Revocation::Id { epoch, id: *id }).unwrap();
    }
    let keys = KeyRing::generate().unwrap();
    let bytes = store.set().snapshot().to_bytes(&keys).unwrap();
    let snapshot = crate::revocation::RevocationSnapshot::from_bytes(&bytes, &keys).unwrap();
    for id in &present {
        assert!(snapshot.contains(epoch, id));
        assert!(!snapshot.contains(Epoch(8), id), "another generation");
    }
    let absent: Vec<[u8; 16]> = ids(4).take(100_000).collect();
    let set_says = absent.iter().filter(|a| store.set().contains(epoch, a)).count();
    let snapshot_says = absent.iter().filter(|a| snapshot.contains(epoch, a)).count();
    assert_eq!(snapshot_says, set_says, "the same false positives as the set");
    assert!(set_says < 200, "{set_says} false positives of 100,000");
}
