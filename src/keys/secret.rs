//! Master secrets and the per-purpose subkeys derived from them (HKDF-SHA256, RFC 5869):
//! one key per primitive and purpose.

use core::fmt;

use ring::hkdf;
use ring::hmac;
use zeroize::{Zeroize, Zeroizing};

use super::ring::{KeyId, KeyState};
use super::schedule::KeySchedule;
use crate::error::ConfigError;
use crate::token::aead::KEY_LEN;

/// HKDF-SHA256 salt for every subkey (spec/format.md, "Keys").
pub(crate) const HKDF_SALT: &[u8] = b"sealed-session/v1";
/// HKDF info label of the token-sealing subkey.
pub(crate) const LABEL_SEAL: &[u8] = b"sealed-session/v1 seal";
/// HKDF info label of the client-binding subkey.
pub(crate) const LABEL_BINDING: &[u8] = b"sealed-session/v1 binding";
/// HKDF info label of the revocation-snapshot MAC subkey.
pub(crate) const LABEL_SNAPSHOT: &[u8] = b"sealed-session/v1 snapshot";
/// HKDF info label of the HMAC-SHA256 subkey that tags session ids in security events.
pub(crate) const LABEL_SESSION_TAG: &[u8] = b"sealed-session/v1 session-tag";
/// HKDF info label of the HMAC-SHA256 subkey that authenticates revocation-feed records and
/// shared snapshots published to a feed another party can write to (spec/revocation.md,
/// "Redis feed").
pub(crate) const LABEL_FEED: &[u8] = b"sealed-session/v1 feed";
/// HKDF info label of the key of the stateless DPoP server nonces (RFC 9449 §8, spec/dpop.md
/// §5), so a nonce MAC can never be confused with any other use of the ring's secrets.
pub(crate) const LABEL_DPOP_NONCE: &[u8] = b"sealed-session/v1 dpop-nonce";

/// A 32-byte master secret. Not `Clone` (a secret should have one owner), zeroized on drop,
/// redacted in `Debug`.
///
/// ```
/// use sealed_session::SessionKey;
/// let key = SessionKey::from_bytes([7; 32]);
/// assert_eq!(format!("{key:?}"), "SessionKey(..)");
/// ```
pub struct SessionKey(Zeroizing<[u8; KEY_LEN]>);

impl SessionKey {
    /// Draws a new key from the operating system's random generator.
    ///
    /// # Errors
    /// [`ConfigError::Randomness`] when the generator fails.
    ///
    /// ```
    /// use sealed_session::SessionKey;
    /// let (a, b) = (SessionKey::generate()?, SessionKey::generate()?);
    /// assert_ne!(a.dangerous_expose_secret(), b.dangerous_expose_secret());
    /// # Ok::<(), sealed_session::ConfigError>(())
    /// ```
    pub fn generate() -> Result<Self, ConfigError> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        crate::token::rng::fill_from_os(bytes.as_mut())?;
        Ok(Self(bytes))
    }

    /// Wraps existing key bytes (from a secret manager, say). The caller should zeroize its
    /// copy.
    ///
    /// ```
    /// use sealed_session::{KeyId, KeyRing, KeyState, SessionKey};
    /// let bytes = [0x42; 32]; // in production: read from the secret manager
    /// let ring = KeyRing::empty().with_key(KeyId(3), KeyState::Primary, SessionKey::from_bytes(bytes))?;
    /// assert_eq!(ring.primary_id(), Some(KeyId(3)));
    /// # Ok::<(), sealed_session::ConfigError>(())
    /// ```
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The raw secret. The name is loud on purpose: only key-file writers need it.
    ///
    /// ```
    /// use sealed_session::SessionKey;
    /// let key = SessionKey::from_bytes([9; 32]);
    /// assert_eq!(key.dangerous_expose_secret(), &[9; 32]);
    /// ```
    pub fn dangerous_expose_secret(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    fn derive(&self, label: &[u8]) -> Zeroizing<[u8; KEY_LEN]> {
        struct Len;
        impl hkdf::KeyType for Len {
            fn len(&self) -> usize {
                KEY_LEN
            }
        }
        let mut out = Zeroizing::new([0u8; KEY_LEN]);
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, HKDF_SALT).extract(self.0.as_ref());
        // Expanding 32 bytes with a fixed info can only fail for outputs over 255 * 32
        // bytes, so an error here is unreachable; a zero key would then fail every open.
        if let Ok(okm) = prk.expand(&[label], Len) {
            let _ = okm.fill(out.as_mut());
        }
        out
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(..)")
    }
}

/// One key of the ring with its derived subkeys.
pub(crate) struct RingKey {
    pub(crate) id: KeyId,
    pub(crate) state: KeyState,
    pub(crate) secret: SessionKey,
    pub(crate) seal: Zeroizing<[u8; KEY_LEN]>,
    pub(crate) binding: Zeroizing<[u8; KEY_LEN]>,
    // ring does not zeroize its HMAC key schedule; the input we hold is zeroized.
    pub(crate) snapshot: hmac::Key,
    /// Keys the session tags of security events (HMAC-SHA256, one key per primitive).
    pub(crate) session_tag: hmac::Key,
    /// Authenticates revocation-feed records (HMAC-SHA256).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) feed: hmac::Key,
    /// The 32-byte key of the layer's DPoP server nonces (`DpopNonces::new` takes bytes).
    #[cfg_attr(not(feature = "web"), allow(dead_code))]
    pub(crate) dpop_nonce: Zeroizing<[u8; KEY_LEN]>,
    /// Scheduled state changes (activation, retirement).
    pub(crate) schedule: KeySchedule,
}

impl RingKey {
    pub(crate) fn new(id: KeyId, state: KeyState, secret: SessionKey) -> Self {
        let seal = secret.derive(LABEL_SEAL);
        let binding = secret.derive(LABEL_BINDING);
        let mut s = secret.derive(LABEL_SNAPSHOT);
        let snapshot = hmac::Key::new(hmac::HMAC_SHA256, s.as_ref());
        s.zeroize();
        let mut t = secret.derive(LABEL_SESSION_TAG);
        let session_tag = hmac::Key::new(hmac::HMAC_SHA256, t.as_ref());
        t.zeroize();
        let mut f = secret.derive(LABEL_FEED);
        let feed = hmac::Key::new(hmac::HMAC_SHA256, f.as_ref());
        f.zeroize();
        let dpop_nonce = secret.derive(LABEL_DPOP_NONCE);
        Self {
            id,
            state,
            secret,
            seal,
            binding,
            snapshot,
            session_tag,
            feed,
            dpop_nonce,
            schedule: KeySchedule::default(),
        }
    }
}
