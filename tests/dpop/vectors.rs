//! `spec/vectors/dpop.json`: each thumbprint is recomputed from its JWK's members by
//! spec/dpop.md §4 and equals the `jkt` the verifier reports for the proofs of that key; each
//! proof verifies with its jkt, jti and iat.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use ring::digest::{digest, SHA256};
use sealed_session::dpop::{DpopConfig, DpopRequest, DpopVerifier, JwkThumbprint};
use sealed_session::UnixTime;
use serde_json::Value;

fn load() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/spec/vectors/dpop.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn canonical(jwk: &Value) -> String {
    let s = |m: &str| jwk[m].as_str().unwrap().to_owned();
    match jwk["kty"].as_str().unwrap() {
        "EC" => format!(
            r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
            s("crv"),
            s("x"),
            s("y")
        ),
        _ => format!(r#"{{"crv":"{}","kty":"OKP","x":"{}"}}"#, s("crv"), s("x")),
    }
}

#[test]
fn thumbprints_follow_rfc_7638_and_proofs_yield_them() {
    let doc = load();
    for t in doc["thumbprints"].as_array().unwrap() {
        let name = t["name"].as_str().unwrap();
        let text = canonical(&t["jwk"]);
        assert_eq!(text, t["canonical"].as_str().unwrap(), "{name}");
        let sha = digest(&SHA256, text.as_bytes());
        let hex: String = sha.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, t["sha256"].as_str().unwrap(), "{name}");
        let jkt = t["jkt"].as_str().unwrap();
        assert_eq!(B64.encode(sha.as_ref()), jkt, "{name}");
        assert_eq!(
            JwkThumbprint::from_jkt(jkt).unwrap().as_bytes(),
            sha.as_ref(),
            "{name}"
        );
    }
    let proofs = doc["proofs"].as_array().unwrap();
    assert!(proofs.len() >= 4);
    for p in proofs {
        let name = p["name"].as_str().unwrap();
        let mut request = DpopRequest::new(p["method"].as_str().unwrap(), p["uri"].as_str().unwrap());
        if let Some(token) = p["access_token"].as_str() {
            request = request.with_access_token(token.as_bytes());
        }
        let verifier = DpopVerifier::new(DpopConfig::default()).unwrap();
        let verified = verifier
            .verify_at(
                p["proof"].as_str().unwrap(),
                &request,
                UnixTime(p["now"].as_u64().unwrap()),
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            verified.thumbprint.to_string(),
            p["jkt"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(verified.jti, p["jti"].as_str().unwrap(), "{name}");
        assert_eq!(verified.issued_at.0, p["iat"].as_u64().unwrap(), "{name}");
        // The jkt is the thumbprint of the key in the proof's own header.
        let header: Value = serde_json::from_slice(
            &B64.decode(p["proof"].as_str().unwrap().split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        let own = B64.encode(digest(&SHA256, canonical(&header["jwk"]).as_bytes()).as_ref());
        assert_eq!(own, p["jkt"].as_str().unwrap(), "{name}");
    }
}
