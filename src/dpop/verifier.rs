//! The request path: `&str → UntrustedProof → SignedProof → Claims → VerifiedProof`, each
//! step in the order of `spec/dpop.md` §3.

use core::fmt;
use std::sync::{Mutex, PoisonError};

use super::claims::Claims;
use super::config::{Algorithm, DpopConfig};
use super::error::{DpopConfigError, DpopError, NonceError};
use super::nonce::DpopNonces;
use super::proof::UntrustedProof;
use super::replay::{proof_id, ReplayCache};
use super::thumbprint::JwkThumbprint;
use crate::clock::UnixTime;

/// Verifies DPoP proofs and remembers the accepted ones (per node). Not `Clone`: it owns the
/// replay cache; share one behind an `Arc`.
///
/// ```
/// use sealed_session::dpop::{DpopConfig, DpopVerifier};
/// let verifier = DpopVerifier::new(DpopConfig::default())?;
/// // For `WWW-Authenticate: DPoP algs="…"` (RFC 9449 §7.1).
/// assert_eq!(verifier.algs_parameter(), "ES256 EdDSA");
/// # Ok::<(), sealed_session::dpop::DpopConfigError>(())
/// ```
pub struct DpopVerifier {
    config: DpopConfig,
    replay: Mutex<ReplayCache>,
}

/// What the server knows about the request a proof came with. The URI is the absolute target
/// URI as the client addressed it (scheme, host and port the client used, not a backend
/// address behind a proxy); its query and fragment are ignored.
///
/// ```
/// use sealed_session::dpop::{DpopNonces, DpopRequest};
/// let nonces = DpopNonces::new(&[1; 32]);
/// let request = DpopRequest::new("GET", "https://api.example/accounts?page=2")
///     .with_access_token(b"Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU")
///     .requiring_nonce(&nonces);
/// // The access token never shows in logs.
/// assert!(!format!("{request:?}").contains("Kz~8"));
/// ```
#[derive(Clone, Copy)]
pub struct DpopRequest<'a> {
    method: &'a str,
    uri: &'a str,
    access_token: Option<&'a [u8]>,
    nonces: Option<&'a DpopNonces>,
}

/// A proof that passed every check. Bind the session or access token to
/// [`thumbprint`](Self::thumbprint) (RFC 9449 §6.1 `jkt`) and compare it on every request.
///
/// ```
/// use sealed_session::dpop::{JwkThumbprint, VerifiedProof};
/// fn bound_to(proof: &VerifiedProof, session_jkt: &JwkThumbprint) -> bool {
///     proof.thumbprint == *session_jkt // constant-time
/// }
/// # let _ = bound_to;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedProof {
    /// The RFC 7638 SHA-256 thumbprint of the proof's public key.
    pub thumbprint: JwkThumbprint,
    /// The algorithm the proof was signed with.
    pub algorithm: Algorithm,
    /// The proof's `jti` (client-chosen text: escape it before display).
    pub jti: String,
    /// The proof's `iat`, fractions dropped.
    pub issued_at: UnixTime,
    /// When the server nonce it carried was issued, if the request required one: issue a
    /// fresh `DPoP-Nonce` before this one expires (RFC 9449 §8.2).
    pub nonce_issued_at: Option<UnixTime>,
}

impl DpopVerifier {
    /// A verifier with `config`; allocates the replay cache.
    ///
    /// # Errors
    /// A [`DpopConfigError`] for a setting out of range.
    ///
    /// ```
    /// use sealed_session::dpop::{DpopConfig, DpopConfigError, DpopVerifier};
    /// assert!(DpopVerifier::new(DpopConfig::default()).is_ok());
    /// let refused = DpopVerifier::new(DpopConfig::default().with_max_proof_len(10));
    /// assert!(matches!(refused, Err(DpopConfigError::MaxProofLen)));
    /// ```
    pub fn new(config: DpopConfig) -> Result<Self, DpopConfigError> {
        config.validate()?;
        Ok(Self {
            replay: Mutex::new(ReplayCache::new(config.replay_capacity)),
            config,
        })
    }

    /// The allowed algorithms, in [`Algorithm::ALL`] order (for the authorization server's
    /// `dpop_signing_alg_values_supported`, RFC 9449 §5.1).
    ///
    /// ```
    /// use sealed_session::dpop::{Algorithm, DpopConfig, DpopVerifier};
    /// let verifier = DpopVerifier::new(DpopConfig::default().with_algorithms(&[Algorithm::Es256]))?;
    /// assert_eq!(verifier.algorithms().collect::<Vec<_>>(), [Algorithm::Es256]);
    /// # Ok::<(), sealed_session::dpop::DpopConfigError>(())
    /// ```
    pub fn algorithms(&self) -> impl Iterator<Item = Algorithm> + '_ {
        Algorithm::ALL.into_iter().filter(|&a| self.config.allows(a))
    }

    /// The allowed algorithm names separated by spaces: the `algs` parameter of a
    /// `WWW-Authenticate: DPoP` challenge (RFC 9449 §7.1).
    ///
    /// ```
    /// use sealed_session::dpop::{Algorithm, DpopConfig, DpopVerifier};
    /// let verifier = DpopVerifier::new(DpopConfig::default().with_algorithms(&[Algorithm::EdDsa]))?;
    /// assert_eq!(verifier.algs_parameter(), "EdDSA");
    /// # Ok::<(), sealed_session::dpop::DpopConfigError>(())
    /// ```
    pub fn algs_parameter(&self) -> String {
        self.algorithms()
            .map(Algorithm::name)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Verifies `proof` (the `DPoP` header value) for `request` at `now`, and records it so it
    /// is refused if it comes again. Every check of `spec/dpop.md` §3, in that order; one
    /// signature verification at most, and work bounded by the length cap (plus one SHA-256
    /// of the access token, whose length the caller's header limits bound).
    ///
    /// The caller must refuse a request with more than one `DPoP` header before calling
    /// this (RFC 9449 §4.3 check 1), and after it compare [`VerifiedProof::thumbprint`] with
    /// the key the access token or session is bound to (check 12).
    ///
    /// # Errors
    /// A [`DpopError`]: log its [`code`](DpopError::code), answer with its
    /// [`client_error`](DpopError::client_error).
    ///
    /// ```
    /// # use ring::rand::SystemRandom;
    /// # use ring::signature::{Ed25519KeyPair, KeyPair};
    /// # use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
    /// use sealed_session::dpop::{DpopConfig, DpopError, DpopRequest, DpopVerifier};
    /// use sealed_session::UnixTime;
    /// # let key = Ed25519KeyPair::from_pkcs8(Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())?.as_ref())?;
    /// # let jwk = format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{}"}}"#, B64.encode(key.public_key()));
    /// # let header = B64.encode(format!(r#"{{"typ":"dpop+jwt","alg":"EdDSA","jwk":{jwk}}}"#));
    /// # let claims = B64.encode(r#"{"jti":"4Jk2zQ9xV1tR8mWc","htm":"GET","htu":"https://api.example/accounts","iat":1795000000}"#);
    /// # let input = format!("{header}.{claims}");
    /// # let proof = format!("{input}.{}", B64.encode(key.sign(input.as_bytes())));
    /// let verifier = DpopVerifier::new(DpopConfig::default())?;
    /// let request = DpopRequest::new("GET", "https://api.example/accounts");
    /// let now = UnixTime(1_795_000_002);
    /// let verified = verifier.verify_at(&proof, &request, now)?;
    /// assert_eq!(verified.jti, "4Jk2zQ9xV1tR8mWc");
    /// // The same proof again is a replay.
    /// assert_eq!(verifier.verify_at(&proof, &request, now), Err(DpopError::Replayed));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify_at(
        &self,
        proof: &str,
        request: &DpopRequest<'_>,
        now: UnixTime,
    ) -> Result<VerifiedProof, DpopError> {
        let signed = UntrustedProof::parse(proof, &self.config)?.verify_signature()?;
        let claims = Claims::parse(&signed.claims)?;
        let request_htu = super::htu::normalize(request.uri).ok_or(DpopError::BadRequestUri)?;
        claims.check_target(request.method, &request_htu)?;
        claims.check_time(now, &self.config)?;
        claims.check_ath(request.access_token)?;
        let nonce_issued_at = match request.nonces {
            Some(nonces) => Some(check_nonce(nonces, claims.nonce, now)?),
            None => None,
        };
        let thumbprint = signed.key.thumbprint();
        let id = proof_id(&thumbprint, &request_htu, claims.jti);
        let oldest = now.saturating_sub(self.config.max_age).secs();
        // A panic while holding the lock cannot leave the cache inconsistent (insert has no
        // panicking path), so a poisoned lock is still a good cache.
        let mut replay = self.replay.lock().unwrap_or_else(PoisonError::into_inner);
        replay.insert(id, claims.iat.secs(), oldest)?;
        drop(replay);
        Ok(VerifiedProof {
            thumbprint,
            algorithm: signed.alg,
            jti: claims.jti.to_owned(),
            issued_at: claims.iat,
            nonce_issued_at,
        })
    }
}

impl fmt::Debug for DpopVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopVerifier")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn check_nonce(nonces: &DpopNonces, nonce: Option<&str>, now: UnixTime) -> Result<UnixTime, DpopError> {
    let nonce = nonce.ok_or(DpopError::UseNonce(NonceError::Missing))?;
    nonces.check_at(nonce, now).map_err(DpopError::UseNonce)
}

impl<'a> DpopRequest<'a> {
    /// A request with this method (case-sensitive, RFC 9110 §9.1) and absolute target URI.
    ///
    /// ```
    /// use sealed_session::dpop::DpopRequest;
    /// let request = DpopRequest::new("POST", "https://server.example.com/token");
    /// # let _ = request;
    /// ```
    pub fn new(method: &'a str, uri: &'a str) -> Self {
        Self {
            method,
            uri,
            access_token: None,
            nonces: None,
        }
    }

    /// The access token presented with the proof (`Authorization: DPoP <token>`): the proof
    /// must then carry its `ath`.
    ///
    /// ```
    /// use sealed_session::dpop::DpopRequest;
    /// let request = DpopRequest::new("GET", "https://api.example/").with_access_token(b"token");
    /// # let _ = request;
    /// ```
    #[must_use]
    pub fn with_access_token(mut self, token: &'a [u8]) -> Self {
        self.access_token = Some(token);
        self
    }

    /// Requires a `nonce` claim that `nonces` issued and still accepts (RFC 9449 §8, §9).
    ///
    /// ```
    /// use sealed_session::dpop::{DpopNonces, DpopRequest};
    /// let nonces = DpopNonces::new(&[1; 32]);
    /// let request = DpopRequest::new("GET", "https://api.example/").requiring_nonce(&nonces);
    /// # let _ = request;
    /// ```
    #[must_use]
    pub fn requiring_nonce(mut self, nonces: &'a DpopNonces) -> Self {
        self.nonces = Some(nonces);
        self
    }
}

impl fmt::Debug for DpopRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopRequest")
            .field("method", &self.method)
            .field("uri", &self.uri)
            .field("access_token", &self.access_token.map(|_| ".."))
            .field("requires_nonce", &self.nonces.is_some())
            .finish()
    }
}
