//! The token format alone (spec/format.md): the wire layout and its caps, the claims
//! encoding, sealing and opening. Nothing here knows about sessions, clients or revocation.
//!
//! ```text
//! text ─► UntrustedToken::parse ─► Sealer::open_at ─► Opened { key id, token id, claims }
//!         (length cap, canonical    (key id → ring, XChaCha20-Poly1305 with the context
//!          base64url, version)        in the AAD, canonical claims, issue and expiry times)
//! ```
//!
//! Reviewers and vector tools use this layer directly; applications use
//! [`SessionManager`](crate::SessionManager).
//!
//! ```
//! use sealed_session::token::Sealer;
//! use sealed_session::KeyRing;
//! let sealer = Sealer::new(KeyRing::generate()?, "bank")?;
//! assert!(sealer.open_at("not a token", sealed_session::UnixTime(1_795_000_000)).is_err());
//! # Ok::<(), sealed_session::ConfigError>(())
//! ```

pub(crate) mod claims;
pub(crate) mod codec;
pub(crate) mod rng;
pub(crate) mod sealer;
pub(crate) mod wire;

/// XChaCha20-Poly1305 as HChaCha20 (`chacha20`) plus ring's ChaCha20-Poly1305. Not part of
/// the API: exposed for the equivalence tests, fuzzing and the benches' floor group.
#[doc(hidden)]
pub mod aead;

/// Decodes a claims plaintext as opening does. Not part of the API: for fuzzing and other
/// implementations' cross-checks.
#[doc(hidden)]
pub use claims::decode_claims;

/// Appends the canonical claims encoding (the plaintext a token seals) to `out`. Not part of
/// the API: the benches seal the same bytes with their peers' primitives.
///
/// # Errors
/// Claims out of bounds, as [`Sealer::mint`] refuses them.
#[doc(hidden)]
pub fn encode_claims(claims: &Claims, out: &mut Vec<u8>) -> Result<(), crate::ConfigError> {
    claims.encode_into(out)
}
pub use claims::{
    BindingHash, Claims, Epoch, Flags, Privilege, SessionId, TokenId, EPOCH_SECONDS, MAX_APP_DATA_LEN,
    MAX_SUBJECT_LEN, TIME_ORIGIN,
};
pub use sealer::{Opened, SealedToken, Sealer, MAX_LEEWAY};
pub use wire::{UntrustedToken, MAX_TOKEN_BYTES, MAX_TOKEN_CHARS, VERSION};
