//! Arbitrary fields as a Redis stream entry → the feed's record decoder and MAC check
//! (`__vectors::feed::open_entry`, the code the tail runs), under the vectors' ring (primary,
//! accept-only, retired). The input format and the optional sealing with a spec-computed MAC
//! are in `sealed_session_fuzz::feed`: raw inputs test the MAC check, sealed ones reach the
//! payload decoder.
//!
//! Checks: no panic; the verdict is exactly the one an independent reading of
//! spec/revocation.md ("Entries", "MAC input") gives, in the crate's check order (fields, key
//! id, node name, unknown key, retired key, MAC length, MAC, payload); an accepted entry is
//! one sealed under a non-retired key of the ring (its MAC recomputed from the spec), and an
//! accepted record is what the feed's own sealing of the decoded revocation writes, byte for
//! byte (so the payload was canonical); an accepted marker's body is an ASCII `ms-seq`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealed_session::__vectors::feed::{open_entry, seal_record};
use sealed_session::KeyState;
use sealed_session_fuzz::feed::{
    field, is_entry_id, key_id, mac, parse, ring, seal, sealing_ring, state_of, LABEL_MARKER, LABEL_RECORD,
    STREAM,
};

/// The verdict the spec gives an entry.
#[derive(Debug, PartialEq)]
enum Expect {
    Refused(&'static str),
    /// The MAC verifies under key `id`: the crate may open it or refuse the payload.
    Authentic {
        id: u8,
        record: bool,
    },
}

fn expected(fields: &[(Vec<u8>, Vec<u8>)]) -> Expect {
    let record = field(fields, "r").is_some();
    let names: [&[u8]; 4] = [b"k", b"n", if record { b"r" } else { b"s" }, b"m"];
    let exact = fields.len() == 4
        && names
            .iter()
            .all(|n| fields.iter().filter(|(f, _)| f.as_slice() == *n).count() == 1);
    if !exact {
        return Expect::Refused("malformed");
    }
    let (Some(k), Some(n), Some(m)) = (field(fields, "k"), field(fields, "n"), field(fields, "m")) else {
        return Expect::Refused("malformed");
    };
    let Some(id) = key_id(k) else {
        return Expect::Refused("malformed");
    };
    let node_ok = (1..=64).contains(&n.len())
        && n.iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !node_ok {
        return Expect::Refused("malformed");
    }
    match state_of(id) {
        None => return Expect::Refused("unknown_key"),
        Some(KeyState::Retired) => return Expect::Refused("retired_key"),
        Some(_) => {}
    }
    if m.len() != 32 {
        return Expect::Refused("malformed");
    }
    let (label, body) = match record {
        true => (LABEL_RECORD, field(fields, "r")),
        false => (LABEL_MARKER, field(fields, "s")),
    };
    let genuine = mac(id, label, n, body.unwrap_or_default()).expect("fixture key");
    if m != genuine.as_slice() {
        return Expect::Refused("bad_mac");
    }
    Expect::Authentic { id, record }
}

fn sorted(mut fields: Vec<(Vec<u8>, Vec<u8>)>) -> Vec<(Vec<u8>, Vec<u8>)> {
    fields.sort();
    fields
}

fuzz_target!(|data: &[u8]| {
    let (sealed, mut fields) = parse(data);
    if sealed {
        seal(&mut fields);
    }
    let want = expected(&fields);
    let got = open_entry(ring(), STREAM, &fields);
    match (&want, got) {
        (Expect::Refused(reason), Err(refused)) => {
            assert_eq!(*reason, refused, "refused for another reason than the spec's");
        }
        (Expect::Refused(reason), Ok(opened)) => {
            panic!("accepted an entry the spec refuses ({reason}): {opened:?}")
        }
        (Expect::Authentic { record: false, .. }, got) => {
            let body = field(&fields, "s").unwrap_or_default();
            match got {
                Ok((_, None)) => assert!(is_entry_id(body), "a marker with a bad entry id"),
                Ok((_, Some(r))) => panic!("a marker opened as the record {r:?}"),
                Err(refused) => {
                    assert_eq!(refused, "bad_payload", "an authentic marker refused");
                    assert!(!is_entry_id(body), "a marker with a good entry id refused");
                }
            }
        }
        (&Expect::Authentic { id, record: true }, got) => match got {
            Ok((node, Some(revocation))) => {
                assert_eq!(Some(node.as_bytes()), field(&fields, "n"));
                let ring = sealing_ring(id).expect("fixture key");
                let again = seal_record(ring, STREAM, &node, &revocation)
                    .unwrap_or_else(|e| panic!("an accepted record does not seal again: {e}"));
                let again = again
                    .into_iter()
                    .map(|(n, v)| (n.as_bytes().to_vec(), v))
                    .collect();
                assert!(
                    sorted(again) == sorted(fields.clone()),
                    "an accepted record is not what sealing its revocation writes"
                );
            }
            Ok((_, None)) => panic!("a record opened as a marker"),
            Err(refused) => assert_eq!(refused, "bad_payload", "an authentic record refused"),
        },
    }
    // An entry's verdict never depends on the order of its fields.
    let mut reversed = fields.clone();
    reversed.reverse();
    let again = open_entry(ring(), STREAM, &reversed);
    assert_eq!(
        again,
        open_entry(ring(), STREAM, &fields),
        "the field order changed the verdict"
    );
});
