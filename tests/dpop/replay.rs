//! The replay cache: `spec/dpop.md` §6.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use sealed_session::dpop::*;
use sealed_session::UnixTime;
use serde_json::json;

use crate::dpop_support::{claims, jti, ClientKey, NOW};
use crate::{keys, request, verifier};

#[test]
fn a_replayed_proof_is_refused() {
    let v = verifier();
    for key in keys() {
        let proof = key.proof();
        assert!(v.verify_at(&proof, &request(), NOW).is_ok());
        assert_eq!(v.verify_at(&proof, &request(), NOW), Err(DpopError::Replayed));
        assert_eq!(
            v.verify_at(&proof, &request(), UnixTime(NOW.0 + 30)),
            Err(DpopError::Replayed)
        );
        // A fresh signature over the same claims (ECDSA is randomized) is the same proof.
        let c: serde_json::Value =
            serde_json::from_slice(&B64.decode(proof.split('.').nth(1).unwrap()).unwrap()).unwrap();
        let again = key.proof_with(&key.header(), &c);
        assert_eq!(v.verify_at(&again, &request(), NOW), Err(DpopError::Replayed));
    }
}

#[test]
fn another_key_cannot_spend_a_victims_jti() {
    let v = verifier();
    let (victim, attacker) = (ClientKey::es256(), ClientKey::es256());
    let c = claims();
    assert!(v
        .verify_at(&attacker.proof_with(&attacker.header(), &c), &request(), NOW)
        .is_ok());
    assert!(v
        .verify_at(&victim.proof_with(&victim.header(), &c), &request(), NOW)
        .is_ok());
}

#[test]
fn a_replay_is_refused_on_any_thread_exactly_once_accepted() {
    let v = Arc::new(verifier());
    let proof = Arc::new(ClientKey::es256().proof());
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (v, proof) = (Arc::clone(&v), Arc::clone(&proof));
            std::thread::spawn(move || v.verify_at(&proof, &request(), NOW).is_ok())
        })
        .collect();
    let accepted = handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .filter(|&ok| ok)
        .count();
    assert_eq!(accepted, 1);
}

#[test]
fn a_flood_narrows_the_window_but_never_lets_a_replay_through() {
    let v = DpopVerifier::new(DpopConfig::default().with_replay_capacity(32)).unwrap();
    let (victim, flooder) = (ClientKey::ed25519(), ClientKey::ed25519());
    let victim_proof = victim.proof();
    assert!(v.verify_at(&victim_proof, &request(), NOW).is_ok());
    // 200 valid proofs from the flooder's own key, dated at the limit of the future skew.
    let mut c = claims();
    c["iat"] = json!(NOW.0 + 5);
    for _ in 0..200 {
        c["jti"] = json!(jti());
        let _ = v.verify_at(&flooder.proof_with(&flooder.header(), &c), &request(), NOW);
    }
    // The victim's proof was forgotten, and so everything as old as it is refused.
    assert_eq!(
        v.verify_at(&victim_proof, &request(), NOW),
        Err(DpopError::ReplayHorizon)
    );
    assert_eq!(
        v.verify_at(&victim.proof(), &request(), NOW),
        Err(DpopError::ReplayHorizon)
    );
    // Once the flood's proofs age out, fresh proofs verify again.
    let later = UnixTime(NOW.0 + 70);
    let mut fresh = claims();
    fresh["iat"] = json!(later.0);
    assert!(v
        .verify_at(&victim.proof_with(&victim.header(), &fresh), &request(), later)
        .is_ok());
}
