//! DPoP proofs (RFC 9449) made with real keys, verified end to end: the RFC's own examples
//! and valid proofs here; every refusal of `spec/dpop.md` §3 with its reason in `header`
//! and `claims`; replay under load; nonces; arbitrary input.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

#[path = "../dpop_support/mod.rs"]
mod dpop_support;

mod arbitrary;
mod claims;
mod header;
mod nonce;
mod replay;
mod vectors;

use dpop_support::{ath, claims, ClientKey, METHOD, NOW, URI};
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

// ---------------------------------------------------------------- what the client learns

#[test]
fn the_client_learns_only_two_codes() {
    let all = [
        DpopError::HeaderCount,
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
