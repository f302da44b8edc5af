//! Server nonces (RFC 9449 §8, §9): required when configured, answered with `use_dpop_nonce`
//! and a fresh `DPoP-Nonce`, keyed from the session key ring and kept across its rotation.

use std::time::Duration;

use super::*;
use sealed_session::dpop::{DpopError, NonceError};

const LIFETIME: Duration = Duration::from_secs(60);

fn nonce_api(r: &Rig) -> (Router, std::sync::Arc<SessionManager>) {
    api(r, |l| l.with_dpop(verifier()).with_dpop_nonces(LIFETIME).unwrap())
}

fn nonce_of(reply: &Reply) -> String {
    let nonce = reply.headers.get("dpop-nonce").expect("a DPoP-Nonce header");
    nonce.to_str().unwrap().to_owned()
}

async fn call_with_nonce(
    r: &Rig,
    app: &Router,
    key: &ClientKey,
    (method, path): (&str, &str),
    token: Option<&str>,
    nonce: &str,
) -> Reply {
    let mut c = claims(r, method, path, token);
    c["nonce"] = json!(nonce);
    let p = key.proof_with(&key.header(), &c);
    send_api(app, dpop_request(method, path, token, &[&p])).await
}

#[tokio::test]
async fn a_proof_without_the_nonce_gets_one_and_the_retry_succeeds() {
    let r = rig(Policy::default());
    let (app, _) = nonce_api(&r);
    let key = ClientKey::es256();
    let first = call(&r, &app, &key, "POST", "/login", None).await;
    assert_refused(&first, "use_dpop_nonce");
    assert!(r.events.saw(EventKind::DpopProofRefused(DpopError::UseNonce(
        NonceError::Missing
    ))));
    let nonce = nonce_of(&first);
    let login = call_with_nonce(&r, &app, &key, ("POST", "/login"), None, &nonce).await;
    let token = login.token();
    let nonce = nonce_of(&login);
    let me = call_with_nonce(&r, &app, &key, ("GET", "/me"), Some(&token), &nonce).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(
        me.headers.get("dpop-nonce").map(|v| v.len()),
        Some(32),
        "a fresh one each time"
    );
    // A refused token still gets a nonce, and so does a DPoP challenge without credentials.
    let other = call_with_nonce(
        &r,
        &app,
        &ClientKey::es256(),
        ("GET", "/me"),
        Some(&token),
        &nonce,
    )
    .await;
    assert_refused_token(&other);
    assert!(other.headers.contains_key("dpop-nonce"));
    assert!(call_api(&app, "GET", "/me", None)
        .await
        .headers
        .contains_key("dpop-nonce"));
    // Bearer-only traffic is not DPoP's business.
    let bearer = api_login(&app, b"");
    let bearer = bearer.await;
    let me = call_api(&app, "GET", "/me", Some(&bearer)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert!(!me.headers.contains_key("dpop-nonce"));
}

#[tokio::test]
async fn stale_forged_and_foreign_nonces_are_use_dpop_nonce() {
    let r = rig(Policy::default());
    let (app, _) = nonce_api(&r);
    let key = ClientKey::ed25519();
    let nonce = nonce_of(&call(&r, &app, &key, "POST", "/login", None).await);
    r.clock.advance(LIFETIME);
    let stale = call_with_nonce(&r, &app, &key, ("POST", "/login"), None, &nonce).await;
    assert_refused(&stale, "use_dpop_nonce");
    assert!(r.events.saw(EventKind::DpopProofRefused(DpopError::UseNonce(
        NonceError::Expired
    ))));
    // Issued under another key: forged here.
    let foreign = sealed_session::dpop::DpopNonces::new(&[9; 32]).issue_at(r.clock.now());
    let forged = call_with_nonce(&r, &app, &key, ("POST", "/login"), None, &foreign).await;
    assert_refused(&forged, "use_dpop_nonce");
    assert!(r.events.saw(EventKind::DpopProofRefused(DpopError::UseNonce(
        NonceError::Forged
    ))));
    // The fresh nonce of the refusal works.
    let retry = call_with_nonce(&r, &app, &key, ("POST", "/login"), None, &nonce_of(&forged)).await;
    assert_eq!(retry.status, StatusCode::OK, "{}", retry.body);
}

#[tokio::test]
async fn nonces_follow_the_key_ring_through_a_rotation() {
    let r = rig(Policy::default());
    let (app, manager) = nonce_api(&r);
    let key = ClientKey::es256();
    let before = nonce_of(&call(&r, &app, &key, "POST", "/login", None).await);
    // Phase 2 of the rotation: key 2 is primary, key 1 accept-only.
    manager
        .keys()
        .modify(|ring| {
            ring.insert(KeyId(2), KeyState::AcceptOnly, SessionKey::generate()?)?;
            ring.promote(KeyId(2))
        })
        .unwrap();
    let reply = call_with_nonce(&r, &app, &key, ("POST", "/login"), None, &before).await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "the previous key's nonce: {}",
        reply.body
    );
    let after = nonce_of(&reply);
    assert_ne!(after, before, "issued under the new primary");
    // Key 1 retired: its nonces go with it.
    manager.keys().modify(|ring| ring.retire(KeyId(1))).unwrap();
    let old = call_with_nonce(&r, &app, &key, ("POST", "/login"), None, &before).await;
    assert_refused(&old, "use_dpop_nonce");
    let new = call_with_nonce(&r, &app, &key, ("POST", "/login"), None, &after).await;
    assert_eq!(new.status, StatusCode::OK, "{}", new.body);
}
