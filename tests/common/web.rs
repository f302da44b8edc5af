//! Web-layer test helpers: a small router behind the session layer, driven with tower
//! `oneshot` as a same-origin browser page would.
#![cfg(feature = "web")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::routing::{get, post};
use axum::Router;
use http::{header, Request, Response, StatusCode};
use sealed_session::web::{level, MaybeSession, RequireLevel, SessionControl, SessionLayer};
use sealed_session::*;
use tower::ServiceExt;

use super::{rig, Rig};

pub const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0";

pub fn app(r: &Rig, configure: impl FnOnce(SessionLayer) -> SessionLayer) -> Router {
    // The rig's manager is moved into an Arc shared by the layer.
    let manager = Arc::new(
        SessionManager::builder(KeyRing::parse(KEYS).unwrap(), "bank", r.store.clone())
            .with_policy(r.manager.policy().clone())
            .with_clock(Arc::new(r.clock.clone()))
            .with_events(r.events.clone())
            .build()
            .unwrap(),
    );
    Router::new()
        .route(
            "/whoami",
            get(|MaybeSession(s): MaybeSession| async move {
                s.map_or("anonymous".to_owned(), |s| {
                    format!("{:?} {:?}", s.subject, s.privilege)
                })
            }),
        )
        .route(
            "/account",
            get(|s: RequireLevel<level::Authenticated>| async move { format!("account of {:?}", s.subject) }),
        )
        .route(
            "/transfer",
            post(|_: RequireLevel<level::Elevated>| async { "transferred" }),
        )
        .route(
            "/login",
            post(|c: SessionControl| async move {
                c.login("alice", Privilege::Authenticated)
                    .await
                    .map(|_| "welcome")
            }),
        )
        .route(
            "/elevate",
            post(|c: SessionControl| async move { c.elevate().await.map(|_| "elevated") }),
        )
        .route(
            "/logout",
            post(|c: SessionControl| async move { c.logout().await.map(|_| "bye") }),
        )
        .route(
            "/logout-everywhere",
            post(|c: SessionControl| async move { c.logout_everywhere().await.map(|_| "bye everywhere") }),
        )
        .route(
            "/step-down",
            post(|c: SessionControl| async move { c.step_down().await.map(|_| "stepped down") }),
        )
        .route(
            "/begin",
            get(|c: SessionControl| async move { c.begin().await.map(|_| "visitor") }),
        )
        .layer(configure(SessionLayer::new(manager)))
}

pub const KEYS: &str = "sealed-session-keys v1\n1 primary AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";

pub fn rig_default() -> Rig {
    rig(Policy::default().with_rotation(Rotation::Off))
}

pub fn request(method: &str, uri: &str, cookie: Option<&str>) -> http::request::Builder {
    let mut b = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, "www.bank.test")
        .header(header::USER_AGENT, UA)
        // What a browser sends on a request made by our own pages.
        .header("sec-fetch-site", "same-origin")
        .extension(ConnectInfo::<SocketAddr>("203.0.113.7:50000".parse().unwrap()));
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    b
}

pub async fn send(app: &Router, req: Request<Body>) -> (StatusCode, Vec<String>, http::HeaderMap, String) {
    let res: Response<Body> = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let cookies = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let body = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
    (
        status,
        cookies,
        headers,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

/// A bodiless request through `app`: [`send`] of [`request`].
pub async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    cookie: Option<&str>,
) -> (StatusCode, Vec<String>, http::HeaderMap, String) {
    send(app, request(method, uri, cookie).body(Body::empty()).unwrap()).await
}

/// `name=value` from a Set-Cookie line, for the next request's Cookie header.
pub fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

pub async fn login(app: &Router) -> String {
    let (status, cookies, _, _) =
        send(app, request("POST", "/login", None).body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    pair(&cookies[0])
}
