//! An implementation of the revocation set from spec/revocation.md alone (the generator's
//! `model.rs`: hashing, integer sizing, the insert rule, snapshot bytes) rebuilds every snapshot
//! of `spec/vectors/snapshot.json` and every geometry of `spec/vectors/filter_geometry.json`;
//! the crate's geometry is checked against the same file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "../examples/gen-snapshot-vectors/model.rs"]
mod model;

use serde_json::Value;

fn load(file: &str) -> Value {
    let path = format!("{}/spec/vectors/{file}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn secret(doc: &Value, key_id: u64) -> [u8; 32] {
    let key = doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == key_id)
        .unwrap();
    unhex(key["secret"].as_str().unwrap()).try_into().unwrap()
}

/// The model fed `case`'s revocations in order.
fn replay(case: &Value) -> model::Model {
    let c = &case["config"];
    let (n, p) = (
        c["capacity"].as_u64().unwrap(),
        c["false_positive_rate"].as_f64().unwrap(),
    );
    let mut m = model::Model::new(n, p, c["epochs_per_generation"].as_u64().unwrap());
    for r in case["revocations"].as_array().unwrap() {
        match r["type"].as_str().unwrap() {
            "id" => {
                let id: [u8; 16] = unhex(r["id"].as_str().unwrap()).try_into().unwrap();
                m.insert(r["epoch"].as_u64().unwrap(), &id);
            }
            "subject" => m.cut_off(r["subject"].as_str().unwrap(), r["cutoff"].as_u64().unwrap()),
            _ => m.kill(r["before"].as_u64().unwrap()),
        }
    }
    m
}

/// The listed shape and fill of every filter is the model's.
fn check_filters(m: &model::Model, listed: &Value) {
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), m.generations.len());
    for (g, (number, filters)) in listed.iter().zip(&m.generations) {
        assert_eq!(g["generation"], *number);
        let fs = g["filters"].as_array().unwrap();
        assert_eq!(fs.len(), filters.len());
        for (f, mine) in fs.iter().zip(filters) {
            assert_eq!(f["k"], mine.k);
            assert_eq!(f["words"], mine.words.len() as u64);
            assert_eq!(f["limit"], mine.limit);
            assert_eq!(f["set_bits"], mine.set_bits());
            assert_eq!(f["sealed"], mine.set_bits() >= mine.limit);
        }
    }
}

#[test]
fn the_spec_alone_rebuilds_every_snapshot() {
    let doc = load("snapshot.json");
    let basic = replay(&doc);
    check_filters(&basic, &doc["expected"]["filters"]);
    for case in doc["valid"].as_array().unwrap() {
        let key = case["key_id"].as_u64().unwrap();
        let bytes = basic.snapshot(u8::try_from(key).unwrap(), &secret(&doc, key));
        assert_eq!(
            bytes,
            unhex(case["snapshot"].as_str().unwrap()),
            "{}",
            case["name"]
        );
    }
    for case in doc["growth"].as_array().unwrap() {
        let m = replay(case);
        check_filters(&m, &case["expected"]["filters"]);
        let key = case["key_id"].as_u64().unwrap();
        let bytes = m.snapshot(u8::try_from(key).unwrap(), &secret(&doc, key));
        assert_eq!(
            bytes,
            unhex(case["snapshot"].as_str().unwrap()),
            "{}",
            case["name"]
        );
    }
}

#[test]
fn the_spec_alone_gives_every_listed_geometry() {
    let doc = load("filter_geometry.json");
    let configs = doc["configs"].as_array().unwrap();
    assert!(configs.len() >= 50);
    for c in configs {
        let (n, p) = (
            c["capacity"].as_u64().unwrap(),
            c["false_positive_rate"].as_f64().unwrap(),
        );
        assert_eq!(c["j"], model::target_exponent(p));
        for (f, (k, words, limit)) in c["filters"].as_array().unwrap().iter().zip(model::geometry(n, p)) {
            assert_eq!(
                (
                    f["k"].as_u64().unwrap(),
                    f["words"].as_u64().unwrap(),
                    f["limit"].as_u64().unwrap()
                ),
                (u64::from(k), words, limit),
                "{n} {p}"
            );
        }
    }
}

#[cfg(feature = "test-vectors")]
#[test]
fn the_crate_gives_every_listed_geometry() {
    use sealed_session::revocation::FilterConfig;
    let doc = load("filter_geometry.json");
    for c in doc["configs"].as_array().unwrap() {
        let config = FilterConfig::default()
            .with_capacity(usize::try_from(c["capacity"].as_u64().unwrap()).unwrap())
            .with_false_positive_rate(c["false_positive_rate"].as_f64().unwrap());
        let geometry = sealed_session::__vectors::filter_geometry(&config).unwrap();
        for (f, (k, words, limit)) in c["filters"].as_array().unwrap().iter().zip(geometry) {
            assert_eq!(f["k"], k);
            assert_eq!(f["words"], words as u64);
            assert_eq!(f["limit"], limit);
        }
    }
}
