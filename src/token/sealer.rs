//! Minting and opening tokens: the only place claims meet the AEAD.

use core::fmt;
use std::time::Duration;

use zeroize::{Zeroize, Zeroizing};

use subtle::ConstantTimeEq;

use super::aead::{self, KEY_LEN, NONCE_LEN};
use super::claims::{BindingHash, Claims, TokenId};
use super::codec;
use super::wire::{self, Parts, HEADER_LEN, VERSION};
use crate::clock::UnixTime;
use crate::error::{ClaimsError, ConfigError, KeyRingError, Reason, Rejected};
use crate::keys::{KeyId, KeyRing, Keys, RingKey};

/// Longest application context string.
pub(crate) const MAX_CONTEXT_LEN: usize = 255;
/// Largest clock leeway [`Sealer::with_leeway`] accepts.
pub const MAX_LEEWAY: Duration = Duration::from_secs(60);

/// A minted token's text. It is a bearer secret: `Debug` is redacted and the text is
/// zeroized on drop.
///
/// ```
/// # use sealed_session::{token::*, KeyRing, UnixTime};
/// # let sealer = Sealer::new(KeyRing::generate()?, "bank")?;
/// # let now = UnixTime(1_795_000_000);
/// # let deadline = UnixTime(now.0 + 3600);
/// # let claims = Claims {
/// #     session_id: SessionId([7; 16]),
/// #     subject: Some("alice".into()),
/// #     privilege: Privilege::Authenticated,
/// #     epoch: Epoch::containing(deadline),
/// #     issued_at: now,
/// #     expires_at: UnixTime(now.0 + 1800),
/// #     session_deadline: deadline,
/// #     authenticated_at: now,
/// #     binding: BindingHash::default(),
/// #     flags: Flags::default(),
/// #     app_data: Vec::new(),
/// # };
/// let token = sealer.mint(&claims)?;
/// assert_eq!(format!("{token:?}"), "SealedToken(..)");
/// assert!(sealer.open_at(token.expose_secret(), now).is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SealedToken(Zeroizing<String>);

impl SealedToken {
    /// The token text, for a `Set-Cookie` header or a test. Never log it.
    ///
    /// ```
    /// # use sealed_session::{token::*, KeyRing, UnixTime};
    /// # let sealer = Sealer::new(KeyRing::generate()?, "bank")?;
    /// # let now = UnixTime(1_795_000_000);
    /// # let deadline = UnixTime(now.0 + 3600);
    /// # let claims = Claims {
    /// #     session_id: SessionId([7; 16]),
    /// #     subject: Some("alice".into()),
    /// #     privilege: Privilege::Authenticated,
    /// #     epoch: Epoch::containing(deadline),
    /// #     issued_at: now,
    /// #     expires_at: UnixTime(now.0 + 1800),
    /// #     session_deadline: deadline,
    /// #     authenticated_at: now,
    /// #     binding: BindingHash::default(),
    /// #     flags: Flags::default(),
    /// #     app_data: Vec::new(),
    /// # };
    /// let token = sealer.mint(&claims)?;
    /// let text: &str = token.expose_secret();
    /// assert!(text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// Length of the text in characters (base64url is ASCII).
    ///
    /// ```
    /// # use sealed_session::{token::*, KeyRing, UnixTime};
    /// # let sealer = Sealer::new(KeyRing::generate()?, "bank")?;
    /// # let now = UnixTime(1_795_000_000);
    /// # let deadline = UnixTime(now.0 + 3600);
    /// # let claims = Claims {
    /// #     session_id: SessionId([7; 16]),
    /// #     subject: Some("alice".into()),
    /// #     privilege: Privilege::Authenticated,
    /// #     epoch: Epoch::containing(deadline),
    /// #     issued_at: now,
    /// #     expires_at: UnixTime(now.0 + 1800),
    /// #     session_deadline: deadline,
    /// #     authenticated_at: now,
    /// #     binding: BindingHash::default(),
    /// #     flags: Flags::default(),
    /// #     app_data: Vec::new(),
    /// # };
    /// let token = sealer.mint(&claims)?;
    /// assert!(token.len() <= MAX_TOKEN_CHARS);
    /// assert_eq!(token.len(), token.expose_secret().len());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: a token is never empty.
    ///
    /// ```
    /// # use sealed_session::{token::*, KeyRing, UnixTime};
    /// # let sealer = Sealer::new(KeyRing::generate()?, "bank")?;
    /// # let now = UnixTime(1_795_000_000);
    /// # let deadline = UnixTime(now.0 + 3600);
    /// # let claims = Claims {
    /// #     session_id: SessionId([7; 16]),
    /// #     subject: Some("alice".into()),
    /// #     privilege: Privilege::Authenticated,
    /// #     epoch: Epoch::containing(deadline),
    /// #     issued_at: now,
    /// #     expires_at: UnixTime(now.0 + 1800),
    /// #     session_deadline: deadline,
    /// #     authenticated_at: now,
    /// #     binding: BindingHash::default(),
    /// #     flags: Flags::default(),
    /// #     app_data: Vec::new(),
    /// # };
    /// assert!(!sealer.mint(&claims)?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
///
/// ```
/// # use sealed_session::{token::*, KeyRing, UnixTime};
/// # let sealer = Sealer::new(KeyRing::generate()?, "bank")?;
/// # let now = UnixTime(1_795_000_000);
/// # let deadline = UnixTime(now.0 + 3600);
/// # let claims = Claims {
/// #     session_id: SessionId([7; 16]),
/// #     subject: Some("alice".into()),
/// #     privilege: Privilege::Authenticated,
/// #     epoch: Epoch::containing(deadline),
/// #     issued_at: now,
/// #     expires_at: UnixTime(now.0 + 1800),
/// #     session_deadline: deadline,
/// #     authenticated_at: now,
/// #     binding: BindingHash::default(),
/// #     flags: Flags::default(),
/// #     app_data: Vec::new(),
/// # };
/// let opened = sealer.open_at(sealer.mint(&claims)?.expose_secret(), now)?;
/// assert_eq!(Some(opened.key_id), sealer.keys().current().primary_id());
/// assert_eq!(opened.token_id.0[..], opened.nonce[..16]);
/// assert_eq!(opened.claims, claims);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Opened {
    /// The key that sealed it.
    pub key_id: KeyId,
    /// The token's own id (first 16 nonce bytes).
    pub token_id: TokenId,
    /// What it asserts.
    pub claims: Claims,
    /// The token's nonce (the binding value is keyed per token by it).
    pub nonce: [u8; NONCE_LEN],
    /// The sealing key's binding subkey, so checking the binding needs no second lookup.
    binding_key: Zeroizing<[u8; KEY_LEN]>,
}

impl Opened {
    /// Whether `input` (the encoded client context, spec/sessions.md §6) is what this token
    /// was bound to. The recomputed value is compared in constant time.
    pub(crate) fn binding_matches(&self, input: &[u8]) -> bool {
        let actual = binding_value(&self.binding_key, &self.nonce, input);
        bool::from(actual.0.ct_eq(&self.claims.binding.0))
    }
}

impl PartialEq for Opened {
    fn eq(&self, other: &Self) -> bool {
        self.key_id == other.key_id
            && self.token_id == other.token_id
            && self.claims == other.claims
            && self.nonce == other.nonce
    }
}

impl Eq for Opened {}

impl fmt::Debug for Opened {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opened")
            .field("key_id", &self.key_id)
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

/// A freshly sealed token with everything the session layer keeps about it.
pub(crate) struct Sealed {
    pub(crate) token: SealedToken,
    pub(crate) key_id: KeyId,
    pub(crate) token_id: TokenId,
    pub(crate) claims: Claims,
}

/// Seals claims into tokens and opens them, for one application context.
///
/// ```
/// use sealed_session::token::Sealer;
/// use sealed_session::KeyRing;
/// let sealer = Sealer::new(KeyRing::generate()?, "bank")?;
/// # Ok::<(), sealed_session::ConfigError>(())
/// ```
pub struct Sealer {
    keys: Keys,
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
    /// A sealer for the application `context` (e.g. the service name) with its own key
    /// handle. Tokens sealed for one context never open in another: the context's UTF-8
    /// bytes are the rest of the AEAD associated data, compared byte for byte (no case folding,
    /// no Unicode normalisation; spec/format.md §4).
    ///
    /// # Errors
    /// The ring has no primary key, or the context is empty or longer than 255 bytes (UTF-8
    /// bytes, not characters).
    ///
    /// ```
    /// # use sealed_session::{token::Sealer, KeyRing};
    /// let sealer = Sealer::new(KeyRing::generate()?, "bank")?;
    /// # Ok::<(), sealed_session::ConfigError>(())
    /// ```
    pub fn new(keys: KeyRing, context: &str) -> Result<Self, ConfigError> {
        Self::with_keys(Keys::new(keys)?, context)
    }

    /// A sealer reading its keys through a shared handle (the session manager's).
    ///
    /// # Errors
    /// The context is empty or longer than 255 bytes (UTF-8 bytes, not characters).
    ///
    /// ```
    /// # use sealed_session::{token::Sealer, KeyRing, Keys};
    /// let keys = Keys::new(KeyRing::generate()?)?;
    /// let sealer = Sealer::with_keys(keys.clone(), "bank")?;
    /// // The limit counts UTF-8 bytes: 127 two-byte characters fit, 128 do not.
    /// assert!(Sealer::with_keys(keys.clone(), &"é".repeat(127)).is_ok());
    /// assert!(Sealer::with_keys(keys.clone(), &"é".repeat(128)).is_err());
    /// # Ok::<(), sealed_session::ConfigError>(())
    /// ```
    pub fn with_keys(keys: Keys, context: &str) -> Result<Self, ConfigError> {
        if context.is_empty() || context.len() > MAX_CONTEXT_LEN {
            return Err(ConfigError::Context);
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
    ///
    /// ```
    /// # use sealed_session::{token::Sealer, KeyRing};
    /// let sealer = Sealer::new(KeyRing::generate()?, "bank")?.with_leeway(std::time::Duration::from_secs(5))?;
    /// # Ok::<(), sealed_session::ConfigError>(())
    /// ```
    pub fn with_leeway(mut self, leeway: Duration) -> Result<Self, ConfigError> {
        if leeway > MAX_LEEWAY {
            return Err(ConfigError::Leeway);
        }
        self.leeway = leeway;
        Ok(self)
    }

    /// The key handle this sealer reads.
    ///
    /// ```
    /// # use sealed_session::{token::Sealer, KeyRing};
    /// let sealer = Sealer::new(KeyRing::generate()?, "bank")?;
    /// assert!(sealer.keys().current().primary_id().is_some());
    /// # Ok::<(), sealed_session::ConfigError>(())
    /// ```
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The configured leeway.
    ///
    /// ```
    /// # use sealed_session::{token::Sealer, KeyRing};
    /// assert!(Sealer::new(KeyRing::generate()?, "bank")?.leeway().is_zero());
    /// # Ok::<(), sealed_session::ConfigError>(())
    /// ```
    pub fn leeway(&self) -> Duration {
        self.leeway
    }

    /// The application context sealed into every token's AAD (session handles hash it too).
    pub(crate) fn context(&self) -> &[u8] {
        &self.context
    }

    /// Seals `claims` as given (their binding value included) under the primary key with a
    /// fresh random nonce, and so a fresh token id.
    ///
    /// # Errors
    /// Claims out of bounds ([`ConfigError::Claims`]), or a randomness failure.
    ///
    /// ```
    /// # use sealed_session::{token::*, KeyRing, UnixTime};
    /// # let sealer = Sealer::new(KeyRing::generate()?, "bank")?;
    /// # let now = UnixTime(1_795_000_000);
    /// # let deadline = UnixTime(now.0 + 3600);
    /// let claims = Claims {
    ///     session_id: SessionId([7; 16]),
    ///     subject: Some("alice".into()),
    ///     privilege: Privilege::Authenticated,
    ///     epoch: Epoch::containing(deadline),
    ///     issued_at: now,
    ///     expires_at: UnixTime(now.0 + 1800),
    ///     session_deadline: deadline,
    ///     authenticated_at: now,
    ///     binding: BindingHash::default(),
    ///     flags: Flags::default(),
    ///     app_data: Vec::new(),
    /// };
    /// let token = sealer.mint(&claims)?;
    /// assert_eq!(sealer.open_at(token.expose_secret(), now)?.claims, claims);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn mint(&self, claims: &Claims) -> Result<SealedToken, ConfigError> {
        self.mint_with_nonce(claims, fresh_nonce()?)
    }

    /// Seals with a caller-chosen nonce. Reusing a nonce under one key destroys
    /// confidentiality and integrity: this exists only to generate deterministic test vectors.
    ///
    /// # Errors
    /// As [`Sealer::mint`].
    ///
    /// ```
    /// # use sealed_session::{token::*, KeyRing, UnixTime};
    /// # let sealer = Sealer::new(KeyRing::generate()?, "bank")?;
    /// # let now = UnixTime(1_795_000_000);
    /// # let deadline = UnixTime(now.0 + 3600);
    /// # let claims = Claims {
    /// #     session_id: SessionId([7; 16]),
    /// #     subject: Some("alice".into()),
    /// #     privilege: Privilege::Authenticated,
    /// #     epoch: Epoch::containing(deadline),
    /// #     issued_at: now,
    /// #     expires_at: UnixTime(now.0 + 1800),
    /// #     session_deadline: deadline,
    /// #     authenticated_at: now,
    /// #     binding: BindingHash::default(),
    /// #     flags: Flags::default(),
    /// #     app_data: Vec::new(),
    /// # };
    /// let nonce = [9u8; 24];
    /// let a = sealer.dangerous_mint_with_nonce(&claims, nonce)?;
    /// let b = sealer.dangerous_mint_with_nonce(&claims, nonce)?;
    /// assert_eq!(a.expose_secret(), b.expose_secret()); // deterministic: vectors only
    /// assert_eq!(sealer.open_at(a.expose_secret(), now)?.nonce, nonce);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    ///
    /// ```
    /// # use sealed_session::{token::Sealer, KeyRing, Reason, UnixTime};
    /// let sealer = Sealer::new(KeyRing::generate()?, "bank")?;
    /// let token = sealer.dangerous_seal_raw(b"not claims", [9u8; 24])?;
    /// // Genuinely sealed, so only the claims check refuses it.
    /// let refused = sealer.open_at(token.expose_secret(), UnixTime(1_795_000_000)).unwrap_err();
    /// assert_eq!(refused.reason(), Reason::BadClaims);
    /// # Ok::<(), sealed_session::ConfigError>(())
    /// ```
    #[cfg(feature = "test-vectors")]
    pub fn dangerous_seal_raw(
        &self,
        plaintext: &[u8],
        nonce: [u8; NONCE_LEN],
    ) -> Result<SealedToken, ConfigError> {
        let ring = self
            .keys
            .load_at(crate::clock::Clock::now(&crate::clock::SystemClock));
        let key = ring.primary().ok_or(KeyRingError::NoPrimaryKey)?;
        // Longer than any claims (the oversized vectors): a heap buffer of the needed size.
        let mut buf = vec![0u8; HEADER_LEN + NONCE_LEN + plaintext.len() + aead::TAG_LEN];
        let sealed = self.seal_into(&mut buf, key, nonce, |out| {
            out.get_mut(..plaintext.len())
                .ok_or(ClaimsError::TooLong)?
                .copy_from_slice(plaintext);
            Ok(plaintext.len())
        });
        buf.zeroize();
        sealed.map(|(token, _)| token)
    }

    /// Assembles a whole session token: draws the nonce, binds `binding_input` (the encoded
    /// client context, or `None` for an unbound token) under the primary key's binding
    /// subkey and that nonce, and seals.
    pub(crate) fn mint_bound(
        &self,
        claims: Claims,
        binding_input: Option<&[u8]>,
    ) -> Result<Sealed, ConfigError> {
        self.mint_bound_with_nonce(claims, binding_input, fresh_nonce()?)
    }

    /// [`mint_bound`](Self::mint_bound) with a caller-chosen nonce: the one path it, the
    /// vectors' hook (`crate::vectors`) and `SessionManager::dangerous_mint_bound_with_nonce`
    /// take; nothing else chooses a nonce.
    pub(crate) fn mint_bound_with_nonce(
        &self,
        mut claims: Claims,
        binding_input: Option<&[u8]>,
        nonce: [u8; NONCE_LEN],
    ) -> Result<Sealed, ConfigError> {
        let ring = self.keys.load_at(claims.issued_at);
        let key = ring.primary().ok_or(KeyRingError::NoPrimaryKey)?;
        claims.binding = match binding_input {
            Some(input) => binding_value(&key.binding, &nonce, input),
            None => BindingHash::default(),
        };
        let token = self.seal_with(key, nonce, |out| codec::encode(&claims, out))?;
        Ok(Sealed {
            token,
            key_id: key.id,
            token_id: token_id_of(&nonce),
            claims,
        })
    }

    fn mint_with_nonce(&self, claims: &Claims, nonce: [u8; NONCE_LEN]) -> Result<SealedToken, ConfigError> {
        let ring = self.keys.load_at(claims.issued_at);
        let key = ring.primary().ok_or(KeyRingError::NoPrimaryKey)?;
        self.seal_with(key, nonce, |out| codec::encode(claims, out))
    }

    /// The single sealing path: header ‖ nonce ‖ AEAD(plaintext written by `write`) ‖ tag,
    /// assembled in one stack buffer, sealed where the plaintext was written, and encoded
    /// straight into the token's only allocation. `write` returns the plaintext's length.
    fn seal_with(
        &self,
        key: &RingKey,
        nonce: [u8; NONCE_LEN],
        write: impl FnOnce(&mut [u8]) -> Result<usize, ConfigError>,
    ) -> Result<SealedToken, ConfigError> {
        let mut buf = [0u8; wire::MAX_TOKEN_BYTES];
        let sealed = self.seal_into(&mut buf, key, nonce, write);
        // The token's bytes are a bearer secret and the plaintext lay here before sealing:
        // wiped as soon as the text exists. Only the written prefix ever held either (the
        // zeroize crate wipes byte by byte, so the untouched tail is not paid for).
        let written = sealed.as_ref().map_or(buf.len(), |(_, len)| *len);
        if let Some(used) = buf.get_mut(..written) {
            used.zeroize();
        }
        sealed.map(|(token, _)| token)
    }

    fn seal_into(
        &self,
        buf: &mut [u8],
        key: &RingKey,
        nonce: [u8; NONCE_LEN],
        write: impl FnOnce(&mut [u8]) -> Result<usize, ConfigError>,
    ) -> Result<(SealedToken, usize), ConfigError> {
        let header = [VERSION, key.id.0];
        let (head, rest) = buf.split_at_mut(HEADER_LEN);
        head.copy_from_slice(&header);
        let (nonce_out, body) = rest.split_at_mut(NONCE_LEN);
        nonce_out.copy_from_slice(&nonce);
        let n = write(&mut *body)?;
        let (plaintext, after) = body.split_at_mut(n.min(body.len()));
        let aad = self.aad(header);
        // Sealing fails only for a plaintext beyond ring's limit (far larger than any claims).
        let tag =
            aead::seal_in_place(&key.seal, &nonce, &aad, plaintext).map_err(|_| ClaimsError::TooLong)?;
        after
            .get_mut(..tag.len())
            .ok_or(ClaimsError::TooLong)?
            .copy_from_slice(&tag);
        let len = HEADER_LEN + NONCE_LEN + n + tag.len();
        let text = wire::encode(buf.get(..len).unwrap_or_default());
        Ok((SealedToken(Zeroizing::new(text)), len))
    }

    /// Opens `token` as of `now`: every structural, cryptographic and time check.
    ///
    /// # Errors
    /// An opaque [`Rejected`]; its [`Rejected::reason`] is for logs only.
    ///
    /// ```
    /// # use sealed_session::{token::Sealer, KeyRing, Reason, UnixTime};
    /// let sealer = Sealer::new(KeyRing::generate()?, "bank")?;
    /// let refused = sealer.open_at("AQE", UnixTime(1_795_000_000)).unwrap_err();
    /// assert_eq!(refused.reason(), Reason::Malformed);
    /// # Ok::<(), sealed_session::ConfigError>(())
    /// ```
    pub fn open_at(&self, token: &str, now: UnixTime) -> Result<Opened, Rejected> {
        // Decoded, decrypted and decoded again where it lies: the text is read once into this
        // buffer, and nothing of the token is copied after that.
        let mut buf = [0u8; wire::MAX_TOKEN_BYTES];
        let len = wire::decode_into(token, &mut buf)?;
        let parts = Parts::split(buf.get_mut(..len).unwrap_or_default()).ok_or(Reason::Malformed)?;
        let ring = self.keys.load_at(now);
        let [_, key_id] = parts.header;
        let key = ring.opening_key(KeyId(key_id))?;
        let aad = self.aad(parts.header);
        aead::open_in_place(&key.seal, &parts.nonce, &aad, parts.ciphertext, &parts.tag)
            .map_err(|_| Reason::Forged)?;
        let claims = codec::decode(parts.ciphertext).map(codec::ClaimsRef::to_owned_claims);
        parts.ciphertext.zeroize();
        let claims = claims.ok_or(Reason::BadClaims)?;
        self.check_times(&claims, now)?;
        Ok(Opened {
            key_id: key.id,
            token_id: token_id_of(&parts.nonce),
            claims,
            nonce: parts.nonce,
            binding_key: key.binding.clone(),
        })
    }

    /// Issued-at and expiry against `now`, with the leeway (spec/format.md §10).
    pub(crate) fn check_times(&self, claims: &Claims, now: UnixTime) -> Result<(), Reason> {
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
        // `with_keys` caps the context at MAX_CONTEXT_LEN, so it always fits.
        if let Some(ctx) = rest.get_mut(..self.context.len()) {
            ctx.copy_from_slice(&self.context);
        }
        AadBuf {
            buf,
            len: HEADER_LEN + self.context.len(),
        }
    }
}

/// The binding value: the tag of XChaCha20-Poly1305 under the binding subkey and the token's
/// own nonce, with an empty plaintext and `input` as associated data (a nonce-based MAC;
/// every token has a fresh nonce, so a one-time Poly1305 key). spec/sessions.md §6.
fn binding_value(key: &[u8; KEY_LEN], nonce: &[u8; NONCE_LEN], input: &[u8]) -> BindingHash {
    // Sealing an empty message fails only for associated data over ring's limit (far beyond
    // any header); the all-ones fallback then simply does not match.
    BindingHash(aead::seal_in_place(key, nonce, input, &mut []).unwrap_or([0xff; 16]))
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
    crate::token::rng::fill(&mut nonce)?;
    Ok(nonce)
}

pub(crate) fn token_id_of(nonce: &[u8; NONCE_LEN]) -> TokenId {
    let mut id = [0u8; 16];
    id.copy_from_slice(nonce.get(..16).unwrap_or(&[0u8; 16]));
    TokenId(id)
}
