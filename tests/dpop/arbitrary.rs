//! Arbitrary input never panics; no one-character change of a valid proof verifies.

use proptest::prelude::*;
use serde_json::json;

use crate::dpop_support::{claims, ClientKey};
use crate::verify;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,600}") {
        let _ = verify(&text);
    }

    #[test]
    fn arbitrary_segments_never_panic(h in "[A-Za-z0-9_-]{0,300}", p in "[A-Za-z0-9_-]{0,300}", s in "[A-Za-z0-9_-]{0,100}") {
        let _ = verify(&format!("{h}.{p}.{s}"));
    }

    /// Signed proofs whose header members are drawn from near-valid and arbitrary values,
    /// so that every header and key check is reached, then arbitrary claims text.
    #[test]
    fn arbitrary_signed_headers_and_claims_never_panic(
        typ in prop_oneof![Just("dpop+jwt".to_owned()), ".{0,12}"],
        alg in prop_oneof![Just("EdDSA".to_owned()), Just("ES256".to_owned()), ".{0,8}"],
        kty in prop_oneof![Just("OKP".to_owned()), Just("EC".to_owned()), ".{0,4}"],
        crv in prop_oneof![Just("Ed25519".to_owned()), Just("P-256".to_owned()), ".{0,8}"],
        x in "[A-Za-z0-9_=+/-]{0,50}",
        body in prop_oneof![".{0,200}", Just(claims().to_string())],
    ) {
        let key = ClientKey::ed25519();
        let header = json!({"typ": typ, "alg": alg, "jwk": {"kty": kty, "crv": crv, "x": x}});
        let _ = verify(&key.sign_texts(&header.to_string(), &body));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Any change of one character of a valid proof is refused (no malleability that
    /// survives verification), and nothing panics.
    #[test]
    fn every_one_character_change_is_refused(position in any::<prop::sample::Index>(), replacement in any::<char>()) {
        let key = ClientKey::ed25519();
        let proof = key.proof();
        let at = position.index(proof.len());
        let mut changed: String = proof.chars().take(at).collect();
        changed.push(replacement);
        changed.extend(proof.chars().skip(at + 1));
        prop_assume!(changed != proof);
        prop_assert!(verify(&changed).is_err());
    }
}
