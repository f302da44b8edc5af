//! Minting and opening tokens: the only place claims meet the AEAD.

use core::fmt;
use std::time::Duration;

use zeroize::{Zeroize, Zeroizing};

use crate::claims::{Claims, TokenId};
use crate::clock::UnixTime;
use crate::error::{ConfigError, Reason, Rejected};
use crate::keys::{KeyId, KeyRing, RingKey};
use crate::wire::{self, UntrustedToken, HEADER_LEN, VERSION};
use crate::xchacha::{self, NONCE_LEN};

/// Longest application context string.
pub const MAX_CONTEXT_LEN: usize = 255;
/// Largest clock leeway [`Sealer::with_leeway`] accepts.
pub const MAX_LEEWAY: Duration = Duration::from_secs(60);

/// A minted token's text. It is a bearer secret: `Debug` is redacted and the text is
/// zeroized on drop.
pub struct SealedToken(Zeroizing<String>);

impl SealedToken {
    /// The token text, for a `Set-Cookie` header or a test. Never log it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// Length of the text in characters (base64url is ASCII).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: a token is never empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SealedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealedToken(..)")
    }
}

/// A token that opened and passed the time checks. `Debug` leaves out the nonce (it is the
/// token id and keys the binding value).
#[derive(Clone, PartialEq, Eq)]
pub struct Opened {
    /// The key that sealed it.
    pub key_id: KeyId,
    /// The token's own id (first 16 nonce bytes).
    pub token_id: TokenId,
    /// What it asserts.
    pub claims: Claims,
    /// The token's nonce (the binding MAC is keyed per token by it).
    pub nonce: [u8; NONCE_LEN],
}

impl fmt::Debug for Opened {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opened")
            .field("key_id", &self.key_id)
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

/// Seals claims into tokens and opens them, for one application context.
///
/// ```
/// use sealed_session::{KeyRing, Sealer};
/// let sealer = Sealer::new(KeyRing::generate()?, "bank")?;
/// # Ok::<(), sealed_session::ConfigError>(())
/// ```
pub struct Sealer {
    keys: KeyRing,
    context: Vec<u8>,
    leeway: Duration,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer")
            .field("keys", &self.keys)
            .field("leeway", &self.leeway)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    /// A sealer for the application `context` (e.g. the service name). Tokens sealed for one
    /// context never open in another: the context is part of the AEAD associated data.
    ///
    /// # Errors
    /// The ring has no primary key, or the context is empty or longer than 255 bytes.
    pub fn new(keys: KeyRing, context: &str) -> Result<Self, ConfigError> {
        keys.validate()?;
        if context.is_empty() || context.len() > MAX_CONTEXT_LEN {
            return Err(ConfigError::Setting {
                setting: "context",
                problem: "must be 1 to 255 bytes",
            });
        }
        Ok(Self {
            keys,
            context: context.as_bytes().to_vec(),
            leeway: Duration::ZERO,
        })
    }

    /// Tolerated clock skew between nodes for the issued-at and expiry checks.
    ///
    /// # Errors
    /// More than [`MAX_LEEWAY`] (60 s): a larger leeway silently extends every session.
    pub fn with_leeway(mut self, leeway: Duration) -> Result<Self, ConfigError> {
        if leeway > MAX_LEEWAY {
            return Err(ConfigError::Setting {
                setting: "leeway",
                problem: "at most 60 seconds",
            });
        }
        self.leeway = leeway;
        Ok(self)
    }

    /// The key ring.
    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    /// The key ring, to promote or retire keys.
    pub fn keys_mut(&mut self) -> &mut KeyRing {
        &mut self.keys
    }

    /// The application context.
    pub(crate) fn context_str(&self) -> &str {
        core::str::from_utf8(&self.context).unwrap_or("")
    }

    /// The configured leeway.
    pub fn leeway(&self) -> Duration {
        self.leeway
    }

    /// Seals `claims` under the primary key with a fresh random nonce (and so a fresh token id).
    ///
    /// # Errors
    /// Claims out of bounds, no primary key, or a randomness failure.
    pub fn mint(&self, claims: &Claims) -> Result<SealedToken, ConfigError> {
        self.mint_with_nonce(claims, fresh_nonce()?)
    }

    /// Seals with a caller-chosen nonce. Reusing a nonce under one key destroys
    /// confidentiality and integrity: this exists only to generate deterministic test vectors.
    ///
    /// # Errors
    /// As [`Sealer::mint`].
    #[cfg(feature = "test-vectors")]
    pub fn dangerous_mint_with_nonce(
        &self,
        claims: &Claims,
        nonce: [u8; NONCE_LEN],
    ) -> Result<SealedToken, ConfigError> {
        self.mint_with_nonce(claims, nonce)
    }

    /// Seals arbitrary `plaintext` (not necessarily a claims encoding, and not length-capped)
    /// under the primary key with a caller-chosen nonce. It exists only so test vectors can
    /// contain genuinely sealed tokens that opening must refuse (bad claims, oversized).
    ///
    /// # Errors
    /// No primary key.
    #[cfg(feature = "test-vectors")]
    pub fn dangerous_seal_raw(
        &self,
        plaintext: &[u8],
        nonce: [u8; NONCE_LEN],
    ) -> Result<SealedToken, ConfigError> {
        self.seal_with(nonce, |out| {
            out.extend_from_slice(plaintext);
            Ok(())
        })
    }

    pub(crate) fn mint_with_nonce(
        &self,
        claims: &Claims,
        nonce: [u8; NONCE_LEN],
    ) -> Result<SealedToken, ConfigError> {
        self.seal_with(nonce, |out| claims.encode_into(out))
    }

    /// The single sealing path: header ‖ nonce ‖ AEAD(plaintext appended by `write`) ‖ tag.
    fn seal_with(
        &self,
        nonce: [u8; NONCE_LEN],
        write: impl FnOnce(&mut Vec<u8>) -> Result<(), ConfigError>,
    ) -> Result<SealedToken, ConfigError> {
        let key = self
            .keys
            .primary()
            .ok_or(ConfigError::KeyRing("no primary key"))?;
        let header = [VERSION, key.id.0];
        let mut bytes = Vec::with_capacity(wire::MAX_TOKEN_BYTES);
        bytes.extend_from_slice(&header);
        bytes.extend_from_slice(&nonce);
        write(&mut bytes)?;
        let aad = self.aad(header);
        let plaintext = bytes
            .get_mut(HEADER_LEN + NONCE_LEN..)
            .ok_or(ConfigError::Claims("framing"))?;
        let tag = xchacha::seal_in_place(&key.seal, &nonce, &aad, plaintext)
            .map_err(|_| ConfigError::Claims("sealing failed"))?;
        bytes.extend_from_slice(&tag);
        let text = wire::encode(&bytes);
        // Only the written bytes ever held plaintext; also wiping the never-written spare
        // capacity (`Vec::zeroize`, byte by byte) cost over 100 ns per mint.
        bytes.as_mut_slice().zeroize();
        Ok(SealedToken(Zeroizing::new(text)))
    }

    /// Opens `token` as of `now`: every structural, cryptographic and time check.
    ///
    /// # Errors
    /// An opaque [`Rejected`]; its [`Rejected::reason`] is for logs only.
    pub fn open_at(&self, token: &str, now: UnixTime) -> Result<Opened, Rejected> {
        let mut untrusted = UntrustedToken::parse(token)?;
        self.open_parsed(&mut untrusted, now)
    }

    /// Opens an already parsed token as of `now`.
    ///
    /// # Errors
    /// An opaque [`Rejected`]; its [`Rejected::reason`] is for logs only.
    pub fn open_untrusted_at(&self, mut token: UntrustedToken, now: UnixTime) -> Result<Opened, Rejected> {
        self.open_parsed(&mut token, now)
    }

    /// Opens in place: the 429-byte buffer is decrypted where it lies, never moved.
    fn open_parsed(&self, token: &mut UntrustedToken, now: UnixTime) -> Result<Opened, Rejected> {
        let key = self.keys.opening_key(token.key_id())?;
        let parts = token.parts_mut().ok_or(Reason::Malformed)?;
        let aad = self.aad(parts.header);
        xchacha::open_in_place(&key.seal, &parts.nonce, &aad, parts.ciphertext, &parts.tag)
            .map_err(|_| Reason::Forged)?;
        let claims = Claims::decode(parts.ciphertext);
        parts.ciphertext.zeroize();
        let claims = claims?;
        self.check_times(&claims, now)?;
        Ok(Opened {
            key_id: key.id,
            token_id: token_id_of(&parts.nonce),
            claims,
            nonce: parts.nonce,
        })
    }

    /// The key-ring entry that sealed a token (for binding and snapshot subkeys).
    pub(crate) fn ring_key(&self, id: KeyId) -> Option<&RingKey> {
        self.keys.get(id)
    }

    fn check_times(&self, claims: &Claims, now: UnixTime) -> Result<(), Reason> {
        if claims.issued_at > now.saturating_add(self.leeway) {
            return Err(Reason::NotYetValid);
        }
        if now >= claims.expires_at.saturating_add(self.leeway) {
            return Err(Reason::Expired);
        }
        Ok(())
    }

    fn aad(&self, header: [u8; HEADER_LEN]) -> AadBuf {
        let mut buf = [0u8; HEADER_LEN + MAX_CONTEXT_LEN];
        let (head, rest) = buf.split_at_mut(HEADER_LEN);
        head.copy_from_slice(&header);
        // `new` caps the context at MAX_CONTEXT_LEN, so it always fits.
        if let Some(ctx) = rest.get_mut(..self.context.len()) {
            ctx.copy_from_slice(&self.context);
        }
        AadBuf {
            buf,
            len: HEADER_LEN + self.context.len(),
        }
    }
}

/// The AEAD associated data (header ‖ context) on the stack: no allocation per token.
struct AadBuf {
    buf: [u8; HEADER_LEN + MAX_CONTEXT_LEN],
    len: usize,
}

impl core::ops::Deref for AadBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

/// A random nonce for a new token (it is also the token's id and its binding MAC's nonce).
pub(crate) fn fresh_nonce() -> Result<[u8; NONCE_LEN], ConfigError> {
    let mut nonce = [0u8; NONCE_LEN];
    crate::rng::fill(&mut nonce)?;
    Ok(nonce)
}

pub(crate) fn token_id_of(nonce: &[u8; NONCE_LEN]) -> TokenId {
    let mut id = [0u8; 16];
    id.copy_from_slice(nonce.get(..16).unwrap_or(&[0u8; 16]));
    TokenId(id)
}
