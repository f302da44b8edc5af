#![allow(clippy::unwrap_used, clippy::indexing_slicing)]
use super::*;
use crate::clock::UnixTime;
use crate::keys::SessionKey;
use crate::revocation::{FilterConfig, RevocationSet};
use crate::token::claims::Epoch;

const STREAM: &str = "sealed-session:bank:revocations";

fn ring() -> KeyRing {
    KeyRing::empty()
        .with_key(KeyId(1), KeyState::Primary, SessionKey::from_bytes([9; 32]))
        .unwrap()
}

fn fields(sealed: Vec<Field>) -> Vec<(Vec<u8>, Vec<u8>)> {
    sealed
        .into_iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v))
        .collect()
}

fn logout() -> Revocation {
    Revocation::Id {
        epoch: Epoch(5),
        id: [0x2a; 16],
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The vector of spec/revocation.md, "MAC input": key 0x09 × 32 as key id 1.
#[test]
fn record_vector() {
    let sealed = seal_record(&ring(), STREAM, "web-1", &logout()).unwrap();
    let names: Vec<_> = sealed.iter().map(|(k, _)| *k).collect();
    assert_eq!(names, ["k", "n", "r", "m"]);
    assert_eq!(sealed[0].1, b"1");
    assert_eq!(sealed[1].1, b"web-1");
    assert_eq!(hex(&sealed[2].1), "00052a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a");
    let input = mac_input(LABEL_RECORD, KeyId(1), STREAM, "web-1", &[&sealed[2].1]).unwrap();
    assert_eq!(
        hex(&input),
        concat!(
            "0000001d",
            "7365616c65642d73657373696f6e2f76312066656564207265636f7264",
            "00000001",
            "01",
            "0000001f",
            "7365616c65642d73657373696f6e3a62616e6b3a7265766f636174696f6e73",
            "00000005",
            "7765622d31",
            "00000012",
            "00052a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a",
        )
    );
    assert_eq!(hex(&sealed[3].1), RECORD_VECTOR_MAC);
}

const RECORD_VECTOR_MAC: &str = "5fafcd46bfabd9b580ecc8ecb3d7da1b8b4d8941f07fbd4b505e74213c184722";

#[test]
fn records_round_trip() {
    let kinds = [
        logout(),
        Revocation::Subject {
            subject: "alice".into(),
            cutoff: UnixTime(1_800_000_000),
        },
        Revocation::KillSwitch {
            before: UnixTime(1_800_000_001),
        },
    ];
    for r in kinds {
        let f = fields(seal_record(&ring(), STREAM, "web-1", &r).unwrap());
        assert_eq!(
            open_entry(&ring(), STREAM, &f).unwrap(),
            (FeedEntry::Record(r), "web-1".to_owned())
        );
    }
}

#[test]
fn tampering_is_refused() {
    let good = fields(seal_record(&ring(), STREAM, "web-1", &logout()).unwrap());
    let open = |f: &[(Vec<u8>, Vec<u8>)]| open_entry(&ring(), STREAM, f).map(|_| ()).unwrap_err();
    for i in 0..good.len() {
        let mut f = good.clone();
        f[i].1.push(b'0');
        assert_ne!(
            open_entry(&ring(), STREAM, &f).map(|_| ()),
            Ok(()),
            "field {i} lengthened"
        );
        let mut f = good.clone();
        f.remove(i);
        assert_eq!(open(&f), Forged::Malformed, "field {i} missing");
    }
    let mut f = good.clone();
    f[1].1 = b"web-2".to_vec();
    assert_eq!(open(&f), Forged::BadMac, "node is bound");
    assert_eq!(
        open_entry(&ring(), "sealed-session:other:revocations", &good).map(|_| ()),
        Err(Forged::BadMac),
        "stream (context) is bound"
    );
    let mut f = good.clone();
    f[0].1 = b"2".to_vec();
    assert_eq!(open(&f), Forged::UnknownKey);
    let mut f = good.clone();
    f[0].1 = b"01".to_vec();
    assert_eq!(open(&f), Forged::Malformed, "non-canonical key id");
    let mut f = good.clone();
    f.push((b"x".to_vec(), b"y".to_vec()));
    assert_eq!(open(&f), Forged::Malformed, "unknown field");
    let mut f = good.clone();
    f[3] = (b"r".to_vec(), good[2].1.clone());
    assert_eq!(open(&f), Forged::Malformed, "repeated field");
    assert_eq!(open(&[]), Forged::Malformed);
    assert_eq!(
        open(&[(b"\xff".to_vec(), b"garbage".to_vec())]),
        Forged::Malformed
    );
}

#[test]
fn unknown_and_retired_keys_are_refused_before_the_mac() {
    let other = KeyRing::empty()
        .with_key(KeyId(1), KeyState::Primary, SessionKey::from_bytes([8; 32]))
        .unwrap();
    let f = fields(seal_record(&other, STREAM, "web-1", &logout()).unwrap());
    assert_eq!(
        open_entry(&ring(), STREAM, &f).map(|_| ()),
        Err(Forged::BadMac),
        "same id, other key"
    );
    let mut rotated = ring();
    rotated
        .insert(KeyId(2), KeyState::AcceptOnly, SessionKey::generate().unwrap())
        .unwrap();
    rotated.promote(KeyId(2)).unwrap();
    let f = fields(seal_record(&ring(), STREAM, "web-1", &logout()).unwrap());
    assert!(
        open_entry(&rotated, STREAM, &f).is_ok(),
        "accept-only keys verify"
    );
    rotated.retire(KeyId(1)).unwrap();
    assert_eq!(
        open_entry(&rotated, STREAM, &f).map(|_| ()),
        Err(Forged::RetiredKey)
    );
}

#[test]
fn a_valid_mac_over_garbage_is_a_bad_payload() {
    let key = ring();
    let primary = key.primary().unwrap();
    for payload in [&b""[..], b"\x07", b"\x00\x05", &[0x02; 2000]] {
        let input = mac_input(LABEL_RECORD, KeyId(1), STREAM, "web-1", &[payload]).unwrap();
        let tag = hmac::sign(&primary.feed, &input);
        let f = fields(vec![
            ("k", b"1".to_vec()),
            ("n", b"web-1".to_vec()),
            ("r", payload.to_vec()),
            ("m", tag.as_ref().to_vec()),
        ]);
        assert_eq!(open_entry(&key, STREAM, &f).map(|_| ()), Err(Forged::BadPayload));
    }
}

#[test]
fn a_record_mac_does_not_verify_as_a_marker() {
    let good = fields(seal_record(&ring(), STREAM, "web-1", &logout()).unwrap());
    let mut f = good.clone();
    f[2].0 = b"s".to_vec();
    assert_eq!(open_entry(&ring(), STREAM, &f).map(|_| ()), Err(Forged::BadMac));
    let marker = fields(seal_marker(&ring(), STREAM, "web-1", EntryId::at_ms(5)).unwrap());
    assert_eq!(
        open_entry(&ring(), STREAM, &marker).unwrap(),
        (FeedEntry::Marker, "web-1".to_owned())
    );
}

#[test]
fn shared_snapshots_round_trip_and_bind() {
    let set = RevocationSet::new(FilterConfig::default()).unwrap();
    logout().apply_to(&set);
    let bytes = set.snapshot().to_bytes(&ring()).unwrap();
    let inc = "0123456789abcdef0123456789abcdef";
    let covered = EntryId { ms: 7, seq: 1 };
    let f = fields(seal_snapshot(&ring(), STREAM, "web-1", inc, covered, bytes).unwrap());
    let opened = open_snapshot(&ring(), STREAM, "web-1", &f).unwrap();
    assert_eq!((opened.incarnation.as_str(), opened.covered), (inc, covered));
    assert!(opened.snapshot.contains(Epoch(5), &[0x2a; 16]));
    assert_eq!(
        open_snapshot(&ring(), STREAM, "web-2", &f).err(),
        Some(Forged::Malformed),
        "hash of another node"
    );
    let c = f.iter().position(|(k, _)| k == b"c").unwrap();
    let mut moved = f.clone();
    moved[c].1 = b"9-0".to_vec();
    assert_eq!(
        open_snapshot(&ring(), STREAM, "web-1", &moved).err(),
        Some(Forged::BadMac),
        "covered id is bound"
    );
}
