//! Stateless server nonces (RFC 9449 §8, §9): any node holding the nonce key checks any
//! node's nonce, with no shared state.
//!
//! ```text
//! nonce = base64url-no-pad(issued_at ‖ tag)              32 characters
//! issued_at = u64 big-endian seconds since the Unix epoch   8 bytes
//! tag = HMAC-SHA256(key, "sealed-session/v1 dpop-nonce" ‖ issued_at)[0..16]
//! ```
//!
//! The 16-byte tag is half the HMAC output, the shortest RFC 2104 §5 recommends. The label
//! keeps these tags apart from any other use of a key (the integrator derives one per purpose
//! with HKDF, but a misuse should still not make a nonce out of something else).

use core::fmt;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::hmac;
use subtle::ConstantTimeEq;

use super::error::{DpopConfigError, NonceError};
use crate::clock::UnixTime;

/// The MAC input's prefix (domain separation).
const LABEL: &[u8] = b"sealed-session/v1 dpop-nonce";
const TAG_LEN: usize = 16;
const NONCE_BYTES: usize = 8 + TAG_LEN;
/// base64url of 24 bytes, no padding needed.
const NONCE_CHARS: usize = NONCE_BYTES / 3 * 4;
/// A nonce issued up to this far in another node's future is accepted (clock skew between
/// the servers of one deployment, not clients).
const SERVER_SKEW: u64 = 5;

/// Issues and checks server nonces under a 32-byte key (and optionally the previous key, so a
/// key rotation does not refuse nonces issued just before it). Not `Clone`: one owner, share
/// it behind an `Arc`.
///
/// ```
/// use sealed_session::dpop::DpopNonces;
/// use sealed_session::UnixTime;
/// let key = [7u8; 32]; // in production: an HKDF subkey of the session key ring
/// let nonces = DpopNonces::new(&key);
/// let nonce = nonces.issue_at(UnixTime(1_795_000_000));
/// assert_eq!(nonce.len(), 32); // the `DPoP-Nonce` header value
/// assert!(nonces.check_at(&nonce, UnixTime(1_795_000_060)).is_ok());
/// ```
pub struct DpopNonces {
    // ring does not zeroize its HMAC key schedule; the caller's key bytes are not kept.
    current: hmac::Key,
    previous: Option<hmac::Key>,
    lifetime: Duration,
}

impl DpopNonces {
    /// Nonces under `key`, valid for 5 minutes after issue.
    ///
    /// ```
    /// use sealed_session::dpop::DpopNonces;
    /// let nonces = DpopNonces::new(&[1; 32]);
    /// # let _ = nonces;
    /// ```
    pub fn new(key: &[u8; 32]) -> Self {
        Self {
            current: hmac::Key::new(hmac::HMAC_SHA256, key),
            previous: None,
            lifetime: Duration::from_secs(300),
        }
    }

    /// Also accepts nonces issued under the previous key (after a key rotation).
    ///
    /// ```
    /// use sealed_session::dpop::DpopNonces;
    /// use sealed_session::UnixTime;
    /// let now = UnixTime(1_795_000_000);
    /// let old = DpopNonces::new(&[1; 32]).issue_at(now);
    /// let rotated = DpopNonces::new(&[2; 32]).with_previous_key(&[1; 32]);
    /// assert!(rotated.check_at(&old, now).is_ok());
    /// ```
    #[must_use]
    pub fn with_previous_key(mut self, key: &[u8; 32]) -> Self {
        self.previous = Some(hmac::Key::new(hmac::HMAC_SHA256, key));
        self
    }

    /// How long a nonce is accepted after issue (1 s to 24 h, whole seconds).
    ///
    /// # Errors
    /// [`DpopConfigError::NonceLifetime`] outside that range.
    ///
    /// ```
    /// use std::time::Duration;
    /// use sealed_session::dpop::DpopNonces;
    /// let nonces = DpopNonces::new(&[1; 32]).with_lifetime(Duration::from_secs(60))?;
    /// assert!(DpopNonces::new(&[1; 32]).with_lifetime(Duration::ZERO).is_err());
    /// # let _ = nonces;
    /// # Ok::<(), sealed_session::dpop::DpopConfigError>(())
    /// ```
    pub fn with_lifetime(mut self, lifetime: Duration) -> Result<Self, DpopConfigError> {
        if !(1..=86_400).contains(&lifetime.as_secs()) {
            return Err(DpopConfigError::NonceLifetime);
        }
        self.lifetime = lifetime;
        Ok(self)
    }

    /// A fresh nonce issued at `now`, for the `DPoP-Nonce` response header (RFC 9449 §8.1:
    /// base64url is within its `NQCHAR` syntax). Nonces issued in the same second are equal,
    /// which is harmless: a nonce limits how old a proof can be, `jti` stops replays.
    ///
    /// ```
    /// use sealed_session::dpop::DpopNonces;
    /// use sealed_session::UnixTime;
    /// let nonces = DpopNonces::new(&[1; 32]);
    /// assert_ne!(nonces.issue_at(UnixTime(1)), nonces.issue_at(UnixTime(2)));
    /// ```
    pub fn issue_at(&self, now: UnixTime) -> String {
        let issued = now.secs().to_be_bytes();
        let mut bytes = [0u8; NONCE_BYTES];
        let (time, tag) = bytes.split_at_mut(8);
        time.copy_from_slice(&issued);
        tag.copy_from_slice(tag_of(&self.current, issued).as_ref());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Checks a nonce at `now`: form, then the MAC (constant-time, current key then previous),
    /// then its age. Returns when it was issued.
    ///
    /// # Errors
    /// [`NonceError::Malformed`], [`NonceError::Forged`], [`NonceError::Expired`] or
    /// [`NonceError::NotYetValid`].
    ///
    /// ```
    /// use sealed_session::dpop::{DpopNonces, NonceError};
    /// use sealed_session::UnixTime;
    /// let nonces = DpopNonces::new(&[1; 32]);
    /// let nonce = nonces.issue_at(UnixTime(1_795_000_000));
    /// assert_eq!(nonces.check_at(&nonce, UnixTime(1_795_000_300)), Err(NonceError::Expired));
    /// assert_eq!(nonces.check_at("nope", UnixTime(1_795_000_000)), Err(NonceError::Malformed));
    /// ```
    pub fn check_at(&self, nonce: &str, now: UnixTime) -> Result<UnixTime, NonceError> {
        let mut bytes = [0u8; NONCE_BYTES];
        match URL_SAFE_NO_PAD.decode_slice(nonce.as_bytes(), &mut bytes) {
            Ok(NONCE_BYTES) if nonce.len() == NONCE_CHARS => {}
            _ => return Err(NonceError::Malformed),
        }
        let (time, tag) = bytes.split_at(8);
        let issued: [u8; 8] = time.try_into().map_err(|_| NonceError::Malformed)?;
        let genuine = |key: &hmac::Key| -> bool { tag_of(key, issued).ct_eq(tag).into() };
        if !genuine(&self.current) && !self.previous.as_ref().is_some_and(genuine) {
            return Err(NonceError::Forged);
        }
        let issued = UnixTime(u64::from_be_bytes(issued));
        if issued.secs() > now.secs().saturating_add(SERVER_SKEW) {
            return Err(NonceError::NotYetValid);
        }
        if now >= issued.saturating_add(self.lifetime) {
            return Err(NonceError::Expired);
        }
        Ok(issued)
    }
}

impl fmt::Debug for DpopNonces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DpopNonces(..)")
    }
}

/// The first 16 bytes of HMAC-SHA256(key, LABEL ‖ issued_at).
fn tag_of(key: &hmac::Key, issued: [u8; 8]) -> [u8; TAG_LEN] {
    let mut ctx = hmac::Context::with_key(key);
    ctx.update(LABEL);
    ctx.update(&issued);
    let mut tag = [0u8; TAG_LEN];
    for (out, b) in tag.iter_mut().zip(ctx.sign().as_ref()) {
        *out = *b;
    }
    tag
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    const NOW: UnixTime = UnixTime(1_795_000_000);

    #[test]
    fn the_format_is_time_then_truncated_hmac() {
        // An independent computation of the documented layout.
        let key = [0x42; 32];
        let mut input = LABEL.to_vec();
        input.extend_from_slice(&NOW.secs().to_be_bytes());
        let mac = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key), &input);
        let mut expected = NOW.secs().to_be_bytes().to_vec();
        expected.extend_from_slice(mac.as_ref().get(..16).unwrap());
        assert_eq!(
            DpopNonces::new(&key).issue_at(NOW),
            URL_SAFE_NO_PAD.encode(expected)
        );
    }

    #[test]
    fn lifetime_and_skew_bound_acceptance() {
        let nonces = DpopNonces::new(&[1; 32])
            .with_lifetime(Duration::from_secs(60))
            .unwrap();
        let nonce = nonces.issue_at(NOW);
        assert_eq!(nonces.check_at(&nonce, NOW), Ok(NOW));
        assert_eq!(nonces.check_at(&nonce, UnixTime(NOW.0 + 59)), Ok(NOW));
        assert_eq!(
            nonces.check_at(&nonce, UnixTime(NOW.0 + 60)),
            Err(NonceError::Expired)
        );
        assert_eq!(nonces.check_at(&nonce, UnixTime(NOW.0 - 5)), Ok(NOW));
        assert_eq!(
            nonces.check_at(&nonce, UnixTime(NOW.0 - 6)),
            Err(NonceError::NotYetValid)
        );
        let far = nonces.issue_at(UnixTime(u64::MAX));
        assert_eq!(
            nonces.check_at(&far, UnixTime(u64::MAX)),
            Err(NonceError::Expired)
        );
    }

    #[test]
    fn other_keys_and_tampering_are_forgeries() {
        let nonces = DpopNonces::new(&[1; 32]);
        let foreign = DpopNonces::new(&[2; 32]).issue_at(NOW);
        assert_eq!(nonces.check_at(&foreign, NOW), Err(NonceError::Forged));
        let rotated = DpopNonces::new(&[3; 32]).with_previous_key(&[2; 32]);
        assert_eq!(rotated.check_at(&foreign, NOW), Ok(NOW));
        let mut bytes = URL_SAFE_NO_PAD.decode(nonces.issue_at(NOW)).unwrap();
        bytes[7] ^= 1; // another time under the same tag
        assert_eq!(
            nonces.check_at(&URL_SAFE_NO_PAD.encode(&bytes), NOW),
            Err(NonceError::Forged)
        );
    }

    #[test]
    fn only_the_exact_form_is_read() {
        let nonces = DpopNonces::new(&[1; 32]);
        let good = nonces.issue_at(NOW);
        for bad in [
            String::new(),
            format!("{good}="),
            format!("{good}A"),
            good[1..].to_owned(),
            good.replace(|c: char| c.is_ascii_digit(), "+"),
            format!(" {}", &good[1..]),
        ] {
            if bad != good {
                assert_eq!(nonces.check_at(&bad, NOW), Err(NonceError::Malformed), "{bad:?}");
            }
        }
    }
}
