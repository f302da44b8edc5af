//! What a token says: claims, and their exact postcard encoding (spec/format.md, "Claims").

use core::fmt;
use serde::{Deserialize, Serialize};

use crate::clock::UnixTime;
use crate::error::{ConfigError, Reason};
use crate::token::codec;

/// The format's time origin, 2024-01-01T00:00:00Z: wire times count seconds from here, which
/// keeps the issued-at varint at 4 bytes until 2032.
pub const TIME_ORIGIN: UnixTime = UnixTime(1_704_067_200);
/// Length of one revocation epoch in seconds.
pub const EPOCH_SECONDS: u64 = 3600;
/// Longest subject, in bytes of UTF-8.
pub const MAX_SUBJECT_LEN: usize = 64;
/// Longest application data, in bytes.
pub const MAX_APP_DATA_LEN: usize = 256;
/// Longest claims encoding this format can produce (spec/format.md, "Length bounds").
pub(crate) const MAX_CLAIMS_LEN: usize =
    16 + 1 + 1 + 10 + 5 * 4 + 16 + 1 + MAX_SUBJECT_LEN + 2 + MAX_APP_DATA_LEN;

/// A session's 128-bit identifier: new at every login, shared by all tokens of the session.
/// `Debug` prints `SessionId(..)`: an id names a live session and stays out of logs.
///
/// ```
/// use sealed_session::token::SessionId;
/// let id = SessionId::generate()?;
/// assert_eq!(format!("{id:?}"), "SessionId(..)");
/// # Ok::<(), sealed_session::ConfigError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId(pub [u8; 16]);

impl SessionId {
    /// A fresh random session id from the crate's OS-seeded generator (see `spec/format.md`,
    /// "Randomness"). Use one at every login; never adopt an id a client presented.
    ///
    /// # Errors
    /// [`ConfigError::Randomness`] when the operating system generator fails.
    ///
    /// ```
    /// # use sealed_session::token::SessionId;
    /// assert_ne!(SessionId::generate()?, SessionId::generate()?);
    /// # Ok::<(), sealed_session::ConfigError>(())
    /// ```
    pub fn generate() -> Result<Self, ConfigError> {
        let mut id = [0u8; 16];
        crate::token::rng::fill(&mut id)?;
        Ok(Self(id))
    }
}

/// A token's 128-bit identifier: the first 16 bytes of its random nonce.
/// `Debug` prints `TokenId(..)`.
///
/// Every mint draws a fresh nonce, so two tokens of the same claims have different ids:
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
/// let first = sealer.open_at(sealer.mint(&claims)?.expose_secret(), now)?;
/// let second = sealer.open_at(sealer.mint(&claims)?.expose_secret(), now)?;
/// assert_ne!(first.token_id, second.token_id);
/// assert_eq!(first.token_id.0[..], first.nonce[..16]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenId(pub [u8; 16]);

macro_rules! redacted_debug {
    ($t:ident) => {
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                // Identifiers name live sessions; logs get a keyed hash instead (events).
                f.write_str(concat!(stringify!($t), "(..)"))
            }
        }
    };
}
redacted_debug!(SessionId);
redacted_debug!(TokenId);

/// How much a session may do. Ordered: `Anonymous < Authenticated < Elevated`.
///
/// ```
/// use sealed_session::Privilege;
/// assert!(Privilege::Elevated > Privilege::Authenticated);
/// assert!(Privilege::Anonymous < Privilege::Authenticated);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum Privilege {
    /// No one has logged in.
    Anonymous = 0,
    /// A subject logged in.
    Authenticated = 1,
    /// Recently re-authenticated for a sensitive action (short-lived).
    Elevated = 2,
}

impl Privilege {
    /// The wire value.
    ///
    /// ```
    /// # use sealed_session::Privilege;
    /// assert_eq!(Privilege::Anonymous.as_u8(), 0);
    /// assert_eq!(Privilege::Elevated.as_u8(), 2);
    /// ```
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// The level for a wire value, if it is one.
    ///
    /// ```
    /// # use sealed_session::Privilege;
    /// assert_eq!(Privilege::from_u8(1), Some(Privilege::Authenticated));
    /// assert_eq!(Privilege::from_u8(3), None);
    /// ```
    pub const fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(Self::Anonymous),
            1 => Some(Self::Authenticated),
            2 => Some(Self::Elevated),
            _ => None,
        }
    }
}

/// The revocation generation a token's revocations live in: hours since [`TIME_ORIGIN`].
///
/// A token carries the epoch containing its session's deadline, so its revocations are kept
/// until that hour has passed.
///
/// ```
/// use sealed_session::token::{Epoch, EPOCH_SECONDS, TIME_ORIGIN};
/// use sealed_session::UnixTime;
///
/// let deadline = UnixTime(TIME_ORIGIN.0 + 10 * EPOCH_SECONDS + 59);
/// assert_eq!(Epoch::containing(deadline), Epoch(10));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Epoch(pub u64);

impl Epoch {
    /// The epoch containing `t` (times before the origin map to epoch 0).
    ///
    /// ```
    /// # use sealed_session::token::{Epoch, EPOCH_SECONDS, TIME_ORIGIN};
    /// # use sealed_session::UnixTime;
    /// assert_eq!(Epoch::containing(TIME_ORIGIN), Epoch(0));
    /// assert_eq!(Epoch::containing(UnixTime(TIME_ORIGIN.0 + EPOCH_SECONDS)), Epoch(1));
    /// assert_eq!(Epoch::containing(UnixTime(0)), Epoch(0));
    /// ```
    pub fn containing(t: UnixTime) -> Self {
        Self(t.0.saturating_sub(TIME_ORIGIN.0) / EPOCH_SECONDS)
    }

    /// The first instant after this epoch.
    ///
    /// ```
    /// # use sealed_session::token::{Epoch, EPOCH_SECONDS, TIME_ORIGIN};
    /// # use sealed_session::UnixTime;
    /// assert_eq!(Epoch(0).end(), UnixTime(TIME_ORIGIN.0 + EPOCH_SECONDS));
    /// assert_eq!(Epoch::containing(Epoch(7).end()), Epoch(8));
    /// ```
    pub fn end(self) -> UnixTime {
        UnixTime(
            TIME_ORIGIN
                .0
                .saturating_add(self.0.saturating_add(1).saturating_mul(EPOCH_SECONDS)),
        )
    }
}

/// A keyed 128-bit hash of the client context the token is bound to (zero when unbound).
/// `Debug` prints `BindingHash(..)`.
///
/// ```
/// use sealed_session::token::BindingHash;
/// assert_eq!(BindingHash::default(), BindingHash([0; 16])); // unbound
/// assert_eq!(format!("{:?}", BindingHash([3; 16])), "BindingHash(..)");
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct BindingHash(pub [u8; 16]);
redacted_debug!(BindingHash);

/// Token flags. Bits not defined here must be zero, or the token is refused.
///
/// ```
/// use sealed_session::token::Flags;
/// let flags = Flags(Flags::BIND_IP | Flags::BIND_USER_AGENT);
/// assert_eq!(flags.0 & !Flags::KNOWN, 0);
/// assert_eq!(Flags::default(), Flags(0)); // unbound
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flags(pub u8);

impl Flags {
    /// The binding hash covers the client's IP prefix.
    pub const BIND_IP: u8 = 1 << 0;
    /// The binding hash covers the client's User-Agent.
    pub const BIND_USER_AGENT: u8 = 1 << 1;
    /// The binding hash covers an application-supplied value (e.g. a TLS exporter).
    pub const BIND_APP_VALUE: u8 = 1 << 2;
    /// Every defined bit.
    pub const KNOWN: u8 = Self::BIND_IP | Self::BIND_USER_AGENT | Self::BIND_APP_VALUE;

    /// Whether every bit of `mask` is set.
    ///
    /// ```
    /// # use sealed_session::token::Flags;
    /// let flags = Flags(Flags::BIND_IP | Flags::BIND_USER_AGENT);
    /// assert!(flags.contains(Flags::BIND_IP));
    /// assert!(flags.contains(Flags::BIND_IP | Flags::BIND_USER_AGENT));
    /// assert!(!flags.contains(Flags::BIND_IP | Flags::BIND_APP_VALUE));
    /// ```
    pub const fn contains(self, mask: u8) -> bool {
        self.0 & mask == mask
    }
}

/// Everything a token asserts, with absolute times.
///
/// Minting checks the bounds: a subject of 1 to 64 bytes, at most 256 bytes of application
/// data, no undefined flags, `issued_at` at or after [`TIME_ORIGIN`], `expires_at` at most
/// `session_deadline`, and an `epoch` at or after the one containing `session_deadline`.
///
/// ```
/// use sealed_session::token::{BindingHash, Claims, Epoch, Flags, Privilege, Sealer, SessionId};
/// use sealed_session::{KeyRing, UnixTime};
///
/// let sealer = Sealer::new(KeyRing::generate()?, "bank")?;
/// let now = UnixTime(1_795_000_000);
/// let deadline = UnixTime(now.0 + 8 * 3600);
/// let mut claims = Claims {
///     session_id: SessionId::generate()?,
///     subject: Some("alice".into()),
///     privilege: Privilege::Authenticated,
///     epoch: Epoch::containing(deadline),
///     issued_at: now,
///     expires_at: UnixTime(now.0 + 1800),
///     session_deadline: deadline,
///     authenticated_at: now,
///     binding: BindingHash::default(),
///     flags: Flags::default(),
///     app_data: b"cart=3".to_vec(),
/// };
/// assert_eq!(sealer.open_at(sealer.mint(&claims)?.expose_secret(), now)?.claims, claims);
///
/// // An epoch that ends before the deadline would let a revocation expire too early.
/// claims.epoch = Epoch::containing(now);
/// assert!(sealer.mint(&claims).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Claims {
    /// The session this token belongs to.
    pub session_id: SessionId,
    /// Who logged in (absent for anonymous sessions); 1 to 64 bytes.
    pub subject: Option<String>,
    /// The privilege level.
    pub privilege: Privilege,
    /// Revocation generation (at or after the hour of `issued_at`).
    pub epoch: Epoch,
    /// When the token was minted.
    pub issued_at: UnixTime,
    /// When the token stops opening (idle timeout); at most `session_deadline`.
    pub expires_at: UnixTime,
    /// When the whole session ends, whatever rotations happen.
    pub session_deadline: UnixTime,
    /// When the subject last proved who they are (at most `issued_at`).
    pub authenticated_at: UnixTime,
    /// Keyed hash of the client context.
    pub binding: BindingHash,
    /// Flags (which inputs the binding covers).
    pub flags: Flags,
    /// Application data, at most 256 bytes; empty when unused.
    pub app_data: Vec<u8>,
}

/// Like a derived `Debug`, but the application data shows only its length: it is sealed so
/// that no one but the server reads it, and that includes logs.
impl fmt::Debug for Claims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Claims")
            .field("session_id", &self.session_id)
            .field("subject", &self.subject)
            .field("privilege", &self.privilege)
            .field("epoch", &self.epoch)
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .field("session_deadline", &self.session_deadline)
            .field("authenticated_at", &self.authenticated_at)
            .field("binding", &self.binding)
            .field("flags", &self.flags)
            .field("app_data", &format_args!("\"{} bytes\"", self.app_data.len()))
            .finish()
    }
}

impl Claims {
    /// Appends the canonical encoding to `out` after checking every bound.
    pub(crate) fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), ConfigError> {
        let mut buf = [0u8; MAX_CLAIMS_LEN];
        let n = codec::encode(self, &mut buf)?;
        out.extend_from_slice(buf.get(..n).unwrap_or_default());
        Ok(())
    }

    /// Decodes a canonical encoding; anything else is [`Reason::BadClaims`].
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, Reason> {
        codec::decode(bytes)
            .map(codec::ClaimsRef::to_owned_claims)
            .ok_or(Reason::BadClaims)
    }
}

/// Decodes claims bytes exactly as opening does (for fuzzing and other implementations'
/// cross-checks). Never panics.
///
/// # Errors
/// [`Reason::BadClaims`] for anything that is not a canonical claims encoding.
pub fn decode_claims(bytes: &[u8]) -> Result<Claims, Reason> {
    Claims::decode(bytes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn debug_shows_the_length_of_application_data_not_its_bytes() {
        let claims = Claims {
            session_id: SessionId([7; 16]),
            subject: Some("alice".into()),
            privilege: Privilege::Authenticated,
            epoch: Epoch::containing(UnixTime(1_795_000_000)),
            issued_at: UnixTime(1_795_000_000),
            expires_at: UnixTime(1_795_000_000),
            session_deadline: UnixTime(1_795_000_000),
            authenticated_at: UnixTime(1_795_000_000),
            binding: BindingHash::default(),
            flags: Flags::default(),
            app_data: b"secret-tenant".to_vec(),
        };
        let text = format!("{claims:?}");
        assert!(text.contains(r#"app_data: "13 bytes""#), "{text}");
        assert!(!text.contains("secret") && !text.contains("115, 101"), "{text}");
    }
}
