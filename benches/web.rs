//! The session layer's cost per request, in process: a minimal axum handler
//! returning a small body, called with `tower::ServiceExt::oneshot` on
//! - `bare`: the router alone,
//! - `layer_valid_cookie`: behind [`SessionLayer`] with a valid session cookie (full verify:
//!   AEAD open, claims, binding, revocation probe; `Rotation::Off`, so no minting),
//! - `layer_no_cookie`: behind the layer, no cookie;
//!
//! and, to split the layer's cost, `verify_only`: `SessionManager::verify` of the same token
//! with the same client, no HTTP at all. The manager has the verified-token cache (the
//! default), so both repeat a cached verify; `layer_valid_cookie_uncached` and
//! `verify_only_uncached` are the same with the cache off (every request opens the token).
//! The layer's own work is `layer_no_cookie − bare` without a token and
//! `layer_valid_cookie − verify_only − bare` with one.
//!
//! The `web/api` group compares the API credentials on `POST /transfer`: `bearer`
//! (`Authorization: Bearer`), `dpop` (`Authorization: DPoP` with a fresh ES256 proof, signed
//! outside the timing: proof verification, `ath`, replay cache, then the token verified with
//! the proof key as binding value), `dpop_nonce` (the same with a server nonce required and a
//! fresh `DPoP-Nonce` issued), `proof_only` (`DpopVerifier::verify_at` of the same kind of
//! proof, no HTTP, no token) and `verify_bound_only` (`SessionManager::verify` of the
//! DPoP-bound token with the thumbprint as application value, no HTTP, no proof).
//!
//! Each iteration builds the request and reads the whole response body on a current-thread
//! runtime, identically for the three. The end-to-end comparison over loopback HTTP is
//! `benches/web-overhead.sh` (wrk).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request};
use axum::routing::get;
use axum::Router;
use criterion::{black_box, Criterion};
use tower::ServiceExt;

use sealed_session::revocation::{FilterConfig, MemoryStore};
use sealed_session::web::SessionLayer;
use sealed_session::{ClientContext, KeyRing, Policy, Privilege, Rotation, SessionManager};

#[path = "../tests/dpop_support/mod.rs"]
mod dpop_support;
#[path = "web/api.rs"]
mod web_api;

const USER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64) bench";

async fn hello() -> &'static str {
    "hello, world\n"
}

fn request(cookie: Option<&str>) -> Request<Body> {
    let mut b = Request::get("/")
        .header(header::HOST, "127.0.0.1:8080")
        .header(header::USER_AGENT, USER_AGENT);
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    let mut req = b.body(Body::empty()).unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40_000))));
    req
}

async fn call(router: &Router, cookie: Option<&str>) -> usize {
    let response = router.clone().oneshot(request(cookie)).await.unwrap();
    assert!(response.status().is_success());
    axum::body::to_bytes(response.into_body(), 1024)
        .await
        .unwrap()
        .len()
}

fn web(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = Arc::new(MemoryStore::new(FilterConfig::default()).unwrap());
    let manager = Arc::new(
        SessionManager::builder(KeyRing::generate().unwrap(), "bench", store)
            .with_policy(Policy::default().with_rotation(Rotation::Off))
            .build()
            .unwrap(),
    );
    let client = ClientContext::new(Some(IpAddr::V4(Ipv4Addr::LOCALHOST)), Some(USER_AGENT));
    let minted = manager
        .authenticate(None, "alice", Privilege::Authenticated, &client)
        .unwrap();
    let token = minted.token.expose_secret().to_owned();
    let cookie = format!("session={token}");
    let verifier = manager.clone();

    // `with_state(())` is what `axum::serve` does first: the routes (and the layer around
    // them) become services once, not at every call.
    let bare = Router::new().route("/", get(hello)).with_state(());
    let layered = Router::new()
        .route("/", get(hello))
        .layer(SessionLayer::new(manager).dangerous_insecure_http())
        .with_state(());
    // The layer must really verify: a valid cookie yields no Set-Cookie (no rotation) and
    // the handler runs.
    rt.block_on(async {
        let r = layered.clone().oneshot(request(Some(&cookie))).await.unwrap();
        assert!(r.status().is_success() && !r.headers().contains_key(header::SET_COOKIE));
    });

    // The same with the verified-token cache off: every request opens its token (the
    // figures before the cache; the peers have no cache).
    let uncached_manager = Arc::new(
        SessionManager::builder(verifier.keys().clone(), "bench", verifier.store().clone())
            .with_policy(Policy::default().with_rotation(Rotation::Off))
            .with_verify_cache(0)
            .build()
            .unwrap(),
    );
    let uncached = Router::new()
        .route("/", get(hello))
        .layer(SessionLayer::new(uncached_manager.clone()).dangerous_insecure_http())
        .with_state(());

    let mut g = c.benchmark_group("web");
    g.bench_function("bare", |b| b.iter(|| rt.block_on(call(black_box(&bare), None))));
    g.bench_function("layer_valid_cookie", |b| {
        b.iter(|| rt.block_on(call(black_box(&layered), Some(&cookie))))
    });
    g.bench_function("layer_no_cookie", |b| {
        b.iter(|| rt.block_on(call(black_box(&layered), None)))
    });
    g.bench_function("verify_only", |b| {
        b.iter(|| verifier.verify(black_box(&token), black_box(&client)).unwrap())
    });
    g.bench_function("layer_valid_cookie_uncached", |b| {
        b.iter(|| rt.block_on(call(black_box(&uncached), Some(&cookie))))
    });
    g.bench_function("verify_only_uncached", |b| {
        b.iter(|| {
            uncached_manager
                .verify(black_box(&token), black_box(&client))
                .unwrap()
        })
    });
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    web(&mut c);
    web_api::api(&mut c);
    c.final_summary();
}
