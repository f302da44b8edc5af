//! The tower layer: verify on the way in, write cookies on the way out.

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::{IntoResponse, Response};
use http::header::{AUTHORIZATION, CACHE_CONTROL, SET_COOKIE, STRICT_TRANSPORT_SECURITY, USER_AGENT};
use http::request::Parts;
use http::{HeaderValue, Request, StatusCode};
use tower::{Layer, Service};

use super::cookies::Found;
use super::origin::{self, Provenance};
use super::state::{Client, CookieAction, RequestState, Shared};
use super::WebConfig;
use crate::session::events::EventKind;
use crate::token::claims::Privilege;
use crate::SessionManager;

/// Installs sessions on an axum router: `router.layer(SessionLayer::new(manager, config))`.
#[derive(Clone)]
pub struct SessionLayer {
    manager: Arc<SessionManager>,
    config: Arc<WebConfig>,
}

impl SessionLayer {
    /// A layer verifying with `manager` under `config`.
    pub fn new(manager: Arc<SessionManager>, config: WebConfig) -> Self {
        Self {
            manager,
            config: Arc::new(config),
        }
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            manager: self.manager.clone(),
            config: self.config.clone(),
        }
    }
}

/// The service [`SessionLayer`] wraps around a router.
#[derive(Clone)]
pub struct SessionService<S> {
    inner: S,
    manager: Arc<SessionManager>,
    config: Arc<WebConfig>,
}

impl<S> Service<Request<Body>> for SessionService<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        // The clone that was driven to readiness serves this request (tower's usual dance).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let (manager, config) = (self.manager.clone(), self.config.clone());
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let provenance = origin::judge(&parts, &config.allowed_origins, config.cookie.is_secure());
            let shared = admit(&manager, &config, &parts, provenance);
            let foreign = match provenance {
                Provenance::Foreign => true,
                Provenance::Unknown => config.require_origin,
                Provenance::SameOrigin => false,
            };
            if foreign && origin::is_state_changing(&parts.method) {
                refuse_foreign(&shared).await;
                return Ok(finish(&shared, &config, StatusCode::FORBIDDEN.into_response()));
            }
            let body = match scan_form(&parts, body, &shared, config.cookie.name()).await {
                Ok(body) => body,
                Err(status) => return Ok(finish(&shared, &config, status.into_response())),
            };
            parts.extensions.insert(shared.clone());
            let response = inner.call(Request::from_parts(parts, body)).await?;
            Ok(finish(&shared, &config, response))
        })
    }
}

/// Reads the client, warns about tokens in the query, verifies the cookie (or bearer).
fn admit(manager: &Arc<SessionManager>, config: &WebConfig, parts: &Parts, provenance: Provenance) -> Shared {
    let client = client_of(config, parts);
    if query_has_token(parts, config.cookie.name()) {
        manager.emit(EventKind::TokenInUnexpectedPlace, None, &client.context());
    }
    let mut state = RequestState {
        session: None,
        cookie: CookieAction::Keep,
        client,
        provenance,
        presented_token: false,
    };
    // (token, whether it came in our cookie): a refused cookie is deleted, a refused bearer
    // token is simply ignored.
    let presented = match config.cookie.find(&parts.headers) {
        Found::One(token) => Some((token, true)),
        Found::Duplicate => {
            manager.emit(EventKind::DuplicateCookie, None, &state.client.context());
            state.presented_token = true;
            None
        }
        Found::Invalid => {
            state.presented_token = true;
            state.cookie = CookieAction::Expire;
            None
        }
        Found::None if config.accept_bearer => bearer(parts).map(|t| (t, false)),
        Found::None => None,
    };
    if let Some((token, from_cookie)) = presented {
        state.presented_token = true;
        // Only in-memory work and background revocations here: nothing on this path waits
        // for the disk, so it may run on the async worker.
        match manager.verify(token, &state.client.context()) {
            Ok(verified) => {
                if let Some(next) = verified.replacement {
                    state.cookie = CookieAction::Set(next, verified.session.expires_at());
                }
                state.session = Some(verified.session);
            }
            Err(_) if from_cookie => state.cookie = CookieAction::Expire,
            Err(_) => {}
        }
    }
    Shared {
        manager: manager.clone(),
        state: Arc::new(Mutex::new(state)),
        cookie_settings: config.cookie.clone(),
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

/// Applies the cookie action and the headers every response of a session needs.
fn finish(shared: &Shared, config: &WebConfig, mut response: Response) -> Response {
    let (action, involved) = {
        let mut st = shared.lock();
        let action = std::mem::take(&mut st.cookie);
        let involved = st.presented_token || st.session.is_some() || !matches!(action, CookieAction::Keep);
        (action, involved)
    };
    let settings = &shared.cookie_settings;
    let headers = response.headers_mut();
    if let (true, Some(max_age)) = (settings.is_secure(), config.hsts) {
        if !headers.contains_key(STRICT_TRANSPORT_SECURITY) {
            if let Ok(v) = HeaderValue::from_str(&format!("max-age={}", max_age.as_secs())) {
                headers.insert(STRICT_TRANSPORT_SECURITY, v);
            }
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
            let mut refused = StatusCode::INTERNAL_SERVER_ERROR.into_response();
            refused
                .headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            refused
        }
    }
}

fn client_of(config: &WebConfig, parts: &Parts) -> Client {
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
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Session-looking query parameters: a well-known session parameter name, our cookie name,
/// or a value that parses as a token. They are never read; their presence is an event.
/// Bodies this small, declared up front, are scanned for session tokens (DESIGN row 1).
const FORM_SCAN_LIMIT: usize = 64 * 1024;

/// Reads a small url-encoded form body to report token-shaped fields (the seed's "session
/// id in a POST field"); the body is handed on unchanged and never used as a token source.
/// Only bodies with a declared length ≤ 64 KiB are read, so none is consumed half-way.
async fn scan_form(
    parts: &Parts,
    body: Body,
    shared: &Shared,
    cookie_name: &str,
) -> Result<Body, StatusCode> {
    let is_form = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let Some(length) = declared.filter(|&n| is_form && n <= FORM_SCAN_LIMIT) else {
        return Ok(body);
    };
    let bytes = axum::body::to_bytes(body, length)
        .await
        .map_err(|_| StatusCode::BAD_REQUEST)?;
    let text = String::from_utf8_lossy(&bytes);
    let planted = text.split('&').any(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        // Forms legitimately carry fields named "token" (CSRF): only our cookie's name, the
        // classic session parameter names, or a value that parses as a token count here.
        ["sid", "jsessionid", "phpsessid", cookie_name]
            .iter()
            .any(|n| name.eq_ignore_ascii_case(n))
            || crate::token::UntrustedToken::parse(value).is_ok()
    });
    if planted {
        let client = shared.lock().client.clone();
        shared
            .manager
            .emit(EventKind::TokenInUnexpectedPlace, None, &client.context());
    }
    Ok(Body::from(bytes))
}

fn query_has_token(parts: &Parts, cookie_name: &str) -> bool {
    const NAMES: [&str; 7] = [
        "sid",
        "session",
        "sessionid",
        "session_id",
        "token",
        "jsessionid",
        "phpsessid",
    ];
    let Some(query) = parts.uri.query() else {
        return false;
    };
    query.split('&').any(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = name.to_ascii_lowercase();
        NAMES.contains(&name.as_str())
            || name.eq_ignore_ascii_case(cookie_name)
            || crate::token::UntrustedToken::parse(value).is_ok()
    })
}
