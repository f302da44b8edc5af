//! Real DPoP proofs made with ring, for `tests/dpop/` and `benches/dpop.rs` (one owner of
//! the proof-building code): a client key, its JWK, and compact JWS signing of any header and
//! claims, well-formed or not.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use sealed_session::UnixTime;
use serde_json::{json, Value};

/// 2026-11-18T00:53:20Z.
pub const NOW: UnixTime = UnixTime(1_795_000_000);
pub const METHOD: &str = "POST";
pub const URI: &str = "https://api.example/transfer";

/// A client's signing key.
pub enum ClientKey {
    Es256(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl ClientKey {
    pub fn es256() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        Self::Es256(EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap())
    }

    pub fn ed25519() -> Self {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        Self::Ed25519(Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap())
    }

    pub fn alg(&self) -> &'static str {
        match self {
            Self::Es256(_) => "ES256",
            Self::Ed25519(_) => "EdDSA",
        }
    }

    /// The public JWK, members in the order a client library might write them.
    pub fn jwk(&self) -> Value {
        match self {
            Self::Es256(k) => {
                // SEC 1 uncompressed point: 0x04 ‖ x ‖ y.
                let point = k.public_key().as_ref();
                json!({"kty": "EC", "crv": "P-256", "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..65])})
            }
            Self::Ed25519(k) => {
                json!({"kty": "OKP", "crv": "Ed25519", "x": B64.encode(k.public_key().as_ref())})
            }
        }
    }

    /// The RFC 7638 canonical JWK text, written out independently of the crate.
    pub fn canonical_jwk(&self) -> String {
        let jwk = self.jwk();
        match self {
            Self::Es256(_) => format!(
                r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
                jwk["x"].as_str().unwrap(),
                jwk["y"].as_str().unwrap()
            ),
            Self::Ed25519(_) => format!(
                r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
                jwk["x"].as_str().unwrap()
            ),
        }
    }

    /// SHA-256 of [`canonical_jwk`](Self::canonical_jwk), base64url: the expected `jkt`.
    pub fn jkt(&self) -> String {
        B64.encode(digest::digest(&digest::SHA256, self.canonical_jwk().as_bytes()))
    }

    pub fn header(&self) -> Value {
        json!({"typ": "dpop+jwt", "alg": self.alg(), "jwk": self.jwk()})
    }

    /// The JWS signature of `input` (ES256: the fixed 64-byte r ‖ s).
    pub fn sign(&self, input: &[u8]) -> Vec<u8> {
        match self {
            Self::Es256(k) => k.sign(&SystemRandom::new(), input).unwrap().as_ref().to_vec(),
            Self::Ed25519(k) => k.sign(input).as_ref().to_vec(),
        }
    }

    /// A compact JWS over raw header and claims texts (so tests can write invalid JSON).
    pub fn sign_texts(&self, header: &str, claims: &str) -> String {
        let input = format!("{}.{}", B64.encode(header), B64.encode(claims));
        let signature = B64.encode(self.sign(input.as_bytes()));
        format!("{input}.{signature}")
    }

    pub fn proof_with(&self, header: &Value, claims: &Value) -> String {
        self.sign_texts(&header.to_string(), &claims.to_string())
    }

    /// A valid proof for `POST https://api.example/transfer` at [`NOW`].
    pub fn proof(&self) -> String {
        self.proof_with(&self.header(), &claims())
    }
}

/// Claims for [`METHOD`] [`URI`] at [`NOW`] with a fresh random `jti`.
pub fn claims() -> Value {
    json!({"jti": jti(), "htm": METHOD, "htu": URI, "iat": NOW.0})
}

/// 128 random bits, base64url (RFC 9449 §4.2 asks for at least 96).
pub fn jti() -> String {
    let mut bytes = [0u8; 16];
    SystemRandom::new().fill(&mut bytes).unwrap();
    B64.encode(bytes)
}

/// base64url(SHA-256(token)), written out independently of the crate.
pub fn ath(token: &[u8]) -> String {
    B64.encode(digest::digest(&digest::SHA256, token))
}
