//! Byte layout, base64url and length caps. No cryptography here.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::error::Reason;
use crate::keys::KeyId;
use crate::token::aead::{NONCE_LEN, TAG_LEN};
use crate::token::claims::MAX_CLAIMS_LEN;

/// The only format version this build reads and writes.
pub const VERSION: u8 = 1;
/// Header: version byte, key id byte.
pub(crate) const HEADER_LEN: usize = 2;
/// Bytes around the claims: header, nonce, tag.
pub(crate) const FRAMING_LEN: usize = HEADER_LEN + NONCE_LEN + TAG_LEN;
/// Longest token in bytes.
pub const MAX_TOKEN_BYTES: usize = FRAMING_LEN + MAX_CLAIMS_LEN;
/// Longest token text: base64url without padding of [`MAX_TOKEN_BYTES`].
pub const MAX_TOKEN_CHARS: usize = (MAX_TOKEN_BYTES * 4).div_ceil(3);

/// A token's bytes after the cheap structural checks, before any cryptography. Nothing in
/// it is trusted; only [`Sealer::open_at`](super::Sealer::open_at) turns a token into claims.
///
/// ```
/// use sealed_session::token::UntrustedToken;
/// use sealed_session::Reason;
/// assert_eq!(UntrustedToken::parse("not base64!").err(), Some(Reason::Malformed));
/// assert_eq!(UntrustedToken::parse(&"A".repeat(10_000)).err(), Some(Reason::Oversized));
/// ```
pub struct UntrustedToken {
    buf: [u8; MAX_TOKEN_BYTES],
    len: usize,
}

impl UntrustedToken {
    /// Length cap, canonical base64url, minimum framing, version, in that order.
    ///
    /// # Errors
    /// [`Reason::Oversized`], [`Reason::Malformed`] or [`Reason::UnsupportedVersion`].
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
    /// let untrusted = UntrustedToken::parse(token.expose_secret()).map_err(|r| r.code())?;
    /// assert_eq!(untrusted.version(), VERSION);
    /// // Long enough to be framed, but version 2.
    /// let v2 = format!("Ag{}", "A".repeat(80));
    /// assert_eq!(UntrustedToken::parse(&v2).err(), Some(sealed_session::Reason::UnsupportedVersion));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse(text: &str) -> Result<Self, Reason> {
        let mut buf = [0u8; MAX_TOKEN_BYTES];
        let len = decode_into(text, &mut buf)?;
        Ok(Self { buf, len })
    }

    /// The bytes of the token.
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
    /// let untrusted = UntrustedToken::parse(token.expose_secret()).map_err(|r| r.code())?;
    /// assert!(untrusted.as_bytes().len() <= MAX_TOKEN_BYTES);
    /// assert_eq!(untrusted.as_bytes().first(), Some(&VERSION));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    /// Format version byte.
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
    /// assert_eq!(UntrustedToken::parse(token.expose_secret()).map_err(|r| r.code())?.version(), VERSION);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn version(&self) -> u8 {
        self.buf.first().copied().unwrap_or(0)
    }

    /// Key id byte (not yet known to be genuine).
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
    /// let untrusted = UntrustedToken::parse(token.expose_secret()).map_err(|r| r.code())?;
    /// assert_eq!(Some(untrusted.key_id()), sealer.keys().current().primary_id());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn key_id(&self) -> KeyId {
        KeyId(self.buf.get(1).copied().unwrap_or(0))
    }
}

/// [`UntrustedToken::parse`]'s checks, decoding into the caller's buffer (opening decodes
/// where it then decrypts: no copy of the token). Returns the token's length in bytes.
pub(crate) fn decode_into(text: &str, buf: &mut [u8; MAX_TOKEN_BYTES]) -> Result<usize, Reason> {
    if text.len() > MAX_TOKEN_CHARS {
        return Err(Reason::Oversized);
    }
    // The engine rejects padding and non-zero trailing bits, so every byte string has
    // exactly one accepted spelling.
    let len = URL_SAFE_NO_PAD
        .decode_slice(text.as_bytes(), buf)
        .map_err(|_| Reason::Malformed)?;
    if len < FRAMING_LEN {
        return Err(Reason::Malformed);
    }
    if buf.first() != Some(&VERSION) {
        return Err(Reason::UnsupportedVersion);
    }
    Ok(len)
}

impl<'a> Parts<'a> {
    /// Splits a token's bytes into header, nonce, ciphertext and tag (`None` when shorter
    /// than the framing, which `decode_into` excludes).
    pub(crate) fn split(bytes: &'a mut [u8]) -> Option<Self> {
        let (header, rest) = bytes.split_at_mut_checked(HEADER_LEN)?;
        let (nonce, rest) = rest.split_at_mut_checked(NONCE_LEN)?;
        let ct_len = rest.len().checked_sub(TAG_LEN)?;
        let (ciphertext, tag) = rest.split_at_mut(ct_len);
        Some(Parts {
            header: <[u8; HEADER_LEN]>::try_from(&*header).ok()?,
            nonce: <[u8; NONCE_LEN]>::try_from(&*nonce).ok()?,
            ciphertext,
            tag: <[u8; TAG_LEN]>::try_from(&*tag).ok()?,
        })
    }
}

pub(crate) struct Parts<'a> {
    pub(crate) header: [u8; HEADER_LEN],
    pub(crate) nonce: [u8; NONCE_LEN],
    pub(crate) ciphertext: &'a mut [u8],
    pub(crate) tag: [u8; TAG_LEN],
}

/// base64url without padding.
pub(crate) fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}
