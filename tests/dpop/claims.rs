//! The signed claims against the request: `spec/dpop.md` §3 rows 12 to 20.

use sealed_session::dpop::*;
use serde_json::json;

use crate::dpop_support::{ath, claims, ClientKey, METHOD, NOW, URI};
use crate::{request, verifier, verify};

#[test]
fn iat_an_hour_off_is_refused() {
    let key = ClientKey::es256();
    for (iat, expected) in [
        (NOW.0 - 3600, DpopError::TooOld),
        (NOW.0 + 3600, DpopError::FromFuture),
    ] {
        let mut c = claims();
        c["iat"] = json!(iat);
        assert_eq!(verify(&key.proof_with(&key.header(), &c)), Err(expected));
    }
}

#[test]
fn another_method_or_url_is_refused() {
    let key = ClientKey::ed25519();
    let proof = key.proof();
    let v = verifier();
    for method in ["GET", "post", "PUT"] {
        let request = DpopRequest::new(method, URI);
        assert_eq!(
            v.verify_at(&proof, &request, NOW),
            Err(DpopError::MethodMismatch),
            "{method}"
        );
    }
    for uri in [
        "https://api.example/transfer/",
        "https://api.example/Transfer",
        "http://api.example/transfer",
        "https://api.example:8443/transfer",
        "https://evil.example/transfer",
    ] {
        let request = DpopRequest::new(METHOD, uri);
        assert_eq!(
            v.verify_at(&proof, &request, NOW),
            Err(DpopError::UriMismatch),
            "{uri}"
        );
    }
    let request = DpopRequest::new(METHOD, "/transfer");
    assert_eq!(v.verify_at(&proof, &request, NOW), Err(DpopError::BadRequestUri));
}

#[test]
fn missing_or_mistyped_claims_are_refused() {
    let key = ClientKey::es256();
    for (claim, name) in [
        (Claim::Jti, "jti"),
        (Claim::Htm, "htm"),
        (Claim::Htu, "htu"),
        (Claim::Iat, "iat"),
    ] {
        let mut c = claims();
        c.as_object_mut().unwrap().remove(name);
        assert_eq!(
            verify(&key.proof_with(&key.header(), &c)),
            Err(DpopError::BadClaim(claim))
        );
    }
    let mut c = claims();
    c["iat"] = json!(NOW.0.to_string());
    assert_eq!(
        verify(&key.proof_with(&key.header(), &c)),
        Err(DpopError::BadClaim(Claim::Iat))
    );
    for jti in [String::new(), "j".repeat(257)] {
        let mut c = claims();
        c["jti"] = json!(jti);
        assert_eq!(
            verify(&key.proof_with(&key.header(), &c)),
            Err(DpopError::JtiLength)
        );
    }
    let payload = key.sign_texts(&key.header().to_string(), "[]");
    assert_eq!(verify(&payload), Err(DpopError::BadJson));
}

#[test]
fn ath_must_hash_the_presented_token() {
    let key = ClientKey::es256();
    let token = b"an opaque access token";
    let with_token = request().with_access_token(token);
    let mut c = claims();
    c["ath"] = json!(ath(token));
    assert!(verifier()
        .verify_at(&key.proof_with(&key.header(), &c), &with_token, NOW)
        .is_ok());
    c["ath"] = json!(ath(b"another access token"));
    let other = key.proof_with(&key.header(), &c);
    assert_eq!(
        verifier().verify_at(&other, &with_token, NOW),
        Err(DpopError::AthMismatch)
    );
    let missing = key.proof();
    assert_eq!(
        verifier().verify_at(&missing, &with_token, NOW),
        Err(DpopError::AthMissing)
    );
}
