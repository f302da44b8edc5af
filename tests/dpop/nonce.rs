//! Server nonces: `spec/dpop.md` §5 and §3 row 21.

use std::time::Duration;

use sealed_session::dpop::*;
use sealed_session::UnixTime;
use serde_json::json;

use crate::dpop_support::{claims, ClientKey, NOW};
use crate::{request, verifier};

fn nonce_proof(key: &ClientKey, nonce: Option<&str>) -> String {
    let mut c = claims();
    if let Some(n) = nonce {
        c["nonce"] = json!(n);
    }
    key.proof_with(&key.header(), &c)
}

#[test]
fn a_required_nonce_must_be_present_genuine_and_fresh() {
    let nonces = DpopNonces::new(&[0x11; 32])
        .with_lifetime(Duration::from_secs(120))
        .unwrap();
    let key = ClientKey::es256();
    let requiring = request().requiring_nonce(&nonces);
    let v = verifier();
    let good = nonces.issue_at(UnixTime(NOW.0 - 100));
    let verified = v
        .verify_at(&nonce_proof(&key, Some(&good)), &requiring, NOW)
        .unwrap();
    assert_eq!(verified.nonce_issued_at, Some(UnixTime(NOW.0 - 100)));

    let foreign = DpopNonces::new(&[0x22; 32]).issue_at(NOW);
    let expired = nonces.issue_at(UnixTime(NOW.0 - 120));
    let ahead = nonces.issue_at(UnixTime(NOW.0 + 60));
    let cases = [
        (None, NonceError::Missing),
        (Some("bm9uY2U"), NonceError::Malformed),
        (Some(foreign.as_str()), NonceError::Forged),
        (Some(expired.as_str()), NonceError::Expired),
        (Some(ahead.as_str()), NonceError::NotYetValid),
    ];
    for (nonce, why) in cases {
        let refused = v
            .verify_at(&nonce_proof(&key, nonce), &requiring, NOW)
            .unwrap_err();
        assert_eq!(refused, DpopError::UseNonce(why), "{nonce:?}");
        assert_eq!(refused.client_error(), DpopErrorCode::UseDpopNonce);
    }
    // A nonce is only checked when the server asks for one.
    assert!(v
        .verify_at(&nonce_proof(&key, Some("anything")), &request(), NOW)
        .is_ok());
}

#[test]
fn a_proof_refused_for_its_nonce_is_not_spent() {
    // The client retries the same claims plus the nonce: its first jti must still be usable,
    // and the refusal must not have consumed a replay-cache entry.
    let nonces = DpopNonces::new(&[0x33; 32]);
    let key = ClientKey::ed25519();
    let requiring = request().requiring_nonce(&nonces);
    let v = verifier();
    let mut c = claims();
    assert!(matches!(
        v.verify_at(&key.proof_with(&key.header(), &c), &requiring, NOW),
        Err(DpopError::UseNonce(_))
    ));
    c["nonce"] = json!(nonces.issue_at(NOW));
    assert!(v
        .verify_at(&key.proof_with(&key.header(), &c), &requiring, NOW)
        .is_ok());
}

#[test]
fn nonces_from_any_node_with_the_key_verify() {
    let key_bytes = [0x44; 32];
    let (node_a, node_b) = (DpopNonces::new(&key_bytes), DpopNonces::new(&key_bytes));
    let nonce = node_a.issue_at(NOW);
    let key = ClientKey::es256();
    let proof = nonce_proof(&key, Some(&nonce));
    assert!(verifier()
        .verify_at(&proof, &request().requiring_nonce(&node_b), NOW)
        .is_ok());
}
