//! Errors: one opaque rejection for untrusted input, detailed errors for setup.

use core::fmt;

/// Why a token was refused. For logs, events and metrics only: never send it to a client.
///
/// Each variant has a stable snake_case code ([`Reason::code`]) used by the test vectors in
/// `spec/vectors/` and by the security events.
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
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Rejected {
    reason: Reason,
}

impl Rejected {
    pub(crate) const fn new(reason: Reason) -> Self {
        Self { reason }
    }

    /// The cause, for logs and metrics only.
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
    /// The key ring as a whole is inconsistent.
    #[error("key ring: {0}")]
    KeyRing(&'static str),
    /// The key ring has no primary key, so nothing can be minted or sealed.
    #[error("key ring: no primary key")]
    NoPrimaryKey,
    /// The application context is empty or longer than 255 bytes.
    #[error("the application context must be 1 to 255 bytes")]
    Context,
    /// The clock leeway is out of range.
    #[error("the clock leeway must be 1 to 60 seconds (at most 60 for a bare sealer)")]
    Leeway,
    /// The key file is readable by group or others.
    #[error("key file {path} has mode {mode:o}; it must not be accessible to group or others (chmod 600)")]
    KeyFilePermissions {
        /// The file path.
        path: String,
        /// The offending permission bits.
        mode: u32,
    },
    /// Reading or writing a file failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A setting is out of range.
    #[error("invalid setting {setting}: {problem}")]
    Setting {
        /// The setting's name.
        setting: &'static str,
        /// Why it is refused.
        problem: &'static str,
    },
    /// Claims that cannot be sealed.
    #[error("cannot mint: {0}")]
    Claims(&'static str),
    /// The operating system's random generator failed.
    #[error("the operating system random generator failed")]
    Randomness,
}
