//! API-client test helpers: a router whose transitions answer in JSON bodies, behind a
//! layer that accepts bearer tokens, driven with tower `oneshot` as curl would (no Origin, no
//! Sec-Fetch-*, no cookies).
#![cfg(feature = "web")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::routing::{get, post};
use axum::Router;
use http::{header, HeaderMap, Request, StatusCode};
use sealed_session::web::{level, MaybeSession, RequireLevel, SessionControl, SessionInfo, SessionLayer};
use sealed_session::*;
use tower::ServiceExt;

use super::web::{KEYS, UA};
use super::Rig;

/// Status, headers and body of one response.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    /// The `access_token` of a token response.
    pub fn token(&self) -> String {
        assert_eq!(self.status, StatusCode::OK, "{}", self.body);
        assert!(self.body.starts_with(r#"{"access_token":""#), "{}", self.body);
        self.body.split('"').nth(3).unwrap().to_owned()
    }

    pub fn challenge(&self) -> Option<&str> {
        self.headers
            .get(header::WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap())
    }
}

/// `subject|level|handle|app data` of the session, for assertions.
fn describe(s: &SessionInfo) -> String {
    format!(
        "{}|{:?}|{}|{}",
        s.subject.as_deref().unwrap_or("-"),
        s.privilege,
        s.handle(),
        String::from_utf8_lossy(s.app_data())
    )
}

/// The API under test and the manager behind it (for key rotation and direct checks).
pub fn api(r: &Rig, configure: impl FnOnce(SessionLayer) -> SessionLayer) -> (Router, Arc<SessionManager>) {
    let manager = Arc::new(
        SessionManager::builder(KeyRing::parse(KEYS).unwrap(), "bank", r.store.clone())
            .with_policy(r.manager.policy().clone())
            .with_clock(Arc::new(r.clock.clone()))
            .with_events(r.events.clone())
            .build()
            .unwrap(),
    );
    let router = Router::new()
        // The request body is the application data to seal.
        .route(
            "/login",
            post(|c: SessionControl, data: Bytes| async move {
                c.login_for_api(Login::new("alice").with_app_data(&data)).await
            }),
        )
        .route(
            "/me",
            get(|s: RequireLevel<level::Authenticated>| async move { describe(&s) }),
        )
        .route(
            "/whoami",
            get(
                |MaybeSession(s): MaybeSession| async move { s.map_or("anonymous".into(), |s| describe(&s)) },
            ),
        )
        .route(
            "/transfer",
            post(|_: RequireLevel<level::Elevated>| async { "transferred" }),
        )
        .route(
            "/refresh",
            post(|c: SessionControl| async move { c.refresh_for_api().await }),
        )
        .route(
            "/elevate",
            post(|c: SessionControl| async move { c.elevate_for_api().await }),
        )
        .route(
            "/step-down",
            post(|c: SessionControl| async move { c.step_down_for_api().await }),
        )
        .route(
            "/logout",
            post(|c: SessionControl| async move { c.logout().await.map(|()| StatusCode::NO_CONTENT) }),
        )
        // Cookie transitions, to show that the two kinds of session do not cross.
        .route(
            "/cookie/login",
            post(|c: SessionControl| async move {
                c.login("alice", Privilege::Authenticated)
                    .await
                    .map(|_| "welcome")
            }),
        )
        .route(
            "/cookie/elevate",
            post(|c: SessionControl| async move { c.elevate().await.map(|_| "elevated") }),
        )
        .layer(configure(
            SessionLayer::new(manager.clone())
                .with_bearer_tokens()
                .with_maintenance_every(None),
        ));
    (router, manager)
}

/// A request as an API client sends it: no Origin, no Sec-Fetch-*, optionally a bearer token.
pub fn api_request(method: &str, uri: &str, token: Option<&str>) -> http::request::Builder {
    let mut b = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, "api.bank.test")
        .header(header::USER_AGENT, UA)
        .extension(ConnectInfo::<SocketAddr>("203.0.113.7:50000".parse().unwrap()));
    if let Some(t) = token {
        b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    b
}

/// A same-origin browser request, optionally with a cookie.
pub fn cookie_request(method: &str, uri: &str, cookie: Option<&str>) -> http::Request<Body> {
    let mut b = api_request(method, uri, None).header("sec-fetch-site", "same-origin");
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    b.body(Body::empty()).unwrap()
}

pub async fn send_api(app: &Router, req: Request<Body>) -> Reply {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
    Reply {
        status,
        headers,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

/// A bodiless API request.
pub async fn call_api(app: &Router, method: &str, uri: &str, token: Option<&str>) -> Reply {
    send_api(app, api_request(method, uri, token).body(Body::empty()).unwrap()).await
}

/// Logs alice in over the API with `data` sealed in; returns the token.
pub async fn api_login(app: &Router, data: &[u8]) -> String {
    let req = api_request("POST", "/login", None)
        .body(Body::from(data.to_vec()))
        .unwrap();
    send_api(app, req).await.token()
}
