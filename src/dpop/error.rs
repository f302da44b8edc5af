//! Why a proof was refused (for logs), and the one thing a client may learn (RFC 9449 §7.1,
//! §8): `invalid_dpop_proof` or `use_dpop_nonce`.

use core::fmt;

/// Why a DPoP proof was refused. For logs, events and metrics only: a client learns nothing
/// beyond [`DpopError::client_error`], and `Display` prints only that.
///
/// The variants follow the check order of `spec/dpop.md` §3; each has a stable snake_case
/// [`code`](DpopError::code).
///
/// ```
/// use sealed_session::dpop::{DpopConfig, DpopErrorCode, DpopRequest, DpopVerifier, DpopError};
/// use sealed_session::UnixTime;
/// let verifier = DpopVerifier::new(DpopConfig::default())?;
/// let request = DpopRequest::new("GET", "https://api.example/accounts");
/// let refused = verifier.verify_at("not.a.proof", &request, UnixTime(1_795_000_000)).unwrap_err();
/// assert_eq!(refused, DpopError::Malformed);
/// assert_eq!(refused.client_error(), DpopErrorCode::InvalidDpopProof);
/// assert_eq!(refused.to_string(), "invalid DPoP proof");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DpopError {
    /// The request had no `DPoP` header where it needed one (`Authorization: DPoP`), or more
    /// than one (RFC 9449 §4.3 check 1). Reported by the web layer, never by the verifier,
    /// which sees one header value.
    HeaderCount,
    /// Longer than the configured maximum; refused before any decoding.
    Oversized,
    /// Not three non-empty segments of canonical base64url (RFC 7515 §7.1, RFC 4648 §5).
    Malformed,
    /// The header or the claims are not one JSON object (syntax, type, trailing data).
    BadJson,
    /// A JSON member name appears twice in one object (RFC 7515 §4, RFC 7519 §4).
    DuplicateMember,
    /// `typ` is missing or not `dpop+jwt` (RFC 9449 §4.3, check 4).
    WrongType,
    /// `alg` is missing, `none`, symmetric, or not in the allow-list (RFC 9449 §4.3, check 5).
    UnsupportedAlgorithm,
    /// The header names a key or an extension this verifier never follows: `jku`, `x5u`,
    /// `x5c` or `crit` (the key comes from `jwk` only).
    ForbiddenHeader,
    /// No `jwk` header member (RFC 9449 §4.2).
    MissingJwk,
    /// The `jwk` carries a private-key member (RFC 9449 §4.3, check 7).
    PrivateKey,
    /// The `jwk` is not a public key of the type `alg` needs (`kty`, `crv`, coordinates).
    BadJwk,
    /// The signature has the wrong length or does not verify under `jwk` (check 6).
    BadSignature,
    /// A DPoP claim is missing or has the wrong JSON type (RFC 9449 §4.2).
    BadClaim(Claim),
    /// `jti` is empty or longer than 256 bytes.
    JtiLength,
    /// `htm` is not the request method (check 8).
    MethodMismatch,
    /// `htu` is not the request URI without query and fragment (check 9).
    UriMismatch,
    /// The request URI the server passed in is not an absolute `http` or `https` URI (an
    /// integration error, not the client's).
    BadRequestUri,
    /// `iat` is older than the acceptance window (check 11, §11.1).
    TooOld,
    /// `iat` is further in the future than the allowed clock skew (check 11).
    FromFuture,
    /// An access token was presented but the proof has no `ath` (check 12).
    AthMissing,
    /// `ath` is not the hash of the presented access token (check 12).
    AthMismatch,
    /// This proof (key, `htu`, `jti`) was already accepted inside its window (§11.1).
    Replayed,
    /// The replay cache was full and had to forget proofs at least this old: refused rather
    /// than risk accepting a replay (`spec/dpop.md` §6).
    ReplayHorizon,
    /// The server requires a nonce and this one is missing or not acceptable (RFC 9449 §8,
    /// §9): answer `use_dpop_nonce` with a fresh `DPoP-Nonce`.
    UseNonce(NonceError),
}

/// The DPoP claims whose absence or JSON type [`DpopError::BadClaim`] reports.
///
/// ```
/// use sealed_session::dpop::Claim;
/// assert_eq!(Claim::Htu.name(), "htu");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Claim {
    /// The proof's unique identifier (a string).
    Jti,
    /// The HTTP method (a string).
    Htm,
    /// The HTTP target URI (a string).
    Htu,
    /// The creation time (a non-negative JSON number).
    Iat,
    /// The access-token hash (a string, when present).
    Ath,
    /// The server-provided nonce (a string, when present).
    Nonce,
}

impl Claim {
    /// The claim's JSON member name.
    ///
    /// ```
    /// assert_eq!(sealed_session::dpop::Claim::Iat.name(), "iat");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            Self::Jti => "jti",
            Self::Htm => "htm",
            Self::Htu => "htu",
            Self::Iat => "iat",
            Self::Ath => "ath",
            Self::Nonce => "nonce",
        }
    }
}

/// Why a required server nonce was not accepted. Every kind maps to `use_dpop_nonce`.
///
/// ```
/// use sealed_session::dpop::{DpopError, NonceError};
/// assert_eq!(DpopError::UseNonce(NonceError::Expired).code(), "nonce_expired");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NonceError {
    /// The proof has no `nonce` claim.
    Missing,
    /// Not a nonce this crate issues (length, base64url).
    Malformed,
    /// The MAC does not verify under the current or the previous nonce key.
    Forged,
    /// Issued longer ago than the nonce lifetime.
    Expired,
    /// Issued more than the allowed clock skew in the future (another node's clock).
    NotYetValid,
}

/// The client-facing error code, for `WWW-Authenticate: DPoP error="…"` (RFC 9449 §7.1) or
/// the token endpoint's JSON `error` (RFC 9449 §5, §8).
///
/// ```
/// use sealed_session::dpop::DpopErrorCode;
/// assert_eq!(DpopErrorCode::UseDpopNonce.as_str(), "use_dpop_nonce");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DpopErrorCode {
    /// `invalid_dpop_proof`: every refusal except a nonce the server requires.
    InvalidDpopProof,
    /// `use_dpop_nonce`: send the request again with the nonce in the `DPoP-Nonce` header.
    UseDpopNonce,
}

impl DpopErrorCode {
    /// The registered error code (RFC 9449 §12.2).
    ///
    /// ```
    /// use sealed_session::dpop::DpopErrorCode;
    /// assert_eq!(DpopErrorCode::InvalidDpopProof.as_str(), "invalid_dpop_proof");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
        }
    }
}

impl fmt::Display for DpopErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl DpopError {
    /// What the client may be told: `use_dpop_nonce` for [`DpopError::UseNonce`],
    /// `invalid_dpop_proof` for everything else, whichever check failed.
    ///
    /// ```
    /// use sealed_session::dpop::{DpopError, DpopErrorCode, NonceError};
    /// assert_eq!(DpopError::Replayed.client_error(), DpopErrorCode::InvalidDpopProof);
    /// assert_eq!(DpopError::UseNonce(NonceError::Missing).client_error(), DpopErrorCode::UseDpopNonce);
    /// ```
    pub const fn client_error(&self) -> DpopErrorCode {
        match self {
            Self::UseNonce(_) => DpopErrorCode::UseDpopNonce,
            _ => DpopErrorCode::InvalidDpopProof,
        }
    }

    /// Stable machine-readable code of the precise reason, for logs and metrics only.
    ///
    /// ```
    /// use sealed_session::dpop::{Claim, DpopError};
    /// assert_eq!(DpopError::BadSignature.code(), "bad_signature");
    /// assert_eq!(DpopError::BadClaim(Claim::Jti).code(), "bad_claim_jti");
    /// ```
    pub const fn code(&self) -> &'static str {
        match self {
            Self::HeaderCount => "header_count",
            Self::Oversized => "oversized",
            Self::Malformed => "malformed",
            Self::BadJson => "bad_json",
            Self::DuplicateMember => "duplicate_member",
            Self::WrongType => "wrong_typ",
            Self::UnsupportedAlgorithm => "unsupported_alg",
            Self::ForbiddenHeader => "forbidden_header",
            Self::MissingJwk => "missing_jwk",
            Self::PrivateKey => "private_key",
            Self::BadJwk => "bad_jwk",
            Self::BadSignature => "bad_signature",
            Self::BadClaim(claim) => match claim {
                Claim::Jti => "bad_claim_jti",
                Claim::Htm => "bad_claim_htm",
                Claim::Htu => "bad_claim_htu",
                Claim::Iat => "bad_claim_iat",
                Claim::Ath => "bad_claim_ath",
                Claim::Nonce => "bad_claim_nonce",
            },
            Self::JtiLength => "jti_length",
            Self::MethodMismatch => "htm_mismatch",
            Self::UriMismatch => "htu_mismatch",
            Self::BadRequestUri => "bad_request_uri",
            Self::TooOld => "iat_too_old",
            Self::FromFuture => "iat_in_future",
            Self::AthMissing => "ath_missing",
            Self::AthMismatch => "ath_mismatch",
            Self::Replayed => "replayed",
            Self::ReplayHorizon => "replay_horizon",
            Self::UseNonce(nonce) => match nonce {
                NonceError::Missing => "nonce_missing",
                NonceError::Malformed => "nonce_malformed",
                NonceError::Forged => "nonce_forged",
                NonceError::Expired => "nonce_expired",
                NonceError::NotYetValid => "nonce_not_yet_valid",
            },
        }
    }
}

impl fmt::Display for DpopError {
    /// The same text for every cause of one client code, so that passing it to a client
    /// reveals nothing; use [`DpopError::code`] or `Debug` in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.client_error() {
            DpopErrorCode::InvalidDpopProof => "invalid DPoP proof",
            DpopErrorCode::UseDpopNonce => "a fresh DPoP nonce is required",
        })
    }
}

impl std::error::Error for DpopError {}

/// A [`DpopConfig`](super::DpopConfig) or [`DpopNonces`](super::DpopNonces) setting out of
/// range (a setup error: it never depends on client input).
///
/// ```
/// use sealed_session::dpop::{DpopConfig, DpopConfigError, DpopVerifier};
/// let refused = DpopVerifier::new(DpopConfig::default().with_replay_capacity(0));
/// assert!(matches!(refused, Err(DpopConfigError::ReplayCapacity)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DpopConfigError {
    /// The proof length cap is under 256 or over 65,536 bytes.
    #[error("the DPoP proof length cap must be 256 to 65536 bytes")]
    MaxProofLen,
    /// The maximum proof age is under 1 s or over 300 s.
    #[error("the DPoP proof age must be 1 to 300 seconds")]
    MaxAge,
    /// The allowed future skew is over 60 s.
    #[error("the DPoP future clock skew must be at most 60 seconds")]
    MaxFuture,
    /// The replay cache capacity is 0 or over 2^22 entries.
    #[error("the DPoP replay cache capacity must be 1 to 4194304 entries")]
    ReplayCapacity,
    /// The algorithm allow-list is empty.
    #[error("at least one DPoP signature algorithm must be allowed")]
    NoAlgorithm,
    /// A nonce lifetime under 1 s or over 24 h.
    #[error("the DPoP nonce lifetime must be 1 second to 24 hours")]
    NonceLifetime,
}
