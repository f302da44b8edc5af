//! What an attacker holding a DPoP-bound token, or a captured proof, can try (RFC 9449 §11),
//! and what each gets: a 401 naming only the RFC code.

use super::*;
use sealed_session::dpop::DpopError;

/// A logged-in victim: the app, the victim's key and token.
async fn victim(policy: Policy) -> (Rig, Router, ClientKey, String) {
    let r = rig(policy);
    let app = dpop_api(&r);
    let key = ClientKey::es256();
    let token = login(&r, &app, &key).await;
    (r, app, key, token)
}

async fn victim_still_served(r: &Rig, app: &Router, key: &ClientKey, token: &str) -> bool {
    call(r, app, key, "GET", "/me", Some(token)).await.status == StatusCode::OK
}

#[tokio::test]
async fn a_stolen_token_with_a_proof_of_another_key_is_a_binding_mismatch() {
    for (action, revoked) in [
        (MismatchAction::RejectAndRevoke, true),
        (MismatchAction::Reject, false),
    ] {
        let (r, app, key, token) = victim(Policy::default().with_mismatch_action(action)).await;
        let thief = ClientKey::es256();
        let stolen = call(&r, &app, &thief, "GET", "/me", Some(&token)).await;
        assert_refused_token(&stolen);
        assert!(r.events.saw(EventKind::BindingMismatch));
        assert_eq!(
            victim_still_served(&r, &app, &key, &token).await,
            !revoked,
            "{action:?}"
        );
    }
}

#[tokio::test]
async fn a_stolen_token_without_a_proof_is_refused_before_it_is_opened() {
    let (r, app, key, token) = victim(Policy::default()).await;
    let bare = send_api(&app, dpop_request("GET", "/me", Some(&token), &[])).await;
    assert_refused(&bare, "invalid_dpop_proof");
    assert!(r.events.saw(EventKind::DpopProofRefused(DpopError::HeaderCount)));
    assert!(
        !r.events.saw(EventKind::BindingMismatch),
        "the token was not looked at"
    );
    assert!(victim_still_served(&r, &app, &key, &token).await);
}

#[tokio::test]
async fn a_dpop_bound_token_sent_as_bearer_or_cookie_is_a_downgrade_and_refused() {
    let (r, app, key, token) = victim(Policy::default().with_mismatch_action(MismatchAction::Reject)).await;
    let bearer = call_api(&app, "GET", "/me", Some(&token)).await;
    assert_eq!(bearer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(bearer.challenge(), Some(r#"Bearer error="invalid_token""#));
    assert_eq!(bearer.body, r#"{"error":"invalid_token"}"#);
    // Even with a valid proof of the right key alongside: RFC 9449 §7.2.
    let p = proof(&r, &key, "GET", "/me", None);
    let with_proof = api_request("GET", "/me", Some(&token)).header("dpop", p);
    let with_proof = send_api(&app, with_proof.body(Body::empty()).unwrap()).await;
    assert_eq!(with_proof.status, StatusCode::UNAUTHORIZED, "{}", with_proof.body);
    assert_eq!(with_proof.challenge(), Some(r#"Bearer error="invalid_token""#));
    let cookie = cookie_request("GET", "/whoami", Some(&format!("__Host-session={token}")));
    assert_eq!(send_api(&app, cookie).await.body, "anonymous");
    assert!(r.events.saw(EventKind::BindingMismatch));
    // Under the default policy the downgrade revokes the session.
    let (r, app, key, token) = victim(Policy::default()).await;
    assert_eq!(
        call_api(&app, "GET", "/me", Some(&token)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert!(!victim_still_served(&r, &app, &key, &token).await);
}

#[tokio::test]
async fn a_replayed_proof_is_refused() {
    let (r, app, key, token) = victim(Policy::default()).await;
    let p = proof(&r, &key, "GET", "/me", Some(&token));
    let first = send_api(&app, dpop_request("GET", "/me", Some(&token), &[&p])).await;
    assert_eq!(first.status, StatusCode::OK);
    let again = send_api(&app, dpop_request("GET", "/me", Some(&token), &[&p])).await;
    assert_refused(&again, "invalid_dpop_proof");
    assert!(r.events.saw(EventKind::DpopProofRefused(DpopError::Replayed)));
    // A login proof replayed cannot start a second session bound to the victim's key.
    let login_proof = proof(&r, &key, "POST", "/login", None);
    assert_eq!(
        send_api(&app, dpop_request("POST", "/login", None, &[&login_proof]))
            .await
            .status,
        StatusCode::OK
    );
    let replayed_login = send_api(&app, dpop_request("POST", "/login", None, &[&login_proof])).await;
    assert_refused(&replayed_login, "invalid_dpop_proof");
}

/// Every way to get a proof wrong, each refused with the same answer, and its precise reason
/// in the event only.
#[tokio::test]
async fn forged_and_misdirected_proofs_are_refused_with_one_answer() {
    let (r, app, key, token) = victim(Policy::default()).await;
    let now = r.clock.now().0;
    let good = || claims(&r, "GET", "/me", Some(&token));
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut c = good();
        edit(&mut c);
        key.proof_with(&key.header(), &c)
    };
    let header_with = |edit: &dyn Fn(&mut Value)| {
        let mut h = key.header();
        edit(&mut h);
        key.proof_with(&h, &good())
    };
    let signed_none = {
        use base64::Engine;
        let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let h = json!({"typ": "dpop+jwt", "alg": "none", "jwk": key.jwk()});
        format!("{}.{}.", b64(&h), b64(&good()))
    };
    let cases: Vec<(&str, String, DpopError)> = vec![
        (
            "another method",
            with(&|c| c["htm"] = json!("POST")),
            DpopError::MethodMismatch,
        ),
        (
            "another URL",
            with(&|c| c["htu"] = json!(format!("{ORIGIN}/transfer"))),
            DpopError::UriMismatch,
        ),
        (
            "another host",
            with(&|c| c["htu"] = json!("https://evil.example/me")),
            DpopError::UriMismatch,
        ),
        ("alg none", signed_none, DpopError::UnsupportedAlgorithm),
        (
            "HMAC alg",
            header_with(&|h| h["alg"] = json!("HS256")),
            DpopError::UnsupportedAlgorithm,
        ),
        (
            "private key",
            header_with(&|h| h["jwk"]["d"] = json!("AAAA")),
            DpopError::PrivateKey,
        ),
        ("1 MB", "e".repeat(1 << 20), DpopError::Oversized),
        (
            "iat far past",
            with(&|c| c["iat"] = json!(now - 3600)),
            DpopError::TooOld,
        ),
        (
            "iat far future",
            with(&|c| c["iat"] = json!(now + 3600)),
            DpopError::FromFuture,
        ),
        (
            "no ath",
            with(&|c| drop(c.as_object_mut().unwrap().remove("ath"))),
            DpopError::AthMissing,
        ),
        (
            "wrong ath",
            with(&|c| c["ath"] = json!(ath(b"another token"))),
            DpopError::AthMismatch,
        ),
        (
            "not signed by jwk",
            header_with(&|h| h["jwk"] = ClientKey::es256().jwk()),
            DpopError::BadSignature,
        ),
    ];
    let mut answers = std::collections::HashSet::new();
    for (name, bad, reason) in cases {
        let reply = send_api(&app, dpop_request("GET", "/me", Some(&token), &[&bad])).await;
        assert_refused(&reply, "invalid_dpop_proof");
        assert!(r.events.saw(EventKind::DpopProofRefused(reason)), "{name}");
        let headers: Vec<_> = reply.headers.iter().map(|(n, v)| format!("{n}: {v:?}")).collect();
        answers.insert((reply.status, headers, reply.body));
    }
    assert_eq!(answers.len(), 1, "no oracle: {answers:#?}");
    let two = proof(&r, &key, "GET", "/me", Some(&token));
    let twice = send_api(&app, dpop_request("GET", "/me", Some(&token), &[&two, &two])).await;
    assert_refused(&twice, "invalid_dpop_proof");
    assert!(
        !r.events.saw(EventKind::BindingMismatch),
        "no refused proof opened the token"
    );
    assert!(victim_still_served(&r, &app, &key, &token).await);
}
