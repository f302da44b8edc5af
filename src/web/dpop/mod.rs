//! DPoP (RFC 9449) in the layer: each request's `DPoP` proof is verified before its token is
//! opened, and its key's JWK thumbprint becomes the binding's application value
//! (spec/sessions.md §8.2).
//!
//! ```text
//! DPoP header(s) ─► one, visible ASCII (§4.3 check 1) ─► DpopVerifier::verify_at(proof,
//!     method, public origin + path, ath of the Authorization: DPoP token, nonce?, clock)
//!     ├─ refused  → 401 WWW-Authenticate: DPoP error="invalid_dpop_proof" | "use_dpop_nonce"
//!     └─ verified → Client::proof_key = thumbprint → the token's binding must match it
//! ```

mod nonce;
mod setters;

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::OriginalUri;
use http::request::Parts;
use http::HeaderName;

use super::origin;
use super::settings::Settings;
use super::state::{Credential, ProofState, RequestState};
use crate::dpop::{DpopError, DpopErrorCode, DpopRequest, DpopVerifier, JwkThumbprint, NonceError};
use crate::session::events::EventKind;
use crate::{ClientContext, SessionManager};

pub(crate) use nonce::NonceKeys;

/// The `DPoP` request header (RFC 9449 §4.1).
pub(crate) const DPOP: HeaderName = HeaderName::from_static("dpop");
/// The `DPoP-Nonce` response header (RFC 9449 §8.1).
pub(crate) const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// What [`super::SessionLayer::with_dpop`] configured.
#[derive(Clone, Debug)]
pub(crate) struct DpopSettings {
    pub(crate) verifier: Arc<DpopVerifier>,
    /// The `algs` of every `DPoP` challenge (RFC 9449 §7.1), computed once.
    pub(crate) algs: String,
}

impl DpopSettings {
    pub(crate) fn new(verifier: Arc<DpopVerifier>) -> Self {
        Self {
            algs: verifier.algs_parameter(),
            verifier,
        }
    }
}

/// Verifies the request's proof, if it has one or needs one (`Authorization: DPoP`), and
/// records the outcome in `state`. Returns the token to open: none once the proof is refused
/// (the layer answers the refusal; the token is never looked at).
pub(crate) fn admit<'t>(
    dpop: &DpopSettings,
    manager: &SessionManager,
    config: &Settings,
    parts: &Parts,
    state: &mut RequestState,
    presented: Option<&'t str>,
) -> Option<&'t str> {
    let token = presented.filter(|_| state.credential == Credential::Dpop);
    let refuse = |error| refuse(manager, error, state.client.ip);
    match check(dpop, manager, config, parts, token).map_err(refuse) {
        Ok(None) => presented,
        Ok(Some(key)) => {
            state.client.proof_key = Some(key);
            state.proof = ProofState::Verified;
            presented
        }
        Err(code) => {
            state.proof = ProofState::Refused(code);
            None
        }
    }
}

/// `Ok(None)` without a proof (and no `Authorization: DPoP`), or the verified key.
fn check(
    dpop: &DpopSettings,
    manager: &SessionManager,
    config: &Settings,
    parts: &Parts,
    token: Option<&str>,
) -> Result<Option<JwkThumbprint>, DpopError> {
    let mut values = parts.headers.get_all(DPOP).iter();
    let proof = match (values.next(), values.next()) {
        (None, _) if token.is_none() => return Ok(None),
        // §7.1: a DPoP-bound token comes with its proof; §4.3 check 1: exactly one.
        (None, _) | (Some(_), Some(_)) => return Err(DpopError::HeaderCount),
        // Not visible ASCII: no base64url proof.
        (Some(value), None) => value.to_str().map_err(|_| DpopError::Malformed)?,
    };
    // Without a host, the request names no URI to compare `htu` with (an HTTP/1.0 client).
    let uri = target_uri(parts, config).ok_or(DpopError::BadRequestUri)?;
    let now = manager.now();
    let mut request = DpopRequest::new(parts.method.as_str(), &uri);
    if let Some(token) = token {
        request = request.with_access_token(token.as_bytes());
    }
    let cached = match &config.dpop_nonces {
        // A ring without a primary key was refused when the manager was built; fail closed.
        Some(keys) => Some(
            keys.at(manager.keys(), now)
                .ok_or(DpopError::UseNonce(NonceError::Forged))?,
        ),
        None => None,
    };
    if let Some(cached) = &cached {
        request = request.requiring_nonce(&cached.nonces);
    }
    dpop.verifier
        .verify_at(proof, &request, now)
        .map(|verified| Some(verified.thumbprint))
}

/// The absolute target URI the client addressed (RFC 9449 §4.3 check 9): the configured
/// public origin, or else `https` (`http` with `dangerous_insecure_http`) and the `Host`
/// header, then the path as the client sent it (before any `Router::nest` stripped a
/// prefix). The query is left out: `htu` ignores it.
fn target_uri(parts: &Parts, config: &Settings) -> Option<String> {
    let origin = match &config.public_origin {
        Some(origin) => origin.clone(),
        None => origin::own_origin(parts, config.cookie.is_secure())?,
    };
    let path = parts
        .extensions
        .get::<OriginalUri>()
        .map_or_else(|| parts.uri.path(), |o| o.0.path());
    Some(format!("{origin}{path}"))
}

/// Emits the refusal's event (with the precise reason, for logs) and counts it towards the
/// source's flood budget; returns all the client may learn (RFC 9449 §7.1, §9).
fn refuse(manager: &SessionManager, error: DpopError, ip: Option<IpAddr>) -> DpopErrorCode {
    let client = ClientContext::new(ip, None);
    manager.emit(EventKind::DpopProofRefused(error), None, &client);
    if manager.flood.record(ip, None, manager.now()) {
        manager.emit(EventKind::FloodDetected, None, &client);
    }
    error.client_error()
}
