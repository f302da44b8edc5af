//! Writes `spec/vectors/dpop.json`: JWK SHA-256 thumbprints (spec/dpop.md §4, RFC 7638) from
//! the key's members through the canonical JSON to the `jkt`, and proofs whose verification by
//! the crate yields them (RFC 9449's ES256 examples verbatim; Ed25519 proofs made here, whose
//! signatures are deterministic).
//!
//! `cargo run --example gen-dpop-vectors --features test-vectors`; CI fails if that changes the
//! file. The canonical JSON and digest are computed here from the spec and must equal what the
//! verifier reports.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use ring::digest::{digest, SHA256};
use ring::signature::{Ed25519KeyPair, KeyPair};
use sealed_session::dpop::{DpopConfig, DpopRequest, DpopVerifier};
use sealed_session::UnixTime;
use serde_json::{json, Value};

// RFC 9449 §4.1 and §7.1 (ES256, the key whose jkt §6.1 gives).
const RFC_TOKEN_PROOF: &str = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg";
const RFC_RESOURCE_PROOF: &str = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiJlMWozVl9iS2ljOC1MQUVCIiwiaHRtIjoiR0VUIiwiaHR1IjoiaHR0cHM6Ly9yZXNvdXJjZS5leGFtcGxlLm9yZy9wcm90ZWN0ZWRyZXNvdXJjZSIsImlhdCI6MTU2MjI2MjYxOCwiYXRoIjoiZlVIeU8ycjJaM0RaNTNFc05yV0JiMHhXWG9hTnk1OUlpS0NBcWtzbVFFbyJ9.2oW9RP35yRqzhrtNP86L-Ey71EOptxRimPPToA1plemAgR6pxHF8y6-yqyVnmcw6Fy1dqd-jfxSYoMxhAJpLjA";
const RFC_ACCESS_TOKEN: &str = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";
// RFC 8037 Appendix A.1: the Ed25519 example key (private seed d, public x).
const RFC8037_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
const RFC8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
const IAT: u64 = 1_795_000_000;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// spec/dpop.md §4: the required members, sorted, no whitespace.
fn canonical(jwk: &Value) -> String {
    match jwk["kty"].as_str().unwrap() {
        "EC" => format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk["x"].as_str().unwrap(),
            jwk["y"].as_str().unwrap()
        ),
        _ => format!(
            r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
            jwk["x"].as_str().unwrap()
        ),
    }
}

fn thumbprint(name: &str, comment: &str, jwk: Value) -> Value {
    let canonical = canonical(&jwk);
    let sha = digest(&SHA256, canonical.as_bytes());
    json!({"name": name, "comment": comment, "jwk": jwk, "canonical": canonical, "sha256": hex(sha.as_ref()),
           "jkt": B64.encode(sha.as_ref())})
}

fn header_jwk(proof: &str) -> Value {
    let header = B64.decode(proof.split('.').next().unwrap()).unwrap();
    serde_json::from_slice::<Value>(&header).unwrap()["jwk"].clone()
}

/// A proof as the crate verifies it, with the thumbprint it reports checked against §4.
fn proof(
    name: &str,
    comment: &str,
    proof: &str,
    (method, uri): (&str, &str),
    now: u64,
    token: Option<&str>,
) -> Value {
    let mut request = DpopRequest::new(method, uri);
    if let Some(t) = token {
        request = request.with_access_token(t.as_bytes());
    }
    let verified = DpopVerifier::new(DpopConfig::default())
        .unwrap()
        .verify_at(proof, &request, UnixTime(now))
        .unwrap();
    let jkt = B64.encode(digest(&SHA256, canonical(&header_jwk(proof)).as_bytes()).as_ref());
    assert_eq!(verified.thumbprint.to_string(), jkt, "{name}");
    json!({"name": name, "comment": comment, "proof": proof, "method": method, "uri": uri, "now": now,
           "access_token": token, "jkt": jkt, "jti": verified.jti, "iat": verified.issued_at.0})
}

/// An EdDSA proof signed here (Ed25519 signatures are deterministic, RFC 8032).
fn ed25519_proof(key: &Ed25519KeyPair, jwk: &str, jti: &str) -> String {
    let header = format!(r#"{{"typ":"dpop+jwt","alg":"EdDSA","jwk":{jwk}}}"#);
    let claims = format!(r#"{{"jti":"{jti}","htm":"POST","htu":"https://api.example/token","iat":{IAT}}}"#);
    let input = format!("{}.{}", B64.encode(header), B64.encode(claims));
    format!("{input}.{}", B64.encode(key.sign(input.as_bytes())))
}

fn main() {
    let rfc8037 = Ed25519KeyPair::from_seed_and_public_key(
        &B64.decode(RFC8037_D).unwrap(),
        &B64.decode(RFC8037_X).unwrap(),
    )
    .unwrap();
    let seed = digest(&SHA256, b"sealed-session test vectors: dpop key 2");
    let second = Ed25519KeyPair::from_seed_unchecked(seed.as_ref()).unwrap();
    let second_x = B64.encode(second.public_key().as_ref());
    let plain = format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{RFC8037_X}"}}"#);
    let shuffled =
        format!(r#"{{"x":"{RFC8037_X}","use":"sig","kid":"k-1","crv":"Ed25519","alg":"EdDSA","kty":"OKP"}}"#);
    let second_jwk = format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{second_x}"}}"#);
    let api = ("POST", "https://api.example/token");
    let thumbprints = vec![
        thumbprint(
            "es256_rfc9449",
            "the key of RFC 9449's examples; its jkt is RFC 9449 §6.1's",
            header_jwk(RFC_TOKEN_PROOF),
        ),
        thumbprint(
            "ed25519_rfc8037",
            "RFC 8037 Appendix A.2's key; its thumbprint is Appendix A.3's",
            serde_json::from_str(&plain).unwrap(),
        ),
        thumbprint(
            "ed25519_extra_members",
            "members in another order plus kid, use and alg: only crv, kty and x enter the canonical JSON",
            serde_json::from_str(&shuffled).unwrap(),
        ),
        thumbprint(
            "ed25519_second_key",
            "an Ed25519 key from a fixed seed",
            serde_json::from_str(&second_jwk).unwrap(),
        ),
    ];
    let proofs = vec![
        proof(
            "rfc9449_token_request",
            "RFC 9449 §4.1 verbatim",
            RFC_TOKEN_PROOF,
            ("POST", "https://server.example.com/token"),
            1_562_262_616,
            None,
        ),
        proof(
            "rfc9449_resource_request",
            "RFC 9449 §7.1 verbatim, with its access token (ath)",
            RFC_RESOURCE_PROOF,
            ("GET", "https://resource.example.org/protectedresource"),
            1_562_262_618,
            Some(RFC_ACCESS_TOKEN),
        ),
        proof(
            "ed25519_rfc8037_key",
            "EdDSA proof with RFC 8037's key",
            &ed25519_proof(&rfc8037, &plain, "vec-1"),
            api,
            IAT,
            None,
        ),
        proof(
            "ed25519_extra_members",
            "the same key, its jwk with extra members in another order: same jkt",
            &ed25519_proof(&rfc8037, &shuffled, "vec-2"),
            api,
            IAT,
            None,
        ),
        proof(
            "ed25519_second_key",
            "EdDSA proof with the fixed-seed key",
            &ed25519_proof(&second, &second_jwk, "vec-3"),
            api,
            IAT,
            None,
        ),
    ];
    assert_eq!(
        thumbprints[0]["jkt"],
        "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
    );
    assert_eq!(
        thumbprints[1]["jkt"],
        "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    );
    let doc = json!({
        "description": "DPoP JWK thumbprints (spec/dpop.md §4) and proofs that yield them. Generated by examples/gen-dpop-vectors.rs; do not edit.",
        "spec": "spec/dpop.md §4",
        "notes": [
            "thumbprint = SHA-256 of the canonical JSON (the required members in lexicographic order, no whitespace); jkt = its base64url without padding",
            "verify each proof with the default configuration at 'now' for 'method' and 'uri' (and 'access_token' when not null): it must be accepted with this jkt, jti and iat",
            "the 32 thumbprint bytes are what a session bound to a DPoP key compares; binding.json's app_value_jwk_thumbprint uses RFC 9449's as a binding application value",
        ],
        "thumbprints": thumbprints,
        "proofs": proofs,
    });
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/spec/vectors/dpop.json");
    let mut text = serde_json::to_string_pretty(&doc).unwrap();
    text.push('\n');
    std::fs::write(path, text).unwrap();
    println!("wrote {path}");
}
