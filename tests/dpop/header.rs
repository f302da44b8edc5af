//! The header, the encoding and the signature: `spec/dpop.md` §3 rows 1 to 11.

use std::time::{Duration, Instant};

use base64::engine::general_purpose::{URL_SAFE as B64_PADDED, URL_SAFE_NO_PAD as B64};
use base64::Engine;
use ring::hmac;
use sealed_session::dpop::*;
use serde_json::json;

use crate::dpop_support::{claims, jti, ClientKey, NOW, URI};
use crate::{keys, request, verifier, verify};

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
