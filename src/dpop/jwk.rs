//! The `jwk` header member: a public P-256 key for ES256 (RFC 7518 §6.2.1) or a public
//! Ed25519 key for EdDSA (RFC 8037 §2), nothing else; its thumbprint; signature checks.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED, ED25519};
use serde_json::Value;

use super::config::Algorithm;
use super::error::DpopError;
use super::json::Object;
use super::thumbprint::JwkThumbprint;

/// Members only a private or symmetric key has: EC and OKP `d` (RFC 7518 §6.2.2, RFC 8037
/// §2), RSA `p`, `q`, `dp`, `dq`, `qi`, `oth` (RFC 7518 §6.3.2) and the octet key `k` (RFC
/// 7518 §6.4.1). RFC 9449 §4.3 check 7: the `jwk` must not contain a private key.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// A public key taken from a proof's `jwk`, consistent with its `alg`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PublicJwk {
    /// P-256 affine coordinates, big-endian (RFC 7518 §6.2.1.2, §6.2.1.3).
    P256 { x: [u8; 32], y: [u8; 32] },
    /// The 32-byte Ed25519 public key (RFC 8037 §2).
    Ed25519 { x: [u8; 32] },
}

impl PublicJwk {
    /// Private members first (a private key is the worse mistake to let through), then
    /// `kty` and `crv` against `alg`, then the coordinates. Other members (`kid`, `use`,
    /// `alg`, …) are ignored, as RFC 7517 §4 allows.
    pub(crate) fn parse(jwk: &Value, alg: Algorithm) -> Result<Self, DpopError> {
        let obj = jwk.as_object().ok_or(DpopError::BadJwk)?;
        if PRIVATE_MEMBERS.iter().any(|m| obj.contains_key(*m)) {
            return Err(DpopError::PrivateKey);
        }
        let text = |name| obj.get(name).and_then(Value::as_str);
        match (alg, text("kty"), text("crv")) {
            (Algorithm::Es256, Some("EC"), Some("P-256")) => Ok(Self::P256 {
                x: coordinate(obj, "x")?,
                y: coordinate(obj, "y")?,
            }),
            // An OKP key has no `y`; one that does is not a key we can name a thumbprint of.
            (Algorithm::EdDsa, Some("OKP"), Some("Ed25519")) if !obj.contains_key("y") => Ok(Self::Ed25519 {
                x: coordinate(obj, "x")?,
            }),
            _ => Err(DpopError::BadJwk),
        }
    }

    /// RFC 7638 §3.2: the required members only (EC: `crv`, `kty`, `x`, `y`, RFC 7638 §3.2.1;
    /// OKP: `crv`, `kty`, `x`, RFC 8037 §2), in lexicographic order, no whitespace. Every value
    /// is fixed ASCII or base64url, so nothing needs escaping (§3.3); the coordinates were
    /// decoded canonically, so re-encoding gives back the client's exact text.
    pub(crate) fn thumbprint(&self) -> JwkThumbprint {
        let text = match self {
            Self::P256 { x, y } => format!(
                r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
                URL_SAFE_NO_PAD.encode(x),
                URL_SAFE_NO_PAD.encode(y)
            ),
            Self::Ed25519 { x } => format!(
                r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
                URL_SAFE_NO_PAD.encode(x)
            ),
        };
        JwkThumbprint::of_canonical_jwk(text.as_bytes())
    }

    /// Verifies a JWS signature over `message` (RFC 7515 §5.2 step 8). ES256 signatures are
    /// the fixed 64-byte `r ‖ s` form (RFC 7518 §3.4), never DER; ring checks that the point
    /// is on the curve and the signature length.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), DpopError> {
        let checked = match self {
            Self::P256 { x, y } => {
                // SEC 1 §2.3.3 uncompressed point: 0x04 ‖ x ‖ y.
                let mut point = Vec::with_capacity(65);
                point.push(0x04);
                point.extend_from_slice(x);
                point.extend_from_slice(y);
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).verify(message, signature)
            }
            Self::Ed25519 { x } => UnparsedPublicKey::new(&ED25519, x).verify(message, signature),
        };
        checked.map_err(|_| DpopError::BadSignature)
    }
}

/// A coordinate: exactly 43 canonical base64url characters, 32 bytes (RFC 7518 §6.2.1.2
/// requires the full field size for P-256, RFC 8037 §2 the 32-byte key).
fn coordinate(obj: &Object, name: &str) -> Result<[u8; 32], DpopError> {
    let text = obj.get(name).and_then(Value::as_str).ok_or(DpopError::BadJwk)?;
    let mut bytes = [0u8; 32];
    match URL_SAFE_NO_PAD.decode_slice(text.as_bytes(), &mut bytes) {
        Ok(32) if text.len() == 43 => Ok(bytes),
        _ => Err(DpopError::BadJwk),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;
    use serde_json::json;

    // RFC 9449 §4.1: the example proof's key, and its `jkt` from §6.1.
    const X: &str = "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs";
    const Y: &str = "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA";
    const JKT: &str = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";

    #[test]
    fn rfc_9449_example_key_has_the_published_thumbprint() {
        // Member order and extra members do not change the thumbprint (RFC 7638 §3.2).
        let jwk = json!({"kid": "k1", "y": Y, "x": X, "crv": "P-256", "kty": "EC", "use": "sig"});
        let key = PublicJwk::parse(&jwk, Algorithm::Es256).unwrap();
        assert_eq!(key.thumbprint().to_string(), JKT);
    }

    #[test]
    fn rfc_8037_key_parses_as_okp() {
        // RFC 8037 Appendix A.2 public key; A.3 thumbprint.
        let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
        let key = PublicJwk::parse(&jwk, Algorithm::EdDsa).unwrap();
        assert_eq!(
            key.thumbprint().to_string(),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn private_members_are_refused_before_anything_else() {
        for member in PRIVATE_MEMBERS {
            let mut jwk = json!({"kty": "EC", "crv": "P-256", "x": X, "y": Y});
            jwk[member] = json!(null);
            assert_eq!(
                PublicJwk::parse(&jwk, Algorithm::Es256),
                Err(DpopError::PrivateKey),
                "{member}"
            );
        }
    }

    #[test]
    fn key_type_must_match_the_algorithm() {
        let ed_x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
        let cases = [
            (
                json!({"kty": "EC", "crv": "P-384", "x": X, "y": Y}),
                Algorithm::Es256,
            ),
            (
                json!({"kty": "EC", "crv": "secp256k1", "x": X, "y": Y}),
                Algorithm::Es256,
            ),
            (
                json!({"kty": "OKP", "crv": "Ed25519", "x": ed_x}),
                Algorithm::Es256,
            ),
            (
                json!({"kty": "EC", "crv": "P-256", "x": X, "y": Y}),
                Algorithm::EdDsa,
            ),
            (
                json!({"kty": "OKP", "crv": "X25519", "x": ed_x}),
                Algorithm::EdDsa,
            ),
            (
                json!({"kty": "OKP", "crv": "Ed25519", "x": ed_x, "y": Y}),
                Algorithm::EdDsa,
            ),
            (json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"}), Algorithm::Es256),
            (json!({"kty": "EC", "crv": "P-256", "x": X}), Algorithm::Es256),
            (
                json!({"kty": "EC", "crv": "P-256", "x": X, "y": 7}),
                Algorithm::Es256,
            ),
            (
                json!({"kty": "EC", "crv": "P-256", "x": &X[1..], "y": Y}),
                Algorithm::Es256,
            ),
            (
                json!({"kty": "EC", "crv": "P-256", "x": format!("{X}="), "y": Y}),
                Algorithm::Es256,
            ),
            (
                json!({"kty": "EC", "crv": "P-256", "x": format!("AA{X}"), "y": Y}),
                Algorithm::Es256,
            ),
            (json!("EC"), Algorithm::Es256),
        ];
        for (jwk, alg) in cases {
            assert_eq!(
                PublicJwk::parse(&jwk, alg),
                Err(DpopError::BadJwk),
                "{jwk} {alg:?}"
            );
        }
    }

    #[test]
    fn a_point_off_the_curve_never_verifies() {
        let key = PublicJwk::P256 {
            x: [1; 32],
            y: [2; 32],
        };
        assert_eq!(key.verify(b"m", &[0; 64]), Err(DpopError::BadSignature));
    }
}
