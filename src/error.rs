//! Errors: one opaque rejection for untrusted input, detailed errors for setup.

use core::fmt;

/// Why a token was refused. For logs, events and metrics only: never send it to a client.
///
/// Each variant has a stable snake_case code ([`Reason::code`]) used by the test vectors in
/// `spec/vectors/` and by the security events.
///
/// ```
/// # use std::sync::Arc; use sealed_session::{*, revocation::*};
/// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
/// # let manager = SessionManager::builder(KeyRing::generate()?, "app", store).build()?;
/// let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
/// let refused = manager.verify("not a token", &client).unwrap_err();
/// // Log the reason; answer the client with the same refusal whatever it is.
/// assert_eq!(refused.reason(), Reason::Malformed);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// Longer than any token this crate can mint; refused before decoding.
    Oversized,
    /// Not canonical base64url, or shorter than the fixed framing.
    Malformed,
    /// The version byte names a format this build does not implement.
    UnsupportedVersion,
    /// The key id is not in the key ring (never a trial decryption).
    UnknownKey,
    /// The key id names a retired key.
    RetiredKey,
    /// The AEAD tag did not verify: tampered, wrong key, or wrong application context.
    Forged,
    /// The plaintext opened but is not a canonical claims encoding.
    BadClaims,
    /// The token or its session is past its expiry (beyond the leeway).
    Expired,
    /// Issued in the future beyond the leeway.
    NotYetValid,
    /// The session or the token is in the revocation filter, or cut off by a logout-everywhere
    /// or a kill switch.
    Revoked,
    /// A rotated-away token came back after its grace window.
    Reused,
    /// The client context does not match the token's binding hash.
    Unbound,
    /// The session's privilege is below what the request needs.
    InsufficientPrivilege,
    /// The revocation store could not record what verifying this token required (an elevated
    /// token whose lapse could not be recorded): refused rather than trusted.
    StoreUnavailable,
}

impl Reason {
    /// Stable machine-readable code of the reason (used in vectors, events and metrics).
    ///
    /// ```
    /// use sealed_session::Reason;
    /// assert_eq!(Reason::UnknownKey.code(), "unknown_key");
    /// assert_eq!(Reason::Forged.to_string(), Reason::Forged.code());
    /// ```
    pub const fn code(self) -> &'static str {
        match self {
            Self::Oversized => "oversized",
            Self::Malformed => "malformed",
            Self::UnsupportedVersion => "unsupported_version",
            Self::UnknownKey => "unknown_key",
            Self::RetiredKey => "retired_key",
            Self::Forged => "forged",
            Self::BadClaims => "bad_claims",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::Revoked => "revoked",
            Self::Reused => "reused",
            Self::Unbound => "unbound",
            Self::InsufficientPrivilege => "insufficient_privilege",
            Self::StoreUnavailable => "store_unavailable",
        }
    }

    /// Every reason, in declaration order (for exhaustive tests and metrics registration).
    pub const ALL: [Reason; 14] = [
        Self::Oversized,
        Self::Malformed,
        Self::UnsupportedVersion,
        Self::UnknownKey,
        Self::RetiredKey,
        Self::Forged,
        Self::BadClaims,
        Self::Expired,
        Self::NotYetValid,
        Self::Revoked,
        Self::Reused,
        Self::Unbound,
        Self::InsufficientPrivilege,
        Self::StoreUnavailable,
    ];
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A token was refused.
///
/// `Display` is deliberately the same for every cause, so that passing it to a client
/// reveals nothing; the cause is available to the server through [`Rejected::reason`].
///
/// ```
/// # use std::sync::Arc; use sealed_session::{*, revocation::*};
/// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
/// # let manager = SessionManager::builder(KeyRing::generate()?, "app", store).build()?;
/// # let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
/// let other = SessionManager::builder(KeyRing::generate()?, "app", manager.store().clone()).build()?;
/// let foreign = other.begin(&client)?.token;
/// let forged = manager.verify(foreign.expose_secret(), &client).unwrap_err();
/// let garbage = manager.verify("garbage", &client).unwrap_err();
/// // Different causes, one message for the client.
/// assert_ne!(forged.reason(), garbage.reason());
/// assert_eq!(forged.to_string(), garbage.to_string());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Rejected {
    reason: Reason,
}

impl Rejected {
    pub(crate) const fn new(reason: Reason) -> Self {
        Self { reason }
    }

    /// The cause, for logs and metrics only.
    ///
    /// ```
    /// # use std::sync::Arc; use sealed_session::{*, revocation::*};
    /// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
    /// # let manager = SessionManager::builder(KeyRing::generate()?, "app", store).build()?;
    /// # let client = ClientContext::new("203.0.113.7".parse().ok(), Some("Firefox"));
    /// let refused = manager.verify("", &client).unwrap_err();
    /// assert_eq!(refused.reason(), Reason::Malformed);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub const fn reason(&self) -> Reason {
        self.reason
    }
}

impl From<Reason> for Rejected {
    fn from(reason: Reason) -> Self {
        Self::new(reason)
    }
}

impl fmt::Debug for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Rejected({})", self.reason.code())
    }
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("session token rejected")
    }
}

impl std::error::Error for Rejected {}

/// A configuration or operator error: bad key material, bad policy, claims that cannot be
/// minted. These never depend on attacker input, so they may be detailed.
///
/// ```
/// use sealed_session::{ConfigError, PolicyError, Policy};
/// let refused = Policy::default().with_grace(std::time::Duration::from_secs(31)).validate();
/// assert!(matches!(refused, Err(ConfigError::Policy(PolicyError::GraceTooLong))));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The key file or key variable could not be parsed.
    #[error("key file line {line}: {problem}")]
    KeyFile {
        /// 1-based line (or entry) number.
        line: usize,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The key file is readable by group or others.
    #[error("key file {path} has mode {mode:o}; it must not be accessible to group or others (chmod 600)")]
    KeyFilePermissions {
        /// The file path.
        path: String,
        /// The offending permission bits.
        mode: u32,
    },
    /// The environment variable meant to hold the key file text is unset or not UTF-8.
    #[error("key environment variable {var} is unset or not UTF-8")]
    KeyVariable {
        /// The variable's name.
        var: String,
    },
    /// The key ring, or an operation on it, is inconsistent.
    #[error("key ring: {0}")]
    KeyRing(#[from] KeyRingError),
    /// A session policy setting is out of range or inconsistent.
    #[error("session policy: {0}")]
    Policy(#[from] PolicyError),
    /// A revocation filter setting is out of range.
    #[error("revocation filter: {0}")]
    Filter(#[from] FilterError),
    /// The application context is empty or longer than 255 bytes of UTF-8.
    #[error("the application context must be 1 to 255 bytes of UTF-8")]
    Context,
    /// The clock leeway of a sealer is over 60 seconds.
    #[error("the clock leeway must be at most 60 seconds")]
    Leeway,
    /// A cookie name that no cookie can carry.
    #[error("cookie name must be 1 to 128 token characters")]
    CookieName,
    /// A public origin that is not `http(s)://host[:port]` (no path, query or user info).
    #[error("the public origin must be http(s)://host[:port], nothing more")]
    PublicOrigin,
    /// Reading or writing a file failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Claims that cannot be sealed.
    #[error("cannot mint: {0}")]
    Claims(#[from] ClaimsError),
    /// The operating system's random generator failed.
    #[error("the operating system random generator failed")]
    Randomness,
}

/// Why a key ring, or a change to it, was refused.
///
/// ```
/// use sealed_session::{ConfigError, KeyId, KeyRing, KeyRingError};
/// let mut ring = KeyRing::generate()?;
/// let refused = ring.retire(KeyId(1));
/// assert!(matches!(refused, Err(ConfigError::KeyRing(KeyRingError::RetirePrimary))));
/// # Ok::<(), ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyRingError {
    /// No key is primary, so nothing can be minted or sealed.
    #[error("no primary key")]
    NoPrimaryKey,
    /// Two keys share an id.
    #[error("duplicate key id")]
    DuplicateId,
    /// More than one key is primary.
    #[error("more than one primary key")]
    SeveralPrimaryKeys,
    /// No key has the id named.
    #[error("no key with that id")]
    NoSuchKey,
    /// A retired key never mints again.
    #[error("a retired key cannot be promoted")]
    PromoteRetired,
    /// The primary key must be replaced (promote another) before it can be retired.
    #[error("the primary key cannot be retired; promote another key first")]
    RetirePrimary,
    /// Only a retired key can be reinstated.
    #[error("only a retired key can be reinstated")]
    NotRetired,
}

impl KeyRingError {
    /// The message, as a static string (key-file errors name a line and this).
    pub(crate) const fn message(self) -> &'static str {
        match self {
            Self::NoPrimaryKey => "no primary key",
            Self::DuplicateId => "duplicate key id",
            Self::SeveralPrimaryKeys => "more than one primary key",
            Self::NoSuchKey => "no key with that id",
            Self::PromoteRetired => "a retired key cannot be promoted",
            Self::RetirePrimary => "the primary key cannot be retired; promote another key first",
            Self::NotRetired => "only a retired key can be reinstated",
        }
    }
}

/// Why a session policy was refused.
///
/// ```
/// use std::time::Duration;
/// use sealed_session::{ConfigError, Policy, PolicyError};
/// let refused = Policy::default().with_token_ttl(Duration::ZERO).validate();
/// assert!(matches!(refused, Err(ConfigError::Policy(PolicyError::ZeroLifetime))));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The token or elevated lifetime is zero.
    #[error("token and elevated lifetimes must be positive")]
    ZeroLifetime,
    /// The absolute lifetime is shorter than the token or elevated lifetime.
    #[error("the absolute lifetime must be at least the token and elevated lifetimes")]
    LifetimeShorterThanTokens,
    /// The absolute lifetime is over what a token's relative times can express.
    #[error("the absolute lifetime must be at most 2^32 - 1 seconds")]
    LifetimeTooLong,
    /// The absolute lifetime is longer than the revocation filter keeps revocations.
    #[error("the absolute lifetime is longer than the revocation filter's max lifetime (FilterConfig::with_max_lifetime)")]
    OutlivesRevocations,
    /// The grace window is over 30 seconds.
    #[error("the grace window must be at most 30 seconds")]
    GraceTooLong,
    /// The clock leeway is under 1 s (the resolution of token times) or over 60 s.
    #[error("the clock leeway must be 1 to 60 seconds")]
    Leeway,
    /// `Rotation::After` with a zero age.
    #[error("use Rotation::EveryRequest instead of a zero rotation age")]
    ZeroRotationAge,
    /// An IP binding prefix longer than the address.
    #[error("an IP binding prefix is longer than the address (IPv4 32, IPv6 128)")]
    PrefixTooLong,
}

/// Why a revocation filter configuration was refused.
///
/// ```
/// use sealed_session::{ConfigError, FilterError};
/// use sealed_session::revocation::{FilterConfig, MemoryStore};
/// let refused = MemoryStore::new(FilterConfig::default().with_capacity(0));
/// assert!(matches!(refused, Err(ConfigError::Filter(FilterError::Capacity))));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FilterError {
    /// Capacity 0 or over 2^28 entries, or a filter size that overflows.
    #[error("capacity must be 1 to 2^28 entries")]
    Capacity,
    /// A false-positive rate outside 1e-12 to 0.1.
    #[error("false-positive rate must be 1e-12 to 0.1")]
    FalsePositiveRate,
    /// A zero maximum lifetime.
    #[error("max lifetime must be at least one second")]
    MaxLifetime,
    /// Epochs per generation outside 1 to 8760.
    #[error("epochs per generation must be 1 to 8760")]
    EpochsPerGeneration,
}

/// Why claims cannot be sealed (a programming or configuration error, never client input).
///
/// ```
/// # use sealed_session::{token::*, ClaimsError, ConfigError, KeyRing, UnixTime};
/// # let sealer = Sealer::new(KeyRing::generate()?, "bank")?;
/// # let now = UnixTime(1_795_000_000);
/// # let deadline = UnixTime(now.0 + 3600);
/// let claims = Claims {
///     session_id: SessionId([7; 16]),
///     subject: Some(String::new()),
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
/// let refused = sealer.mint(&claims);
/// assert!(matches!(refused, Err(ConfigError::Claims(ClaimsError::SubjectLength))));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClaimsError {
    /// A present subject that is empty or longer than 64 bytes.
    #[error("subject must be 1 to 64 bytes")]
    SubjectLength,
    /// More than 256 bytes of application data.
    #[error("application data over 256 bytes")]
    AppDataLength,
    /// Flag bits this format does not define.
    #[error("undefined flag bits")]
    UndefinedFlags,
    /// Issued before 2024-01-01 (the format's time origin).
    #[error("issued before 2024")]
    IssuedBeforeOrigin,
    /// The token would outlive its session.
    #[error("token expiry after the session deadline")]
    ExpiryAfterDeadline,
    /// The epoch ends before the session deadline (its revocations would expire first).
    #[error("epoch before the epoch containing the session deadline")]
    EpochBeforeDeadline,
    /// The epoch is more than 2^32 - 1 hours after the hour of issue.
    #[error("epoch too far after the hour of issue")]
    EpochTooFar,
    /// A time before issue where it must follow it, or more than 2^32 - 1 s from it.
    #[error("{0} out of range relative to the issue time")]
    TimeOutOfRange(&'static str),
    /// The claims encoder (postcard, writing to memory) reported an error.
    #[error("the claims encoder failed")]
    Encoding,
    /// A plaintext longer than the AEAD seals (only `dangerous_seal_raw` can ask for one).
    #[error("plaintext too long for the AEAD")]
    TooLong,
}
