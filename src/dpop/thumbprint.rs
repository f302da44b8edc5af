//! The JWK SHA-256 thumbprint (RFC 7638 §3), the value a session or access token is bound to
//! (the `jkt` confirmation member, RFC 9449 §6.1).

use core::fmt;
use core::hash::{Hash, Hasher};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::digest;
use subtle::ConstantTimeEq;

use super::error::DpopError;

/// The SHA-256 JWK thumbprint of a proof's public key (RFC 7638). Equality is constant-time;
/// `Display` is the base64url `jkt` form (RFC 9449 §6.1).
///
/// ```
/// use sealed_session::dpop::JwkThumbprint;
/// // RFC 9449 §6.1: the `jkt` of the specification's example key.
/// let jkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
/// let thumbprint = JwkThumbprint::from_jkt(jkt)?;
/// assert_eq!(thumbprint.to_string(), jkt);
/// assert_eq!(thumbprint, JwkThumbprint::from_bytes(*thumbprint.as_bytes()));
/// # Ok::<(), sealed_session::dpop::DpopError>(())
/// ```
#[derive(Clone, Copy)]
pub struct JwkThumbprint([u8; 32]);

impl JwkThumbprint {
    /// Wraps a thumbprint's 32 bytes (as stored in a session's binding, say).
    ///
    /// ```
    /// use sealed_session::dpop::JwkThumbprint;
    /// assert_eq!(JwkThumbprint::from_bytes([0; 32]).as_bytes(), &[0; 32]);
    /// ```
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Parses the base64url `jkt` form: exactly 43 canonical characters.
    ///
    /// # Errors
    /// [`DpopError::Malformed`] for anything else.
    ///
    /// ```
    /// use sealed_session::dpop::{DpopError, JwkThumbprint};
    /// assert!(JwkThumbprint::from_jkt(&"A".repeat(43)).is_ok());
    /// assert_eq!(JwkThumbprint::from_jkt("AAAA").unwrap_err(), DpopError::Malformed);
    /// ```
    pub fn from_jkt(jkt: &str) -> Result<Self, DpopError> {
        let mut bytes = [0u8; 32];
        match URL_SAFE_NO_PAD.decode_slice(jkt.as_bytes(), &mut bytes) {
            Ok(32) if jkt.len() == 43 => Ok(Self(bytes)),
            _ => Err(DpopError::Malformed),
        }
    }

    /// The 32 digest bytes.
    ///
    /// ```
    /// use sealed_session::dpop::JwkThumbprint;
    /// assert_eq!(JwkThumbprint::from_bytes([7; 32]).as_bytes()[0], 7);
    /// ```
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// SHA-256 of the canonical JWK text (RFC 7638 §3.2), which the caller builds.
    pub(crate) fn of_canonical_jwk(json: &[u8]) -> Self {
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(digest::digest(&digest::SHA256, json).as_ref());
        Self(bytes)
    }
}

impl PartialEq for JwkThumbprint {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for JwkThumbprint {}

impl Hash for JwkThumbprint {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl fmt::Display for JwkThumbprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&URL_SAFE_NO_PAD.encode(self.0))
    }
}

impl fmt::Debug for JwkThumbprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JwkThumbprint({self})")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn rfc_8037_appendix_a3_ed25519_thumbprint() {
        // RFC 8037 Appendix A.3: the thumbprint of the Appendix A.2 public key.
        let canonical = br#"{"crv":"Ed25519","kty":"OKP","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
        assert_eq!(
            JwkThumbprint::of_canonical_jwk(canonical).to_string(),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn jkt_parsing_is_canonical() {
        let t = JwkThumbprint::from_bytes([0xab; 32]);
        assert_eq!(JwkThumbprint::from_jkt(&t.to_string()), Ok(t));
        let padded = format!("{t}=");
        let mut non_canonical = t.to_string();
        non_canonical.pop();
        non_canonical.push('t'); // 's' with a bit set past the 256th
        for bad in [
            padded.as_str(),
            non_canonical.as_str(),
            "",
            &"A".repeat(44),
            &"A".repeat(42),
        ] {
            assert_eq!(JwkThumbprint::from_jkt(bad), Err(DpopError::Malformed), "{bad}");
        }
    }

    #[test]
    fn equality_compares_every_byte() {
        let mut other = [0xab; 32];
        other[31] = 0xac;
        assert_ne!(
            JwkThumbprint::from_bytes([0xab; 32]),
            JwkThumbprint::from_bytes(other)
        );
        let zero = JwkThumbprint::from_bytes([0; 32]);
        assert_eq!(format!("{zero:?}"), format!("JwkThumbprint({})", "A".repeat(43)));
    }
}
