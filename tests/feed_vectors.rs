//! Checks `spec/vectors/feed.json` (spec/revocation.md §10): every valid entry's MAC input is
//! rebuilt here from its fields and its MAC recomputed with the spec's HKDF subkey, the feed's
//! code opens it to the listed revocation and seals the same fields again; every refused entry
//! gets exactly its listed reason.
#![cfg(all(feature = "test-vectors", feature = "redis"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use ring::{hkdf, hmac};
use sealed_session::__vectors::feed;
use sealed_session::revocation::Revocation;
use sealed_session::token::Epoch;
use sealed_session::{KeyId, KeyRing, KeyState, SessionKey, UnixTime};
use serde_json::Value;

fn load() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/spec/vectors/feed.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn secret(doc: &Value, id: u8) -> [u8; 32] {
    let k = doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id)
        .unwrap();
    unhex(k["secret"].as_str().unwrap()).try_into().unwrap()
}

/// The listed ring, with `primary` minting (a listed primary becomes accept-only).
fn ring(doc: &Value, primary: u8) -> KeyRing {
    let mut r = KeyRing::empty();
    for k in doc["keys"].as_array().unwrap() {
        let id = u8::try_from(k["id"].as_u64().unwrap()).unwrap();
        let state = match (id == primary, k["state"].as_str().unwrap()) {
            (true, _) => KeyState::Primary,
            (false, "retired") => KeyState::Retired,
            _ => KeyState::AcceptOnly,
        };
        r.insert(KeyId(id), state, SessionKey::from_bytes(secret(doc, id)))
            .unwrap();
    }
    r
}

fn fields(entry: &Value) -> Vec<(Vec<u8>, Vec<u8>)> {
    entry["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().as_bytes().to_vec(),
                unhex(f["hex"].as_str().unwrap()),
            )
        })
        .collect()
}

fn value<'a>(fields: &'a [(Vec<u8>, Vec<u8>)], name: &str) -> &'a [u8] {
    &fields.iter().find(|(n, _)| n == name.as_bytes()).unwrap().1
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

/// `input(label, parts…)` of §10 with `lp(x) = u32be(len x) ‖ x`.
fn mac_input(label: &str, key_id: u8, stream: &str, node: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let fixed: [&[u8]; 4] = [label.as_bytes(), &[key_id], stream.as_bytes(), node];
    fixed
        .iter()
        .chain(parts)
        .flat_map(|p| [u32::try_from(p.len()).unwrap().to_be_bytes().to_vec(), p.to_vec()].concat())
        .collect()
}

fn revocation(v: &Value) -> Revocation {
    match v["type"].as_str().unwrap() {
        "id" => Revocation::Id {
            epoch: Epoch(v["epoch"].as_u64().unwrap()),
            id: unhex(v["id"].as_str().unwrap()).try_into().unwrap(),
        },
        "subject" => Revocation::Subject {
            subject: v["subject"].as_str().unwrap().into(),
            cutoff: UnixTime(v["cutoff"].as_u64().unwrap()),
        },
        _ => Revocation::KillSwitch {
            before: UnixTime(v["before"].as_u64().unwrap()),
        },
    }
}

#[test]
fn valid_entries_recompute_open_and_reseal() {
    let doc = load();
    let stream = doc["stream"].as_str().unwrap();
    for k in doc["keys"].as_array().unwrap() {
        let id = u8::try_from(k["id"].as_u64().unwrap()).unwrap();
        assert_eq!(
            unhex(k["feed_key"].as_str().unwrap()),
            feed_key(&secret(&doc, id))
        );
    }
    let opening = ring(&doc, 1);
    for entry in doc["valid"].as_array().unwrap() {
        let name = entry["name"].as_str().unwrap();
        let f = fields(entry);
        let key_id: u8 = std::str::from_utf8(value(&f, "k")).unwrap().parse().unwrap();
        let node = value(&f, "n");
        let (label, parts): (&str, Vec<&[u8]>) = match entry["kind"].as_str().unwrap() {
            "record" => ("sealed-session/v1 feed record", vec![value(&f, "r")]),
            "marker" => ("sealed-session/v1 feed snapshot-marker", vec![value(&f, "s")]),
            _ => (
                "sealed-session/v1 feed snapshot",
                vec![value(&f, "i"), value(&f, "c"), value(&f, "s")],
            ),
        };
        let input = mac_input(label, key_id, stream, node, &parts);
        assert_eq!(unhex(entry["mac_input"].as_str().unwrap()), input, "{name}");
        let key = hmac::Key::new(hmac::HMAC_SHA256, &feed_key(&secret(&doc, key_id)));
        assert_eq!(hmac::sign(&key, &input).as_ref(), value(&f, "m"), "{name}: mac");
        let node = std::str::from_utf8(node).unwrap();
        let sealer = ring(&doc, key_id);
        let resealed = match entry["kind"].as_str().unwrap() {
            "record" => {
                let r = revocation(&entry["revocation"]);
                assert_eq!(
                    feed::open_entry(&opening, stream, &f),
                    Ok((node.to_owned(), Some(r.clone()))),
                    "{name}"
                );
                feed::seal_record(&sealer, stream, node, &r).unwrap()
            }
            "marker" => {
                assert_eq!(
                    feed::open_entry(&opening, stream, &f),
                    Ok((node.to_owned(), None)),
                    "{name}"
                );
                let (ms, seq) = entry["covered"].as_str().unwrap().split_once('-').unwrap();
                feed::seal_marker(&sealer, stream, node, ms.parse().unwrap(), seq.parse().unwrap()).unwrap()
            }
            _ => {
                let (i, c) = (
                    entry["incarnation"].as_str().unwrap(),
                    entry["covered"].as_str().unwrap(),
                );
                assert_eq!(
                    feed::open_snapshot(&opening, stream, node, &f),
                    Ok((i.to_owned(), c.to_owned())),
                    "{name}"
                );
                let (ms, seq) = c.split_once('-').unwrap();
                let covered = (ms.parse().unwrap(), seq.parse().unwrap());
                feed::seal_snapshot(&sealer, stream, node, i, covered, value(&f, "s").to_vec()).unwrap()
            }
        };
        let resealed: Vec<(Vec<u8>, Vec<u8>)> = resealed
            .into_iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v))
            .collect();
        assert_eq!(resealed, f, "{name}: sealing again");
    }
}

#[test]
fn refused_entries_get_their_reason() {
    let doc = load();
    let cases = doc["invalid"].as_array().unwrap();
    assert!(cases.iter().any(|c| c["name"] == "overlong_varint_payload"));
    for case in cases {
        let got = feed::open_entry(&ring(&doc, 1), doc["stream"].as_str().unwrap(), &fields(case));
        assert_eq!(
            got.map(|_| ()),
            Err(case["reason"].as_str().unwrap()),
            "{}",
            case["name"]
        );
    }
}
