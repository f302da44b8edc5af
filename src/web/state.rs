//! Per-request state shared by the layer and the extractors.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use super::origin::Provenance;
use crate::dpop::{DpopErrorCode, JwkThumbprint};
use crate::session::binding::ClientContext;
use crate::session::Session;
use crate::token::sealer::SealedToken;
use crate::SessionManager;

/// What the layer must do to the session cookie when the response goes out.
#[derive(Debug, Default)]
pub(crate) enum CookieAction {
    #[default]
    Keep,
    /// Send this token (a replacement or a transition's successor).
    Set(SealedToken, crate::UnixTime),
    /// Delete a cookie that did not verify.
    Expire,
    /// Delete the cookie and tell the browser to clear site cookies (logout).
    Logout,
}

/// The client as seen by the layer (owned, so it can cross into blocking tasks).
#[derive(Clone, Debug, Default)]
pub(crate) struct Client {
    pub(crate) ip: Option<IpAddr>,
    pub(crate) user_agent: Option<http::HeaderValue>,
    /// The JWK thumbprint of this request's verified `DPoP` proof (RFC 9449 §6.1): the
    /// application value a DPoP session is bound to (spec/sessions.md §6).
    pub(crate) proof_key: Option<JwkThumbprint>,
}

impl Client {
    /// The context for transitions and DPoP tokens: the proof key, if any, is the
    /// application value.
    pub(crate) fn context(&self) -> ClientContext<'_> {
        let context = self.context_without_key();
        match &self.proof_key {
            Some(key) => context.with_app_value(key.as_bytes()),
            None => context,
        }
    }

    /// The context for cookie and `Bearer` tokens: never the proof key, so a DPoP-bound token
    /// sent without its proof binding (a downgrade, RFC 9449 §7.2) cannot match.
    pub(crate) fn context_without_key(&self) -> ClientContext<'_> {
        ClientContext::with_raw_user_agent(self.ip, self.user_agent.as_ref().map(http::HeaderValue::as_bytes))
    }
}

/// What the request presented to authenticate (valid or not). It decides how a refusal
/// looks (RFC 6750 §3 for bearer requests, plain for cookie requests), whether the
/// cross-origin rules apply, and where a transition may deliver the successor token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Credential {
    /// Neither the session cookie nor an `Authorization: Bearer` header.
    None,
    /// The session cookie (once, twice or malformed).
    Cookie,
    /// `Authorization: Bearer` (RFC 6750 §2.1), or a body-delivered successor minted during
    /// this request.
    Bearer,
    /// `Authorization: DPoP` (RFC 9449 §7.1) with a proof; its refusals use the `DPoP`
    /// scheme. The verified proof's key is [`Client::proof_key`] (part of the binding
    /// context, so it travels with the client into transitions); the token's binding must
    /// match it before the session is installed.
    Dpop,
}

impl Credential {
    /// A credential in the `Authorization` header: never attached by a browser by itself, and
    /// its successors go in response bodies.
    pub(crate) fn in_header(self) -> bool {
        matches!(self, Self::Bearer | Self::Dpop)
    }
}

/// What the request's `DPoP` proof came to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum ProofState {
    /// None came, or the layer does not take DPoP.
    #[default]
    Absent,
    /// One came and verified: its key is `Client::proof_key`.
    Verified,
    /// It was refused (or `Authorization: DPoP` came without one): the layer answers this
    /// code and the handler does not run.
    Refused(DpopErrorCode),
}

pub(crate) struct RequestState {
    pub(crate) session: Option<Session>,
    pub(crate) cookie: CookieAction,
    pub(crate) client: Client,
    /// Where the request says it comes from (privilege-raising transitions need
    /// [`Provenance::SameOrigin`]).
    pub(crate) provenance: Provenance,
    /// How the request authenticated, or tried to.
    pub(crate) credential: Credential,
    /// The request's `DPoP` proof.
    pub(crate) proof: ProofState,
}

impl RequestState {
    /// A session token (valid or not) came with the request: the response must not be cached.
    pub(crate) fn presented_token(&self) -> bool {
        self.credential != Credential::None
    }
}

/// Handle stored in request extensions; `Clone` because axum extensions must be. One `Arc`
/// around everything a request shares, so handing it to the handler is one reference count,
/// not one per field.
#[derive(Clone)]
pub(crate) struct Shared(Arc<SharedInner>);

pub(crate) struct SharedInner {
    pub(crate) manager: Arc<SessionManager>,
    pub(crate) state: Mutex<RequestState>,
    pub(crate) settings: Arc<super::settings::Settings>,
}

impl core::ops::Deref for Shared {
    type Target = SharedInner;

    fn deref(&self) -> &SharedInner {
        &self.0
    }
}

impl Shared {
    pub(crate) fn new(
        manager: Arc<SessionManager>,
        state: RequestState,
        settings: Arc<super::settings::Settings>,
    ) -> Self {
        Self(Arc::new(SharedInner {
            manager,
            state: Mutex::new(state),
            settings,
        }))
    }
}

impl SharedInner {
    pub(crate) fn lock(&self) -> MutexGuard<'_, RequestState> {
        // The state holds no invariants a panicking handler could break half-way.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
