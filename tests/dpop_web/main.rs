//! DPoP (RFC 9449) through the session layer, in process (tower `oneshot`, proofs made with
//! ring keys by `tests/dpop_support`): the bound flow here; stolen tokens, forged and replayed
//! proofs in `attacks`; server nonces and key rotation in `nonces`. Every refusal is checked
//! for its status, its `WWW-Authenticate` and a body that says no more than the RFC code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

#[path = "../common/mod.rs"]
mod common;
#[path = "../dpop_support/mod.rs"]
mod dpop_support;

mod attacks;
mod nonces;

use axum::body::Body;
use axum::Router;
use common::api::*;
use common::*;
use dpop_support::{ath, jti, ClientKey};
use http::{header, StatusCode};
use sealed_session::dpop::{DpopConfig, DpopVerifier};
use sealed_session::token::Flags;
use sealed_session::web::SessionLayer;
use sealed_session::*;
use serde_json::{json, Value};

/// The origin `api_request`'s `Host` names, with the layer's default `https`.
const ORIGIN: &str = "https://api.bank.test";
const ALGS: &str = r#"algs="ES256 EdDSA""#;

fn verifier() -> DpopVerifier {
    DpopVerifier::new(DpopConfig::default()).unwrap()
}

/// The API of `tests/common/api.rs` with DPoP on (and bearer tokens, as that router has).
fn dpop_api(r: &Rig) -> Router {
    api(r, |l| l.with_dpop(verifier())).0
}

/// The claims of a good proof for `method path` now.
fn claims(r: &Rig, method: &str, path: &str, token: Option<&str>) -> Value {
    let mut c =
        json!({"jti": jti(), "htm": method, "htu": format!("{ORIGIN}{path}"), "iat": r.clock.now().0});
    if let Some(t) = token {
        c["ath"] = json!(ath(t.as_bytes()));
    }
    c
}

fn proof(r: &Rig, key: &ClientKey, method: &str, path: &str, token: Option<&str>) -> String {
    key.proof_with(&key.header(), &claims(r, method, path, token))
}

/// A request with `Authorization: DPoP <token>` (if any) and the `DPoP` headers given.
fn dpop_request(method: &str, path: &str, token: Option<&str>, proofs: &[&str]) -> http::Request<Body> {
    let mut b = api_request(method, path, None);
    if let Some(t) = token {
        b = b.header(header::AUTHORIZATION, format!("DPoP {t}"));
    }
    for p in proofs {
        b = b.header("dpop", *p);
    }
    b.body(Body::empty()).unwrap()
}

/// One request of a client holding `key`: a fresh, correct proof for it.
async fn call(
    r: &Rig,
    app: &Router,
    key: &ClientKey,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> Reply {
    let p = proof(r, key, method, path, token);
    send_api(app, dpop_request(method, path, token, &[&p])).await
}

/// A DPoP login: the token and its JSON.
async fn login(r: &Rig, app: &Router, key: &ClientKey) -> String {
    let reply = call(r, app, key, "POST", "/login", None).await;
    let body: Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(body["token_type"], "DPoP", "{}", reply.body);
    reply.token()
}

/// A refusal as the client sees it: only the RFC code, in the challenge and the body.
#[track_caller]
fn assert_refused(reply: &Reply, code: &str) {
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    assert_eq!(
        reply.challenge(),
        Some(format!(r#"DPoP error="{code}", {ALGS}"#).as_str())
    );
    assert_eq!(reply.body, format!(r#"{{"error":"{code}"}}"#));
    assert_eq!(reply.headers.get_all(header::WWW_AUTHENTICATE).iter().count(), 1);
}

fn handle_of(reply: &Reply) -> String {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body.split('|').nth(2).unwrap().to_owned()
}

#[tokio::test]
async fn a_dpop_client_logs_in_uses_refreshes_and_logs_out() {
    // Reject (not revoke) on a mismatch, so the probe below leaves the session alive.
    let r = rig(Policy::default().with_mismatch_action(MismatchAction::Reject));
    let app = dpop_api(&r);
    for key in [ClientKey::es256(), ClientKey::ed25519()] {
        let reply = call(&r, &app, &key, "POST", "/login", None).await;
        assert!(reply.headers.get(header::SET_COOKIE).is_none());
        assert_eq!(reply.headers[header::CACHE_CONTROL], "no-store");
        assert!(reply.body.contains(r#""token_type":"DPoP""#), "{}", reply.body);
        assert!(reply.headers.get("dpop-nonce").is_none(), "nonces are off");
        let token = reply.token();

        let me = call(&r, &app, &key, "GET", "/me", Some(&token)).await;
        let handle = handle_of(&me);
        let fresh = call(&r, &app, &key, "POST", "/refresh", Some(&token)).await;
        assert!(fresh.body.contains(r#""token_type":"DPoP""#), "{}", fresh.body);
        let fresh = fresh.token();
        assert_ne!(fresh, token);
        let me = call(&r, &app, &key, "GET", "/me", Some(&fresh)).await;
        assert_eq!(handle_of(&me), handle, "same session");
        // The refreshed token is still bound to the key: another key's proof does not match.
        let other = call(&r, &app, &ClientKey::es256(), "GET", "/me", Some(&fresh)).await;
        assert_refused_token(&other);

        let out = call(&r, &app, &key, "POST", "/logout", Some(&fresh)).await;
        assert_eq!(out.status, StatusCode::NO_CONTENT);
        assert!(out.headers.get("clear-site-data").is_none());
        for replayed in [&fresh, &token] {
            let again = call(&r, &app, &key, "GET", "/me", Some(replayed)).await;
            assert_refused_token(&again);
        }
    }
}

#[track_caller]
fn assert_refused_token(reply: &Reply) {
    assert_refused(reply, "invalid_token");
}

#[tokio::test]
async fn the_binding_is_the_thumbprint_behind_the_app_value_flag() {
    let r = rig(Policy::default());
    let app = dpop_api(&r);
    let key = ClientKey::es256();
    let token = login(&r, &app, &key).await;
    // The same session through the manager: the flag is set, and the app value is the
    // RFC 7638 thumbprint's 32 bytes (spec/sessions.md §6, §8.2).
    let (_, manager) = api(&r, |l| l);
    let jkt = base64_decode(&key.jkt());
    let client = ClientContext::new(ip("203.0.113.7"), Some(common::web::UA));
    let verified = manager.verify(&token, &client.with_app_value(&jkt)).unwrap();
    let flags = verified.session.binding_flags();
    assert_eq!(
        flags,
        Flags(Flags::BIND_IP | Flags::BIND_USER_AGENT | Flags::BIND_APP_VALUE)
    );
    assert_eq!(
        manager.verify(&token, &client).unwrap_err().reason(),
        Reason::Unbound
    );
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .unwrap()
}

#[tokio::test]
async fn without_a_proof_the_login_is_a_bearer_one_and_dpop_does_not_take_it() {
    let r = rig(Policy::default());
    let app = dpop_api(&r);
    let bearer = api_login(&app, b"").await;
    assert_eq!(
        call_api(&app, "GET", "/me", Some(&bearer)).await.status,
        StatusCode::OK
    );
    // RFC 9449 §7.1: the proof's key must match the token's, and a bearer token has none.
    let key = ClientKey::es256();
    let as_dpop = call(&r, &app, &key, "GET", "/me", Some(&bearer)).await;
    assert_refused_token(&as_dpop);
    assert!(r.events.saw(EventKind::BindingMismatch));
    assert_eq!(
        call_api(&app, "GET", "/me", Some(&bearer)).await.status,
        StatusCode::OK,
        "not revoked: presenting a bearer token as DPoP proves no theft"
    );
}

#[tokio::test]
async fn a_dpop_only_layer_challenges_with_dpop_and_wants_a_proof_at_login() {
    let r = rig(Policy::default());
    let app = {
        let (_, manager) = api(&r, |l| l);
        let layer = SessionLayer::new(manager.clone())
            .with_dpop(verifier())
            .with_maintenance_every(None);
        let router = Router::new().route(
            "/login",
            axum::routing::post(|c: sealed_session::web::SessionControl| async move {
                c.login_for_api(Login::new("alice")).await
            }),
        );
        router.layer(layer)
    };
    let bare = send_api(&app, dpop_request("POST", "/login", None, &[])).await;
    assert_refused(&bare, "invalid_dpop_proof");
    let key = ClientKey::ed25519();
    assert!(login(&r, &app, &key).await.len() > 40);
    let bearer = send_api(
        &app,
        api_request("POST", "/login", Some("x"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_refused(&bearer, "invalid_dpop_proof");

    // Both schemes on: a request without credentials hears both challenges (RFC 9110 §11.6.1).
    let both = dpop_api(&r);
    let anonymous = call_api(&both, "GET", "/me", None).await;
    let challenges: Vec<_> = anonymous
        .headers
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(challenges, ["Bearer".to_owned(), format!("DPoP {ALGS}")]);
}

#[tokio::test]
async fn htu_names_the_public_origin_when_one_is_set() {
    let r = rig(Policy::default());
    let (app, _) = api(&r, |l| {
        l.with_dpop(verifier())
            .with_public_origin("https://API.example:443")
            .unwrap()
    });
    let key = ClientKey::es256();
    // The Host header says api.bank.test; the configured origin wins.
    let by_host = call(&r, &app, &key, "POST", "/login", None).await;
    assert_refused(&by_host, "invalid_dpop_proof");
    let mut c = claims(&r, "POST", "/login", None);
    c["htu"] = json!("https://api.example/login");
    let p = key.proof_with(&key.header(), &c);
    let reply = send_api(&app, dpop_request("POST", "/login", None, &[&p])).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}
