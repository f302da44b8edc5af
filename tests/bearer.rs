//! Bearer sessions through the axum service (tower `oneshot`, time moved by a ManualClock):
//! a client that refreshes stays signed in for the whole session, requests in flight survive
//! a refresh, reuse after the grace window revokes, RFC 6750 refusals without an oracle,
//! tokens only from the Authorization header, application data and session handles.
#![cfg(feature = "web")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::time::Duration;

use axum::body::Body;
use common::api::*;
use common::*;
use http::{header, StatusCode};
use sealed_session::*;

const MINUTE: Duration = Duration::from_secs(60);

fn handle_of(reply: &Reply) -> String {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body.split('|').nth(2).unwrap().to_owned()
}

#[tokio::test]
async fn a_refreshing_client_stays_signed_in_until_the_absolute_deadline() {
    // Rolling rotation after 60 s would strand a bearer client that never reads Set-Cookie.
    let r = rig(Policy::default().with_rotation(Rotation::After(MINUTE)));
    let (app, _) = api(&r, |l| l);
    let mut token = api_login(&app, b"").await;
    let deadline = T0.saturating_add(r.manager.policy().absolute_lifetime());
    let (mut refreshes, mut refused) = (0, 0);
    while r.manager.now().saturating_add(20 * MINUTE) < deadline {
        // A busy client: requests every few minutes, a refresh every 20 (the token lives 30).
        for _ in 0..4 {
            r.clock.advance(5 * MINUTE);
            let me = call_api(&app, "GET", "/me", Some(&token)).await;
            refused += usize::from(me.status != StatusCode::OK);
            assert!(me.headers.get(header::SET_COOKIE).is_none(), "never a cookie");
        }
        let next = call_api(&app, "POST", "/refresh", Some(&token)).await;
        refused += usize::from(next.status != StatusCode::OK);
        token = next.token();
        refreshes += 1;
    }
    assert_eq!(refused, 0);
    assert!(refreshes >= 30, "{refreshes}");
    // The last token is capped at the deadline, and expires_in says so.
    let last = call_api(&app, "POST", "/refresh", Some(&token)).await;
    let left = deadline.secs() - r.manager.now().secs();
    assert!(
        last.body.ends_with(&format!(r#""expires_in":{left}}}"#)),
        "{}",
        last.body
    );
    token = last.token();
    r.clock.set(deadline.saturating_add(Duration::from_secs(1)));
    assert_eq!(
        call_api(&app, "GET", "/me", Some(&token)).await.status,
        StatusCode::OK,
        "leeway"
    );
    r.clock.advance(Duration::from_secs(10));
    for uri in ["/me", "/refresh"] {
        let method = if uri == "/me" { "GET" } else { "POST" };
        let after = call_api(&app, method, uri, Some(&token)).await;
        assert_eq!(after.status, StatusCode::UNAUTHORIZED, "{uri}");
        assert_eq!(after.challenge(), Some(r#"Bearer error="invalid_token""#));
    }
}

#[tokio::test]
async fn bearer_requests_are_never_rotated_but_cookies_still_are() {
    let r = rig(Policy::default().with_rotation(Rotation::EveryRequest));
    let (app, _) = api(&r, |l| l);
    let token = api_login(&app, b"").await;
    for _ in 0..5 {
        r.clock.advance(MINUTE);
        let me = call_api(&app, "GET", "/me", Some(&token)).await;
        assert_eq!(me.status, StatusCode::OK);
        assert!(me.headers.get(header::SET_COOKIE).is_none());
    }
    assert!(!r.events.saw(EventKind::ReuseDetected));
    // The same layer still rotates a cookie session on every request.
    let login = send_api(&app, cookie_request("POST", "/cookie/login", None)).await;
    let cookie = common::web::pair(login.headers[header::SET_COOKIE].to_str().unwrap());
    let me = send_api(&app, cookie_request("GET", "/whoami", Some(&cookie))).await;
    assert!(me.headers.get(header::SET_COOKIE).is_some(), "cookie rotated");
}

#[tokio::test]
async fn requests_in_flight_with_the_old_token_work_inside_the_grace_window() {
    let r = rig(Policy::default());
    let (app, _) = api(&r, |l| l);
    let old = api_login(&app, b"").await;
    // A refresh and requests that were already on their way with the same token.
    let (refreshed, a, b) = tokio::join!(
        call_api(&app, "POST", "/refresh", Some(&old)),
        call_api(&app, "GET", "/me", Some(&old)),
        call_api(&app, "GET", "/me", Some(&old)),
    );
    let new = refreshed.token();
    assert_eq!((a.status, b.status), (StatusCode::OK, StatusCode::OK));
    r.clock.advance(Duration::from_secs(4));
    assert_eq!(
        call_api(&app, "GET", "/me", Some(&old)).await.status,
        StatusCode::OK
    );
    // The old token cannot start a second branch: it may not refresh again.
    let again = call_api(&app, "POST", "/refresh", Some(&old)).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    assert!(r.events.saw(EventKind::GraceCopyRefused));
    assert_eq!(
        call_api(&app, "GET", "/me", Some(&new)).await.status,
        StatusCode::OK
    );
    assert!(!r.events.saw(EventKind::ReuseDetected));
}

#[tokio::test]
async fn reuse_after_the_grace_window_is_detected_and_revokes_the_session() {
    let r = rig(Policy::default());
    let (app, _) = api(&r, |l| l);
    let old = api_login(&app, b"").await;
    let new = call_api(&app, "POST", "/refresh", Some(&old)).await.token();
    // Grace 5 s, markers in 1 s buckets: gone for sure after 7 s.
    r.clock.advance(Duration::from_secs(8));
    let replay = call_api(&app, "GET", "/me", Some(&old)).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    assert!(r.events.saw(EventKind::ReuseDetected));
    assert!(r.events.saw(EventKind::SessionRevoked));
    let legit = call_api(&app, "GET", "/me", Some(&new)).await;
    assert_eq!(legit.status, StatusCode::UNAUTHORIZED, "the whole session ended");
}

#[tokio::test]
async fn refusals_follow_rfc_6750_and_every_invalid_token_looks_the_same() {
    let r = rig(Policy::default());
    let (app, _) = api(&r, |l| l);
    let none = call_api(&app, "GET", "/me", None).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        none.challenge(),
        Some("Bearer"),
        "§3.1: no error code without a token"
    );
    assert_eq!(none.headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(none.body, r#"{"error":"unauthorized"}"#);

    let good = api_login(&app, b"").await;
    let mut forged = good.clone().into_bytes();
    forged[40] = if forged[40] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let revoked = api_login(&app, b"").await;
    assert_eq!(
        call_api(&app, "POST", "/logout", Some(&revoked)).await.status,
        StatusCode::NO_CONTENT
    );
    let expired = api_login(&app, b"").await;
    let reused = api_login(&app, b"").await;
    call_api(&app, "POST", "/refresh", Some(&reused)).await.token();
    let stolen = api_login(&app, b"").await;
    r.clock.advance(Duration::from_secs(10));
    let other_app =
        rig(Policy::default())
            .manager
            .authenticate(None, "alice", Privilege::Authenticated, &alice());
    let other_app = other_app.unwrap().token.expose_secret().to_owned();

    let mut replies = Vec::new();
    for (what, token) in [
        ("forged", &forged),
        ("revoked", &revoked),
        ("reused", &reused),
        ("garbage", &"x".repeat(9)),
    ] {
        replies.push((what, call_api(&app, "GET", "/me", Some(token)).await));
    }
    replies.push(("other keys", call_api(&app, "GET", "/me", Some(&other_app)).await));
    let thief = std::net::SocketAddr::from(([198, 51, 100, 66], 40000));
    let elsewhere = api_request("GET", "/me", Some(&stolen)).extension(axum::extract::ConnectInfo(thief));
    let elsewhere = elsewhere.body(Body::empty()).unwrap();
    replies.push(("other client", send_api(&app, elsewhere).await));
    let empty = api_request("GET", "/me", None).header(header::AUTHORIZATION, "Bearer ");
    replies.push(("empty", send_api(&app, empty.body(Body::empty()).unwrap()).await));
    r.clock.advance(31 * MINUTE);
    replies.push(("expired", call_api(&app, "GET", "/me", Some(&expired)).await));

    let (_, first) = &replies[0];
    assert_eq!(first.status, StatusCode::UNAUTHORIZED);
    assert_eq!(first.challenge(), Some(r#"Bearer error="invalid_token""#));
    assert_eq!(first.body, r#"{"error":"invalid_token"}"#);
    for (what, reply) in &replies {
        assert_eq!(
            (reply.status, &reply.headers, &reply.body),
            (first.status, &first.headers, &first.body),
            "{what} differs"
        );
    }
    assert!(r.events.saw(EventKind::ReuseDetected) && r.events.saw(EventKind::BindingMismatch));
}

#[tokio::test]
async fn insufficient_level_is_403_insufficient_scope_until_elevated() {
    let r = rig(Policy::default());
    let (app, _) = api(&r, |l| l);
    let token = api_login(&app, b"").await;
    let low = call_api(&app, "POST", "/transfer", Some(&token)).await;
    assert_eq!(low.status, StatusCode::FORBIDDEN);
    assert_eq!(low.challenge(), Some(r#"Bearer error="insufficient_scope""#));
    assert_eq!(low.body, r#"{"error":"insufficient_scope"}"#);
    let elevated = call_api(&app, "POST", "/elevate", Some(&token)).await.token();
    assert_eq!(
        call_api(&app, "POST", "/transfer", Some(&elevated)).await.status,
        StatusCode::OK
    );
    // The elevation lapses on its own, with no replacement token to miss.
    r.clock.advance(r.manager.policy().elevated_ttl());
    let lapsed = call_api(&app, "POST", "/transfer", Some(&elevated)).await;
    assert_eq!(lapsed.status, StatusCode::FORBIDDEN);
    assert!(lapsed.headers.get(header::SET_COOKIE).is_none());
    assert_eq!(
        call_api(&app, "GET", "/me", Some(&elevated)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_token_counts_only_in_the_authorization_header() {
    let r = rig(Policy::default());
    let (app, _) = api(&r, |l| l);
    let token = api_login(&app, b"").await;
    // RFC 6750 §2.2 (form body) and §2.3 (query) are not supported; nor is any other cookie.
    let in_cookie = api_request("GET", "/me", None).header(header::COOKIE, format!("access_token={token}"));
    let in_query = api_request("GET", &format!("/me?access_token={token}"), None);
    let in_form = api_request("POST", "/refresh", None)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::CONTENT_LENGTH, token.len() + 13);
    for (what, req) in [
        ("cookie", in_cookie.body(Body::empty()).unwrap()),
        ("query", in_query.body(Body::empty()).unwrap()),
        (
            "form",
            in_form.body(Body::from(format!("access_token={token}"))).unwrap(),
        ),
    ] {
        let reply = send_api(&app, req).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(reply.challenge(), Some("Bearer"), "{what}: as if no token came");
    }
    assert!(r.events.saw(EventKind::TokenInUnexpectedPlace));
    assert_eq!(
        call_api(&app, "GET", "/me", Some(&token)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn app_data_round_trips_and_survives_every_transition() {
    let r = rig(Policy::default());
    let (app, _) = api(&r, |l| l);
    let token = api_login(&app, b"tenant=42").await;
    let me = call_api(&app, "GET", "/me", Some(&token)).await;
    assert!(
        me.body.starts_with("alice|Authenticated|") && me.body.ends_with("|tenant=42"),
        "{}",
        me.body
    );
    let mut token = token;
    for (uri, level) in [
        ("/refresh", "Authenticated"),
        ("/elevate", "Elevated"),
        ("/step-down", "Authenticated"),
    ] {
        token = call_api(&app, "POST", uri, Some(&token)).await.token();
        let me = call_api(&app, "GET", "/me", Some(&token)).await;
        assert!(
            me.body.contains(&format!("|{level}|")) && me.body.ends_with("|tenant=42"),
            "{uri}: {}",
            me.body
        );
    }
    // A new login starts with its own data only.
    let fresh = api_login(&app, b"").await;
    assert!(call_api(&app, "GET", "/me", Some(&fresh))
        .await
        .body
        .ends_with('|'));
    let too_long = api_request("POST", "/login", None)
        .body(Body::from(vec![b'x'; 257]))
        .unwrap();
    let refused = send_api(&app, too_long).await;
    assert_eq!(
        (refused.status, refused.body.as_str()),
        (StatusCode::BAD_REQUEST, r#"{"error":"invalid_request"}"#)
    );
}

#[tokio::test]
async fn the_handle_is_stable_for_a_session_and_differs_between_sessions() {
    let r = rig(Policy::default());
    let (app, manager) = api(&r, |l| l);
    let mut token = api_login(&app, b"").await;
    let handle = handle_of(&call_api(&app, "GET", "/me", Some(&token)).await);
    assert_eq!(handle.len(), 64);
    let session_id = manager.verify(&token, &alice()).unwrap().session.session_id().0;
    let id_hex: String = session_id.iter().map(|b| format!("{b:02x}")).collect();
    assert!(!handle.contains(&id_hex), "never the raw session id");
    for uri in ["/refresh", "/elevate", "/step-down"] {
        token = call_api(&app, "POST", uri, Some(&token)).await.token();
        assert_eq!(
            handle_of(&call_api(&app, "GET", "/me", Some(&token)).await),
            handle,
            "{uri}"
        );
    }
    // Key rotation: key 2 becomes primary; the next token is sealed under it.
    let ring = KeyRing::parse(&manager.keys().current().to_key_file_text()).unwrap();
    let mut ring = ring
        .with_key(KeyId(2), KeyState::AcceptOnly, SessionKey::generate().unwrap())
        .unwrap();
    ring.promote(KeyId(2)).unwrap();
    manager.replace_keys(ring).unwrap();
    token = call_api(&app, "POST", "/refresh", Some(&token)).await.token();
    assert_eq!(
        manager.verify(&token, &alice()).unwrap().session.key_id(),
        KeyId(2)
    );
    assert_eq!(
        handle_of(&call_api(&app, "GET", "/me", Some(&token)).await),
        handle,
        "key rotation"
    );
    let other = api_login(&app, b"").await;
    assert_ne!(
        handle_of(&call_api(&app, "GET", "/me", Some(&other)).await),
        handle
    );
}

#[tokio::test]
async fn cookie_and_bearer_sessions_do_not_cross() {
    let r = rig(Policy::default());
    let (app, _) = api(&r, |l| l);
    // A cookie session asking for its token in a body: a page's script would read it.
    let login = send_api(&app, cookie_request("POST", "/cookie/login", None)).await;
    let cookie = common::web::pair(login.headers[header::SET_COOKIE].to_str().unwrap());
    let leak = send_api(&app, cookie_request("POST", "/refresh", Some(&cookie))).await;
    assert_eq!(
        (leak.status, leak.body.as_str()),
        (StatusCode::BAD_REQUEST, "bad request")
    );
    // A bearer session asking for a cookie: it would be left holding a retired token.
    let token = api_login(&app, b"").await;
    let stranded = call_api(&app, "POST", "/cookie/elevate", Some(&token)).await;
    assert_eq!(stranded.status, StatusCode::BAD_REQUEST);
    assert_eq!(stranded.body, r#"{"error":"invalid_request"}"#);
    assert!(stranded.headers.get(header::SET_COOKIE).is_none());
    r.clock.advance(MINUTE);
    assert_eq!(
        call_api(&app, "GET", "/me", Some(&token)).await.status,
        StatusCode::OK,
        "nothing retired"
    );
    // An API login from a browser holding a cookie ends that session and drops the cookie.
    let req = api_request("POST", "/login", None).header(header::COOKIE, cookie.as_str());
    let switched = send_api(&app, req.body(Body::empty()).unwrap()).await;
    switched.token();
    let dropped = switched.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(dropped.contains("Max-Age=0"), "{dropped}");
    let dead = send_api(&app, cookie_request("GET", "/whoami", Some(&cookie))).await;
    assert_eq!(dead.body, "anonymous");
}

#[tokio::test]
async fn bearer_requests_skip_the_origin_rule_and_logout_sets_no_cookie() {
    let r = rig(Policy::default());
    let (app, _) = api(&r, |l| l.with_origin_required());
    // Under with_origin_required a request without credential still needs an origin signal.
    let refused = call_api(&app, "POST", "/login", None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let login = api_request("POST", "/login", None).header(header::ORIGIN, "https://api.bank.test");
    let token = send_api(&app, login.body(Body::empty()).unwrap()).await.token();
    // A browser never attaches Authorization on its own: no forgery to stop.
    let cross = api_request("POST", "/refresh", Some(&token)).header(header::ORIGIN, "https://evil.test");
    let token = send_api(&app, cross.body(Body::empty()).unwrap()).await.token();
    let out = call_api(&app, "POST", "/logout", Some(&token)).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert!(out.headers.get(header::SET_COOKIE).is_none());
    assert!(out.headers.get("clear-site-data").is_none());
    assert_eq!(
        call_api(&app, "GET", "/me", Some(&token)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

/// One `Authorization` header per request (spec/sessions.md §8.1): a second one, even carrying
/// the same valid token, makes the request's credential a refused token, never a session
/// (found by the `layer` fuzz target, whose oracle had read only the first header).
#[tokio::test]
async fn two_authorization_headers_are_a_refused_token_even_when_both_are_valid() {
    let r = rig(Policy::default());
    let (app, _) = api(&r, |l| l);
    let token = api_login(&app, b"").await;
    assert_eq!(
        call_api(&app, "GET", "/me", Some(&token)).await.status,
        StatusCode::OK
    );
    for second in [
        format!("Bearer {token}"),
        "Bearer other".to_owned(),
        "Basic YTpi".to_owned(),
    ] {
        let req = api_request("GET", "/me", Some(&token))
            .header(header::AUTHORIZATION, second.as_str())
            .body(Body::empty())
            .unwrap();
        let reply = send_api(&app, req).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "second header {second:?}");
        assert_eq!(
            reply.challenge(),
            Some(r#"Bearer error="invalid_token""#),
            "{second:?}"
        );
    }
}

/// `Bearer 1*SP token` (RFC 6750 §2.1): any number of spaces before the token, but a tab or
/// any other whitespace makes it a refused token.
#[tokio::test]
async fn spaces_may_separate_scheme_and_token_but_tabs_may_not() {
    let r = rig(Policy::default());
    let (app, _) = api(&r, |l| l);
    let token = api_login(&app, b"").await;
    let with = |value: String| {
        let app = app.clone();
        async move {
            let req = api_request("GET", "/me", None)
                .header(header::AUTHORIZATION, value)
                .body(Body::empty())
                .unwrap();
            send_api(&app, req).await.status
        }
    };
    assert_eq!(with(format!("bearer   {token}")).await, StatusCode::OK);
    for refused in [
        format!("Bearer \t{token}"),
        format!("Bearer\t{token}"),
        format!("Bearer {token}\t"),
    ] {
        assert_eq!(
            with(refused.clone()).await,
            StatusCode::UNAUTHORIZED,
            "{refused:?}"
        );
    }
}
