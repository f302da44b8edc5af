//! DPoP proofs (RFC 9449) made with real keys, verified end to end: the RFC's own examples,
//! every refusal of `spec/dpop.md` §3 with its reason, nonces, replay under load, and
//! arbitrary input.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

mod dpop_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::{URL_SAFE as B64_PADDED, URL_SAFE_NO_PAD as B64};
use base64::Engine;
use dpop_support::{ath, claims, jti, ClientKey, METHOD, NOW, URI};
use ring::hmac;
use sealed_session::dpop::*;
use sealed_session::UnixTime;
use serde_json::json;

fn verifier() -> DpopVerifier {
    DpopVerifier::new(DpopConfig::default()).unwrap()
}

fn request() -> DpopRequest<'static> {
    DpopRequest::new(METHOD, URI)
}

/// A fresh verifier for one proof.
fn verify(proof: &str) -> Result<VerifiedProof, DpopError> {
    verifier().verify_at(proof, &request(), NOW)
}

fn keys() -> [ClientKey; 2] {
    [ClientKey::es256(), ClientKey::ed25519()]
}

#[test]
fn the_verifier_and_nonces_can_be_shared_across_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<DpopVerifier>();
    shared::<DpopNonces>();
    shared::<DpopError>();
}

// ---------------------------------------------------------------- the RFC's examples

// RFC 9449 §4.1, the example token request's `DPoP` header (decoded in the same section);
// its key's `jkt` is the one §6.1 publishes. The signatures were checked independently
// (Python `cryptography`) when these were added.
const RFC_TOKEN_PROOF: &str = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg";
// RFC 9449 §7.1, the example protected-resource request: access token and proof with `ath`.
const RFC_RESOURCE_PROOF: &str = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiJlMWozVl9iS2ljOC1MQUVCIiwiaHRtIjoiR0VUIiwiaHR1IjoiaHR0cHM6Ly9yZXNvdXJjZS5leGFtcGxlLm9yZy9wcm90ZWN0ZWRyZXNvdXJjZSIsImlhdCI6MTU2MjI2MjYxOCwiYXRoIjoiZlVIeU8ycjJaM0RaNTNFc05yV0JiMHhXWG9hTnk1OUlpS0NBcWtzbVFFbyJ9.2oW9RP35yRqzhrtNP86L-Ey71EOptxRimPPToA1plemAgR6pxHF8y6-yqyVnmcw6Fy1dqd-jfxSYoMxhAJpLjA";
const RFC_ACCESS_TOKEN: &[u8] = b"Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";
const RFC_JKT: &str = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";

#[test]
fn rfc_9449_token_request_example_verifies() {
    let request = DpopRequest::new("POST", "https://server.example.com/token");
    let verified = verifier()
        .verify_at(RFC_TOKEN_PROOF, &request, UnixTime(1_562_262_616))
        .unwrap();
    assert_eq!(verified.thumbprint.to_string(), RFC_JKT);
    assert_eq!(verified.thumbprint, JwkThumbprint::from_jkt(RFC_JKT).unwrap());
    assert_eq!(
        (verified.jti.as_str(), verified.algorithm),
        ("-BwC3ESc6acc2lTc", Algorithm::Es256)
    );
    assert_eq!(verified.issued_at, UnixTime(1_562_262_616));
}

#[test]
fn rfc_9449_resource_request_example_verifies_with_its_access_token() {
    // §7.1: ath is "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo" for this token.
    assert_eq!(
        ath(RFC_ACCESS_TOKEN),
        "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    );
    let uri = "https://resource.example.org/protectedresource";
    let at = UnixTime(1_562_262_618);
    let with_token = DpopRequest::new("GET", uri).with_access_token(RFC_ACCESS_TOKEN);
    let verified = verifier().verify_at(RFC_RESOURCE_PROOF, &with_token, at).unwrap();
    assert_eq!(verified.thumbprint.to_string(), RFC_JKT);
    let other_token = DpopRequest::new("GET", uri).with_access_token(b"another token");
    assert_eq!(
        verifier().verify_at(RFC_RESOURCE_PROOF, &other_token, at),
        Err(DpopError::AthMismatch)
    );
    // The example is from 2019: today it is long expired.
    assert_eq!(
        verifier().verify_at(RFC_RESOURCE_PROOF, &with_token, NOW),
        Err(DpopError::TooOld)
    );
}

// ---------------------------------------------------------------- valid proofs

#[test]
fn valid_proofs_verify_and_yield_the_rfc_7638_thumbprint() {
    for key in keys() {
        let verified = verify(&key.proof()).unwrap();
        // The thumbprint against an independent computation (tests/dpop_support).
        assert_eq!(verified.thumbprint.to_string(), key.jkt(), "{}", key.alg());
        assert_eq!(verified.algorithm.name(), key.alg());
        assert_eq!(verified.issued_at, NOW);
        assert_eq!(verified.nonce_issued_at, None);
    }
}

#[test]
fn query_fragment_case_and_default_port_do_not_matter() {
    let key = ClientKey::es256();
    let mut c = claims();
    c["htu"] = json!("HTTPS://API.example:443/transfer?signed=query#frag");
    let proof = key.proof_with(&key.header(), &c);
    let request = DpopRequest::new("POST", "https://api.example/transfer?other=query");
    assert!(verifier().verify_at(&proof, &request, NOW).is_ok());
}

#[test]
fn the_window_is_60_seconds_back_and_5_ahead_by_default() {
    let key = ClientKey::ed25519();
    for (offset, ok) in [(-60i64, true), (-61, false), (5, true), (6, false), (0, true)] {
        let mut c = claims();
        c["iat"] = json!(NOW.0.checked_add_signed(offset).unwrap());
        assert_eq!(
            verify(&key.proof_with(&key.header(), &c)).is_ok(),
            ok,
            "iat {offset:+}"
        );
    }
}

#[test]
fn unknown_claims_and_header_hints_are_ignored() {
    let key = ClientKey::es256();
    let mut c = claims();
    c["ext"] = json!({"nested": [1, 2, {"a": null}]});
    let mut h = key.header();
    h["kid"] = json!("never-looked-up");
    h["jwk"]["use"] = json!("sig");
    assert!(verify(&key.proof_with(&h, &c)).is_ok());
}

// ---------------------------------------------------------------- header refusals

#[test]
fn alg_none_is_refused_signed_or_not() {
    let key = ClientKey::es256();
    let mut h = key.header();
    h["alg"] = json!("none");
    let unsecured = format!(
        "{}.{}.",
        B64.encode(h.to_string()),
        B64.encode(claims().to_string())
    );
    assert_eq!(verify(&unsecured), Err(DpopError::UnsupportedAlgorithm));
    assert_eq!(
        verify(&key.proof_with(&h, &claims())),
        Err(DpopError::UnsupportedAlgorithm)
    );
    for spelling in ["None", "NONE", ""] {
        h["alg"] = json!(spelling);
        assert_eq!(
            verify(&key.proof_with(&h, &claims())),
            Err(DpopError::UnsupportedAlgorithm)
        );
    }
}

#[test]
fn hs256_with_a_real_hmac_is_refused() {
    // The classic confusion: a MAC keyed with something public (here the JWK text itself).
    let key = ClientKey::es256();
    let mut h = key.header();
    h["alg"] = json!("HS256");
    let input = format!(
        "{}.{}",
        B64.encode(h.to_string()),
        B64.encode(claims().to_string())
    );
    let mac = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, key.jwk().to_string().as_bytes()),
        input.as_bytes(),
    );
    let forged = format!("{input}.{}", B64.encode(mac.as_ref()));
    assert_eq!(verify(&forged), Err(DpopError::UnsupportedAlgorithm));
}

#[test]
fn rsa_and_other_unsupported_algorithms_are_refused() {
    let key = ClientKey::es256();
    let rsa_jwk = json!({"kty": "RSA", "n": B64.encode([0xc1; 256]), "e": "AQAB"});
    for alg in [
        "RS256", "PS256", "ES384", "ES512", "ES256K", "Ed25519", "es256", "HS512",
    ] {
        let h = json!({"typ": "dpop+jwt", "alg": alg, "jwk": rsa_jwk});
        assert_eq!(
            verify(&key.proof_with(&h, &claims())),
            Err(DpopError::UnsupportedAlgorithm),
            "{alg}"
        );
    }
    // An allowed algorithm with an RSA key.
    let h = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": rsa_jwk});
    assert_eq!(verify(&key.proof_with(&h, &claims())), Err(DpopError::BadJwk));
}

#[test]
fn the_allow_list_is_enforced() {
    let only_es256 = DpopVerifier::new(DpopConfig::default().with_algorithms(&[Algorithm::Es256])).unwrap();
    let proof = ClientKey::ed25519().proof();
    assert_eq!(
        only_es256.verify_at(&proof, &request(), NOW),
        Err(DpopError::UnsupportedAlgorithm)
    );
}

#[test]
fn a_jwk_with_private_members_is_refused() {
    for key in keys() {
        for member in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
            let mut h = key.header();
            h["jwk"][member] = json!(B64.encode([7u8; 32]));
            assert_eq!(
                verify(&key.proof_with(&h, &claims())),
                Err(DpopError::PrivateKey),
                "{member}"
            );
        }
    }
}

#[test]
fn wrong_or_missing_typ_is_refused() {
    let key = ClientKey::ed25519();
    for typ in [
        json!("JWT"),
        json!("jwt"),
        json!("at+jwt"),
        json!("dpop+jwt; charset=x"),
        json!(1),
    ] {
        let mut h = key.header();
        h["typ"] = typ.clone();
        assert_eq!(
            verify(&key.proof_with(&h, &claims())),
            Err(DpopError::WrongType),
            "{typ}"
        );
    }
    let mut h = key.header();
    h.as_object_mut().unwrap().remove("typ");
    assert_eq!(verify(&key.proof_with(&h, &claims())), Err(DpopError::WrongType));
    // Media types are case-insensitive and `application/` may be spelled out (RFC 7515 §4.1.9).
    h["typ"] = json!("application/DPoP+JWT");
    assert!(verify(&key.proof_with(&h, &claims())).is_ok());
}

#[test]
fn a_missing_jwk_or_a_remote_key_is_refused() {
    let key = ClientKey::es256();
    let mut h = key.header();
    h.as_object_mut().unwrap().remove("jwk");
    assert_eq!(verify(&key.proof_with(&h, &claims())), Err(DpopError::MissingJwk));
    h["kid"] = json!("some-key-id");
    assert_eq!(
        verify(&key.proof_with(&h, &claims())),
        Err(DpopError::MissingJwk),
        "kid is never looked up"
    );
    for (member, value) in [
        ("jku", json!("https://attacker.example/jwks")),
        ("x5u", json!("https://attacker.example/cert")),
        ("x5c", json!(["MIIB"])),
        ("crit", json!(["exp"])),
    ] {
        let mut h = key.header();
        h[member] = value;
        assert_eq!(
            verify(&key.proof_with(&h, &claims())),
            Err(DpopError::ForbiddenHeader),
            "{member}"
        );
    }
}

#[test]
fn a_curve_or_key_type_that_does_not_match_alg_is_refused() {
    let ec = ClientKey::es256();
    let ed = ClientKey::ed25519();
    let mut h = ec.header();
    h["jwk"]["crv"] = json!("P-384");
    assert_eq!(verify(&ec.proof_with(&h, &claims())), Err(DpopError::BadJwk));
    h["jwk"]["crv"] = json!("p-256");
    assert_eq!(verify(&ec.proof_with(&h, &claims())), Err(DpopError::BadJwk));
    let mut h = ed.header();
    h["jwk"]["crv"] = json!("X25519");
    assert_eq!(verify(&ed.proof_with(&h, &claims())), Err(DpopError::BadJwk));
    // alg and key swapped between the two families.
    let mut h = ec.header();
    h["alg"] = json!("EdDSA");
    assert_eq!(verify(&ec.proof_with(&h, &claims())), Err(DpopError::BadJwk));
    let mut h = ed.header();
    h["alg"] = json!("ES256");
    assert_eq!(verify(&ed.proof_with(&h, &claims())), Err(DpopError::BadJwk));
}

// ---------------------------------------------------------------- size and encoding

#[test]
fn a_megabyte_header_is_refused_before_decoding_and_cheaply() {
    let key = ClientKey::es256();
    let mut h = key.header();
    h["pad"] = json!("x".repeat(1 << 20));
    let huge = key.proof_with(&h, &claims());
    assert!(huge.len() > 1 << 20);
    let verifier = verifier();
    let started = Instant::now();
    for _ in 0..10_000 {
        assert_eq!(
            verifier.verify_at(&huge, &request(), NOW),
            Err(DpopError::Oversized)
        );
    }
    // One length comparison each: 10,000 refusals of a megabyte take microseconds; decoding
    // even one would take about a millisecond. The bound is loose for a loaded machine.
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    // The cap is inclusive and configurable.
    let exact = "A".repeat(4096);
    assert_eq!(
        verifier.verify_at(&exact, &request(), NOW),
        Err(DpopError::Malformed)
    );
    assert_eq!(
        verifier.verify_at(&format!("{exact}A"), &request(), NOW),
        Err(DpopError::Oversized)
    );
}

#[test]
fn padded_or_non_canonical_base64_is_refused() {
    let key = ClientKey::es256();
    let proof = key.proof();
    let parts: Vec<&str> = proof.split('.').collect();
    // Padded segments (the header's length is not a multiple of 3 in general: force one).
    let padded_sig = B64_PADDED.encode(B64.decode(parts[2]).unwrap()); // 64 bytes → "==" pad
    assert!(padded_sig.ends_with('='));
    let cases = [
        format!("{}.{}.{padded_sig}", parts[0], parts[1]),
        format!("{}=.{}.{}", parts[0], parts[1], parts[2]),
        // Standard alphabet instead of URL-safe.
        format!(
            "{}.{}.{}",
            parts[0],
            parts[1],
            parts[2].replace('-', "+").replace('_', "/")
        ),
        // Whitespace and line breaks (RFC 9449 examples are folded for display only).
        format!("{}.{}.{}", parts[0], parts[1], &parts[2][..40]) + "\n" + &parts[2][40..],
        format!(" {proof}"),
    ];
    for bad in cases {
        if bad != proof {
            assert_eq!(verify(&bad), Err(DpopError::Malformed), "{bad}");
        }
    }
    // Non-canonical: the same signature bytes with non-zero trailing bits in the last
    // character (64 bytes = 85⅓ characters: the last one carries 2 unused bits).
    let sig = parts[2];
    let last = sig.chars().last().unwrap();
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let value = alphabet.find(last).unwrap();
    let tweaked = alphabet.chars().nth(value | 1).unwrap();
    let non_canonical = format!("{}.{}.{}{tweaked}", parts[0], parts[1], &sig[..sig.len() - 1]);
    assert_ne!(non_canonical, proof);
    assert_eq!(verify(&non_canonical), Err(DpopError::Malformed));
}

#[test]
fn trailing_garbage_is_refused() {
    let key = ClientKey::ed25519();
    let proof = key.proof();
    for bad in [
        format!("{proof}."),
        format!("{proof}.AAAA"),
        format!("{proof} "),
        format!("{proof}\0"),
    ] {
        assert_eq!(verify(&bad), Err(DpopError::Malformed), "{bad}");
    }
    // One more character is a canonical 65-byte signature: refused at verification.
    assert_eq!(verify(&format!("{proof}A")), Err(DpopError::BadSignature));
    // Garbage after the JSON inside a signed segment.
    let header = format!("{} x", key.header());
    assert_eq!(
        verify(&key.sign_texts(&header, &claims().to_string())),
        Err(DpopError::BadJson)
    );
    let body = format!("{}{{}}", claims());
    assert_eq!(
        verify(&key.sign_texts(&key.header().to_string(), &body)),
        Err(DpopError::BadJson)
    );
}

#[test]
fn duplicate_json_members_are_refused() {
    let key = ClientKey::es256();
    let jwk = key.jwk().to_string();
    let header = format!(r#"{{"typ":"dpop+jwt","alg":"ES256","alg":"none","jwk":{jwk}}}"#);
    assert_eq!(
        verify(&key.sign_texts(&header, &claims().to_string())),
        Err(DpopError::DuplicateMember)
    );
    let jwk_dup = jwk.replacen('{', r#"{"x":"AAAA","#, 1);
    let header = format!(r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{jwk_dup}}}"#);
    assert_eq!(
        verify(&key.sign_texts(&header, &claims().to_string())),
        Err(DpopError::DuplicateMember)
    );
    // In the signed claims: which `htu` counts must never be a parser's choice.
    let body = format!(
        r#"{{"jti":"{}","htm":"POST","htu":"https://evil.example/","htu":"{URI}","iat":{}}}"#,
        jti(),
        NOW.0
    );
    assert_eq!(
        verify(&key.sign_texts(&key.header().to_string(), &body)),
        Err(DpopError::DuplicateMember)
    );
    let escaped = format!(
        r#"{{"jti":"{}","htm":"POST","htu":"{URI}","\u0069at":1,"iat":{}}}"#,
        jti(),
        NOW.0
    );
    assert_eq!(
        verify(&key.sign_texts(&key.header().to_string(), &escaped)),
        Err(DpopError::DuplicateMember)
    );
}

// ---------------------------------------------------------------- signature

#[test]
fn a_proof_signed_by_another_key_than_its_jwk_is_refused() {
    for (signer, claimed) in [
        (ClientKey::es256(), ClientKey::es256()),
        (ClientKey::ed25519(), ClientKey::ed25519()),
    ] {
        let forged = signer.proof_with(&claimed.header(), &claims());
        assert_eq!(verify(&forged), Err(DpopError::BadSignature), "{}", signer.alg());
    }
}

#[test]
fn tampered_claims_or_signatures_are_refused() {
    let key = ClientKey::es256();
    let proof = key.proof();
    let (input, _) = proof.rsplit_once('.').unwrap();
    let (header, _) = input.split_once('.').unwrap();
    let mut c = claims();
    c["htu"] = json!("https://api.example/other");
    let swapped = format!(
        "{header}.{}.{}",
        B64.encode(c.to_string()),
        proof.rsplit('.').next().unwrap()
    );
    assert_eq!(verify(&swapped), Err(DpopError::BadSignature));
    for len in [0, 63, 65, 72] {
        let bad = format!("{input}.{}", B64.encode(vec![1u8; len]));
        assert_eq!(verify(&bad), Err(DpopError::BadSignature), "{len} bytes");
    }
}

#[test]
fn an_es256_der_signature_is_refused() {
    // JWS ES256 is the fixed r ‖ s form (RFC 7518 §3.4); the ASN.1 DER form of the same
    // signature must not verify.
    let key = ClientKey::es256();
    let proof = key.proof();
    let (input, sig) = proof.rsplit_once('.').unwrap();
    let raw = B64.decode(sig).unwrap();
    let der_int = |bytes: &[u8]| {
        let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|&b| b == 0).collect();
        let mut v = if trimmed.first().is_some_and(|&b| b >= 0x80) {
            vec![0]
        } else {
            vec![]
        };
        v.extend(trimmed);
        let mut out = vec![0x02, u8::try_from(v.len()).unwrap()];
        out.extend(v);
        out
    };
    let (r, s) = (der_int(&raw[..32]), der_int(&raw[32..]));
    let mut der = vec![0x30, u8::try_from(r.len() + s.len()).unwrap()];
    der.extend(r);
    der.extend(s);
    assert_eq!(
        verify(&format!("{input}.{}", B64.encode(der))),
        Err(DpopError::BadSignature)
    );
}

// ---------------------------------------------------------------- claims against the request

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

// ---------------------------------------------------------------- replay

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

// ---------------------------------------------------------------- server nonces

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

// ---------------------------------------------------------------- what the client learns

#[test]
fn the_client_learns_only_two_codes() {
    let all = [
        DpopError::Oversized,
        DpopError::Malformed,
        DpopError::BadJson,
        DpopError::DuplicateMember,
        DpopError::WrongType,
        DpopError::UnsupportedAlgorithm,
        DpopError::ForbiddenHeader,
        DpopError::MissingJwk,
        DpopError::PrivateKey,
        DpopError::BadJwk,
        DpopError::BadSignature,
        DpopError::BadClaim(Claim::Htu),
        DpopError::JtiLength,
        DpopError::MethodMismatch,
        DpopError::UriMismatch,
        DpopError::BadRequestUri,
        DpopError::TooOld,
        DpopError::FromFuture,
        DpopError::AthMissing,
        DpopError::AthMismatch,
        DpopError::Replayed,
        DpopError::ReplayHorizon,
    ];
    let mut codes = std::collections::HashSet::new();
    for e in all {
        assert_eq!(e.client_error(), DpopErrorCode::InvalidDpopProof, "{e:?}");
        assert_eq!(e.to_string(), "invalid DPoP proof");
        assert!(codes.insert(e.code()), "codes are distinct: {}", e.code());
    }
    let nonce = DpopError::UseNonce(NonceError::Expired);
    assert_eq!(nonce.client_error().as_str(), "use_dpop_nonce");
    assert_eq!(nonce.to_string(), "a fresh DPoP nonce is required");
}

// ---------------------------------------------------------------- arbitrary input

mod arbitrary {
    use super::*;
    use proptest::prelude::*;

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
}
