//! The `web/api` group of benches/web.rs: bearer and DPoP requests through the layer, and the
//! bound verify alone.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request};
use axum::routing::post;
use axum::Router;
use base64::Engine;
use criterion::{black_box, BatchSize, Criterion};
use serde_json::json;
use tower::ServiceExt;

use super::dpop_support::{ath, claims, ClientKey, NOW, URI};
use sealed_session::dpop::{DpopConfig, DpopRequest, DpopVerifier};
use sealed_session::revocation::{FilterConfig, MemoryStore};
use sealed_session::web::SessionLayer;
use sealed_session::{ClientContext, KeyRing, Login, ManualClock, Policy, Rotation, SessionManager};

const USER_AGENT: &str = "bench-api-client/1.0";

fn request(authorization: &str, proof: Option<&str>) -> Request<Body> {
    let mut b = Request::post("/transfer")
        .header(header::HOST, "api.example")
        .header(header::USER_AGENT, USER_AGENT)
        .header(header::AUTHORIZATION, authorization);
    if let Some(p) = proof {
        b = b.header("dpop", p);
    }
    let mut req = b.body(Body::empty()).unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40_000))));
    req
}

async fn call(router: &Router, request: Request<Body>) -> Option<String> {
    let response = router.clone().oneshot(request).await.unwrap();
    assert!(response.status().is_success(), "{:?}", response.status());
    let nonce = response
        .headers()
        .get("dpop-nonce")
        .map(|v| v.to_str().unwrap().to_owned());
    axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
    nonce
}

fn layered(manager: &Arc<SessionManager>, nonces: bool) -> Router {
    let verifier = DpopVerifier::new(DpopConfig::default().with_replay_capacity(1 << 22)).unwrap();
    let mut layer = SessionLayer::new(manager.clone())
        .with_bearer_tokens()
        .with_dpop(verifier)
        .with_public_origin("https://api.example")
        .unwrap()
        .with_maintenance_every(None);
    if nonces {
        layer = layer.with_dpop_nonces(Duration::from_secs(300)).unwrap();
    }
    Router::new()
        .route("/transfer", post(|| async { "sent\n" }))
        .layer(layer)
}

pub(crate) fn api(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = Arc::new(MemoryStore::new(FilterConfig::default()).unwrap());
    // The proofs of tests/dpop_support are dated NOW: the clock stays there.
    let manager = Arc::new(
        SessionManager::builder(KeyRing::generate().unwrap(), "bench", store)
            .with_policy(Policy::default().with_rotation(Rotation::Off))
            .with_clock(Arc::new(ManualClock::new(NOW)))
            .build()
            .unwrap(),
    );
    let client = ClientContext::new(Some(IpAddr::V4(Ipv4Addr::LOCALHOST)), Some(USER_AGENT));
    let key = ClientKey::es256();
    let jkt = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(key.jkt())
        .unwrap();
    let bound = client.with_app_value(&jkt);
    let login = |l: Login, ctx: &ClientContext<'_>| manager.authenticate_with(None, l, ctx).unwrap();
    let bearer = login(Login::new("alice"), &client)
        .token
        .expose_secret()
        .to_owned();
    let dpop = login(Login::new("alice").bound_to_app_value(), &bound)
        .token
        .expose_secret()
        .to_owned();
    let proof = |nonce: Option<&str>| {
        let mut c = claims();
        c["ath"] = json!(ath(dpop.as_bytes()));
        if let Some(n) = nonce {
            c["nonce"] = json!(n);
        }
        key.proof_with(&key.header(), &c)
    };
    let (plain, with_nonces) = (layered(&manager, false), layered(&manager, true));
    let (bearer_auth, dpop_auth) = (format!("Bearer {bearer}"), format!("DPoP {dpop}"));
    // One nonce for the whole run: the clock does not move, so it never goes stale.
    let nonce = rt.block_on(async {
        let refused = with_nonces
            .clone()
            .oneshot(request(&dpop_auth, Some(&proof(None))));
        let refused = refused.await.unwrap();
        assert_eq!(refused.status(), 401);
        refused.headers()["dpop-nonce"].to_str().unwrap().to_owned()
    });
    rt.block_on(async {
        call(&plain, request(&dpop_auth, Some(&proof(None)))).await;
        assert!(
            call(&with_nonces, request(&dpop_auth, Some(&proof(Some(&nonce)))))
                .await
                .is_some()
        );
    });

    let mut g = c.benchmark_group("web/api");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    g.bench_function("bearer", |b| {
        b.iter(|| rt.block_on(call(black_box(&plain), request(&bearer_auth, None))))
    });
    g.bench_function("dpop", |b| {
        b.iter_batched(
            || request(&dpop_auth, Some(&proof(None))),
            |req| rt.block_on(call(black_box(&plain), req)),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("dpop_nonce", |b| {
        b.iter_batched(
            || request(&dpop_auth, Some(&proof(Some(&nonce)))),
            |req| rt.block_on(call(black_box(&with_nonces), req)),
            BatchSize::SmallInput,
        )
    });
    // The proof alone, as the layer verifies it (same verifier settings, URI and `ath`).
    let alone = DpopVerifier::new(DpopConfig::default().with_replay_capacity(1 << 22)).unwrap();
    let target = DpopRequest::new("POST", URI).with_access_token(dpop.as_bytes());
    g.bench_function("proof_only", |b| {
        b.iter_batched(
            || proof(None),
            |p| alone.verify_at(black_box(&p), &target, NOW).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("verify_bound_only", |b| {
        b.iter(|| manager.verify(black_box(&dpop), black_box(&bound)).unwrap())
    });
    g.finish();
}
