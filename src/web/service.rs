//! The service the layer wraps around a router: verify on the way in, write cookies and the
//! headers a session needs on the way out.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use http::header::{CACHE_CONTROL, SET_COOKIE, STRICT_TRANSPORT_SECURITY, USER_AGENT};
use http::request::Parts;
use http::{HeaderValue, Request, Response, StatusCode};
use tower::Service;

use super::bearer::{self, Authorization, Challenges, Refusal, Scheme};
use super::cookies::Found;
use super::dpop;
use super::future::ResponseFuture;
use super::layer::Startup;
use super::origin::{self, Provenance};
use super::scan::{form_to_scan, query_has_token, scan_form};
use super::settings::Settings;
use super::state::{Client, CookieAction, Credential, ProofState, RequestState, Shared};
use crate::session::events::EventKind;
use crate::token::Privilege;
use crate::SessionManager;

/// The service [`SessionLayer`](super::SessionLayer) wraps around a router. It accepts any
/// request body (`http_body::Body` with `Bytes` chunks) and answers with the inner service's
/// body type; its own refusals have empty bodies, except the RFC 6750 JSON ones it gives
/// bearer requests.
///
/// ```
/// use tower::Layer;
/// use axum::Router;
/// use sealed_session::web::{SessionLayer, SessionService};
/// # use std::sync::Arc; use sealed_session::{*, revocation::*};
/// # let store = Arc::new(MemoryStore::new(FilterConfig::default())?);
/// # let manager = Arc::new(SessionManager::builder(KeyRing::generate()?, "app", store).build()?);
/// // `Router::layer` does this for you; the service type appears when composing by hand.
/// let service: SessionService<Router> = SessionLayer::new(manager).layer(Router::new());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct SessionService<S> {
    pub(crate) inner: S,
    pub(crate) manager: Arc<SessionManager>,
    pub(crate) settings: Arc<Settings>,
    pub(crate) startup: Arc<Startup>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<S>
where
    S: Service<Request<Body>, Response = Response<ResBody>, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: http_body::Body<Data = Bytes> + Send + 'static,
    ReqBody::Error: Into<axum::BoxError>,
    ResBody: Default + From<Bytes> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = Infallible;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // The clone that was driven to readiness serves this request (tower's usual dance).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let (manager, config) = (self.manager.clone(), self.settings.clone());
        self.startup.first_request(&manager, &config, &request);
        let (mut parts, body) = request.into_parts();
        let provenance = origin::judge(&parts, &config.allowed_origins, config.cookie.is_secure());
        // Verification is in-memory work only (revocations it causes are logged in the
        // background), so it runs here rather than in a boxed future. Both handles move into
        // the request's shared state: no further reference counts.
        let shared = admit(manager, config, &parts, provenance);
        let config = &*shared.settings;
        let (proof, credential) = {
            let st = shared.lock();
            (st.proof, st.credential)
        };
        if let ProofState::Refused(code) = proof {
            // RFC 9449 §7.1: a refused proof is the request's answer, whatever the route.
            let response = bearer::proof_refusal(code, challenges(config, Credential::Dpop));
            return ResponseFuture::ready(finish(&shared, response));
        }
        let foreign = match provenance {
            Provenance::Foreign => true,
            Provenance::Unknown => config.require_origin,
            Provenance::SameOrigin => false,
        };
        // Cross-site request forgery rides a credential the browser attaches by itself; it
        // never attaches an Authorization header, so a bearer request cannot be forged.
        let ambient = !credential.in_header();
        if foreign && ambient && origin::is_state_changing(&parts.method) {
            return ResponseFuture::boxed(async move {
                refuse_foreign(&shared).await;
                Ok(finish(&shared, status_only(StatusCode::FORBIDDEN)))
            });
        }
        let body = Body::new(body);
        if let Some(length) = form_to_scan(&parts) {
            return ResponseFuture::boxed(scan_then_call(inner, parts, body, length, shared));
        }
        parts.extensions.insert(shared.clone());
        ResponseFuture::inner(inner.call(Request::from_parts(parts, body)), shared)
    }
}

/// The path that waits before the inner service: a small form body is read and scanned for
/// planted tokens first (never a token source: one found there is only an event).
async fn scan_then_call<S, ResBody>(
    mut inner: S,
    mut parts: Parts,
    body: Body,
    length: usize,
    shared: Shared,
) -> Result<Response<ResBody>, Infallible>
where
    S: Service<Request<Body>, Response = Response<ResBody>, Error = Infallible>,
    ResBody: Default + From<Bytes>,
{
    let body = match scan_form(length, body, &shared, shared.settings.cookie.name()).await {
        Ok(body) => body,
        Err(status) => return Ok(finish(&shared, status_only(status))),
    };
    parts.extensions.insert(shared.clone());
    let response = inner.call(Request::from_parts(parts, body)).await?;
    Ok(finish(&shared, response))
}

fn status_only<B: Default>(status: StatusCode) -> Response<B> {
    let mut response = Response::new(B::default());
    *response.status_mut() = status;
    response
}

/// Reads the client, warns about tokens in the query, verifies the cookie (or bearer).
fn admit(
    manager: Arc<SessionManager>,
    config: Arc<Settings>,
    parts: &Parts,
    provenance: Provenance,
) -> Shared {
    let client = client_of(&config, parts);

    if query_has_token(parts, config.cookie.name()) {
        manager.emit(EventKind::TokenInUnexpectedPlace, None, &client.context());
    }
    let mut state = RequestState {
        session: None,
        cookie: CookieAction::Keep,
        client,
        provenance,
        credential: Credential::None,
        proof: ProofState::Absent,
    };
    let presented = present(&manager, &config, parts, &mut state);
    let presented = match &config.dpop {
        Some(dpop) => dpop::admit(dpop, &manager, &config, parts, &mut state, presented),
        None => presented,
    };
    if let Some(token) = presented {
        // Only in-memory work and background revocations here: nothing on this path waits
        // for the disk, so it may run on the async worker.
        let verified = match state.credential {
            // RFC 9449 §7.1: the proof's key is the binding's application value.
            Credential::Dpop => manager.verify_proof_bound(token, &state.client.context()),
            // A bearer client never reads Set-Cookie: a replacement it cannot see would make
            // its next request reuse, so its token is replaced only by an explicit refresh.
            Credential::Bearer => manager.verify_without_rotation(token, &state.client.context_without_key()),
            _ => manager.verify(token, &state.client.context_without_key()),
        };
        match verified {
            Ok(verified) => {
                if let Some(next) = verified.replacement {
                    state.cookie = CookieAction::Set(next, verified.session.expires_at());
                }
                state.session = Some(verified.session);
            }
            // A refused cookie is deleted; a refused API token is answered by the route.
            Err(_) if state.credential == Credential::Cookie => state.cookie = CookieAction::Expire,
            Err(_) => {}
        }
    }
    Shared::new(manager, state, config)
}

/// The token the request presents, and how: the session cookie first, else `Authorization`
/// (a scheme this layer accepts).
fn present<'p>(
    manager: &SessionManager,
    config: &Settings,
    parts: &'p Parts,
    state: &mut RequestState,
) -> Option<&'p str> {
    match config.cookie.find(&parts.headers) {
        Found::One(token) => {
            state.credential = Credential::Cookie;
            Some(token)
        }
        Found::Duplicate => {
            manager.emit(EventKind::DuplicateCookie, None, &state.client.context());
            state.credential = Credential::Cookie;
            None
        }
        Found::Invalid => {
            state.credential = Credential::Cookie;
            state.cookie = CookieAction::Expire;
            None
        }
        Found::None => {
            let (scheme, token) = match bearer::authorization(&parts.headers) {
                Authorization::None => return None,
                Authorization::Token(scheme, token) => (scheme, token),
                // Verified as the empty token: refused as malformed, with its event and flood
                // count, like every other refused token.
                Authorization::Invalid(scheme) => (scheme, ""),
            };
            state.credential = match scheme {
                Scheme::Bearer if config.accept_bearer => Credential::Bearer,
                Scheme::Dpop if config.dpop.is_some() => Credential::Dpop,
                // Not a scheme this layer takes: not ours to judge.
                _ => return None,
            };
            Some(token)
        }
    }
}

/// The challenges of a refusal for a request that came with `credential` (RFC 9110 §11.6.1):
/// its own scheme, or every scheme the layer takes when it came with none.
fn challenges(config: &Settings, credential: Credential) -> Challenges<'_> {
    let dpop_algs = config.dpop.as_ref().map(|d| d.algs.as_str());
    match credential {
        Credential::Bearer => Challenges {
            bearer: true,
            dpop_algs: None,
        },
        Credential::Dpop => Challenges {
            bearer: false,
            dpop_algs,
        },
        Credential::None | Credential::Cookie => Challenges {
            bearer: config.accept_bearer,
            dpop_algs,
        },
    }
}

/// A foreign state-changing request: elevated privilege is dropped (a new token is minted)
/// before the 403, so a forged cross-site form cannot ride a fresh re-authentication. The
/// step-down waits for the revocation log, so it runs on the blocking pool.
async fn refuse_foreign(shared: &Shared) {
    let (session, client) = {
        let mut st = shared.lock();
        let client = st.client.clone();
        shared
            .manager
            .emit(EventKind::ForeignOrigin, None, &client.context());
        match st.session.take() {
            Some(s) if s.privilege() == Privilege::Elevated => (s, client),
            other => {
                st.session = other;
                return;
            }
        }
    };
    let manager = shared.manager.clone();
    let result = tokio::task::spawn_blocking(move || manager.step_down(session, &client.context())).await;
    let mut st = shared.lock();
    match result {
        Ok(Ok(minted)) => {
            st.cookie = CookieAction::Set(minted.token, minted.session.expires_at());
            st.session = Some(minted.session);
        }
        // The elevated token was not revoked; dropping the cookie is the safe fallback.
        _ => st.cookie = CookieAction::Expire,
    }
}

/// Applies the cookie action and the headers every response of a session needs, and gives a
/// session refusal its RFC 6750 form on an API request.
pub(crate) fn finish<B: Default + From<Bytes>>(shared: &Shared, mut response: Response<B>) -> Response<B> {
    let config = &*shared.settings;
    let (action, involved, credential, proof) = {
        let mut st = shared.lock();
        let action = std::mem::take(&mut st.cookie);
        let involved = st.presented_token() || st.session.is_some() || !matches!(action, CookieAction::Keep);
        (action, involved, st.credential, st.proof)
    };
    if let Some(refusal) = response.extensions_mut().remove::<Refusal>() {
        // Without any credential the route may be an API's: a layer that accepts bearer or
        // DPoP tokens answers it with the challenge RFC 9110 §15.5.2 asks of a 401.
        let api = match credential {
            Credential::Bearer | Credential::Dpop => true,
            Credential::Cookie => false,
            Credential::None => config.accept_bearer || config.dpop.is_some(),
        };
        if api {
            let challenges = challenges(config, credential);
            response = bearer::refusal_response(refusal, credential.in_header(), challenges);
        }
    }
    // Only a layer that takes DPoP issues nonces: no scan of the response's challenges else.
    let dpop = config.dpop.is_some();
    if dpop
        && (proof != ProofState::Absent || credential == Credential::Dpop || has_dpop_challenge(&response))
    {
        add_nonce(shared, config, response.headers_mut());
    }
    let settings = &shared.settings.cookie;
    let headers = response.headers_mut();
    if let (true, Some(hsts)) = (settings.is_secure(), &config.hsts) {
        if !headers.contains_key(STRICT_TRANSPORT_SECURITY) {
            headers.insert(STRICT_TRANSPORT_SECURITY, hsts.clone());
        }
    }
    if involved {
        // Pages of a session must not outlive it in any cache (the Back button after logout).
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    let cookie = match action {
        CookieAction::Keep => return response,
        CookieAction::Set(token, expires) => settings.set_cookie(&token, expires, shared.manager.now()),
        CookieAction::Expire => Ok(settings.clear_cookie()),
        CookieAction::Logout => {
            headers.insert(
                "clear-site-data",
                HeaderValue::from_static("\"cache\", \"cookies\""),
            );
            Ok(settings.clear_cookie())
        }
    };
    match cookie {
        Ok(value) => {
            headers.append(SET_COOKIE, value);
            response
        }
        Err(e) => {
            // Checked when the token was minted; only a policy change in between gets here.
            tracing::error!(target: "sealed_session::web", error = %e, "session cookie not sent");
            let mut refused = status_only(StatusCode::INTERNAL_SERVER_ERROR);
            refused
                .headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            refused
        }
    }
}

/// A fresh `DPoP-Nonce` (RFC 9449 §8.2) when the layer requires nonces.
fn add_nonce(shared: &Shared, config: &Settings, headers: &mut http::HeaderMap) {
    let Some(keys) = config.dpop_nonces.as_ref().filter(|_| config.dpop.is_some()) else {
        return;
    };
    let manager = &shared.manager;
    let now = manager.now();
    if let Some(cached) = keys.at(manager.keys(), now) {
        // base64url: always a valid header value.
        if let Ok(value) = HeaderValue::try_from(cached.nonces.issue_at(now)) {
            headers.insert(dpop::DPOP_NONCE, value);
        }
    }
}

fn has_dpop_challenge<B>(response: &Response<B>) -> bool {
    let challenges = response.headers().get_all(http::header::WWW_AUTHENTICATE);
    challenges.iter().any(|v| v.as_bytes().starts_with(b"DPoP"))
}

fn client_of(config: &Settings, parts: &Parts) -> Client {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let forwarded = config.trusted_proxy_header.as_ref().and_then(|name| {
        // The right-most entry is the one our own proxy appended; the rest is client-supplied.
        let value = parts.headers.get(name)?.to_str().ok()?;
        value.rsplit(',').next()?.trim().parse::<IpAddr>().ok()
    });
    // A `HeaderValue` clone shares the request's bytes: no copy per request.
    let user_agent = parts.headers.get(USER_AGENT).cloned();
    Client {
        ip: forwarded.or(peer),
        user_agent,
        proof_key: None,
    }
}
