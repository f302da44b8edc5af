//! DPoP proof verification (RFC 9449), framework-free: strings in, a verified key thumbprint
//! out. Feature `dpop` (enabled by `web`).
//!
//! ```text
//!  DPoP header ─► UntrustedProof::parse ─────────► verify_signature ─► Claims ─────────────► replay cache ─► VerifiedProof
//!   (&str)        (length cap first, 3 canonical     (ES256 r‖s or      (jti, htm, htu,        (key, htu, jti;   (thumbprint = jkt,
//!                  base64url segments, unique-name    Ed25519, key       iat window, ath,       fixed memory)     jti, iat)
//!                  JSON, typ, alg allow-list,         from jwk only)     server nonce)
//!                  no private or remote key)
//! ```
//!
//! The exact checks, their order, the thumbprint, the nonce format and the replay bound are
//! specified in `spec/dpop.md` (also [`crate::spec::dpop`]). What stays with the integrator:
//! refusing a request with several `DPoP` headers, comparing
//! [`VerifiedProof::thumbprint`] with the key the session or access token is bound to, and
//! the HTTP answers (`WWW-Authenticate: DPoP error="…", algs="…"`, `DPoP-Nonce`).
//!
//! Every refusal is a [`DpopError`] with a precise reason for logs; a client learns only
//! [`DpopErrorCode`]: `invalid_dpop_proof`, or `use_dpop_nonce` when the server's nonce is
//! missing or stale.
//!
//! ```
//! # use ring::rand::SystemRandom;
//! # use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
//! # use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
//! # let rng = SystemRandom::new();
//! # let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)?;
//! # let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)?;
//! # let (x, y) = key.public_key().as_ref()[1..].split_at(32);
//! # let jwk = format!(r#"{{"kty":"EC","crv":"P-256","x":"{}","y":"{}"}}"#, B64.encode(x), B64.encode(y));
//! # let sign = |claims: String| -> Result<String, ring::error::Unspecified> {
//! #     let input = format!("{}.{}", B64.encode(format!(r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{jwk}}}"#)), B64.encode(claims));
//! #     Ok(format!("{input}.{}", B64.encode(key.sign(&rng, input.as_bytes())?)))
//! # };
//! use sealed_session::dpop::{DpopConfig, DpopErrorCode, DpopNonces, DpopRequest, DpopVerifier};
//! use sealed_session::UnixTime;
//!
//! let verifier = DpopVerifier::new(DpopConfig::default())?;
//! let nonces = DpopNonces::new(&[0x5a; 32]); // an HKDF subkey in production
//! let now = UnixTime(1_795_000_000);
//! let token = b"an access token";
//! let request = DpopRequest::new("POST", "https://api.example/transfer")
//!     .with_access_token(token)
//!     .requiring_nonce(&nonces);
//!
//! // The client's first proof has no nonce: answer use_dpop_nonce with a DPoP-Nonce header.
//! let ath = B64.encode(ring::digest::digest(&ring::digest::SHA256, token));
//! let first = sign(format!(r#"{{"jti":"a1","htm":"POST","htu":"https://api.example/transfer","iat":{},"ath":"{ath}"}}"#, now.0))?;
//! let refused = verifier.verify_at(&first, &request, now).unwrap_err();
//! assert_eq!(refused.client_error(), DpopErrorCode::UseDpopNonce);
//! let nonce = nonces.issue_at(now);
//!
//! // It retries with the nonce.
//! let second = sign(format!(
//!     r#"{{"jti":"a2","htm":"POST","htu":"https://api.example/transfer","iat":{},"ath":"{ath}","nonce":"{nonce}"}}"#,
//!     now.0
//! ))?;
//! let verified = verifier.verify_at(&second, &request, now)?;
//! println!("bind the session to jkt {}", verified.thumbprint);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod claims;
mod config;
mod error;
mod htu;
mod json;
mod jwk;
mod nonce;
mod proof;
mod replay;
mod thumbprint;
mod verifier;

pub use config::{Algorithm, DpopConfig};
pub use error::{Claim, DpopConfigError, DpopError, DpopErrorCode, NonceError};
pub use nonce::DpopNonces;
pub use thumbprint::JwkThumbprint;
pub use verifier::{DpopRequest, DpopVerifier, VerifiedProof};
