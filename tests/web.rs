//! Request-level tests of the web layer without a browser (tower `oneshot`): cookie
//! attributes, duplicate cookies, tokens in the query, bearer opt-in, the referrer rule,
//! rotation cookies, logout, and uniform refusals.
#![cfg(feature = "web")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::time::Duration;

use axum::body::Body;
use common::web::*;
use common::*;
use http::{header, StatusCode};
use sealed_session::*;

#[tokio::test]
async fn login_cookie_has_every_secure_attribute() {
    let r = rig_default();
    let app = app(&r, |l| l);
    let (_, cookies, headers, _) = call(&app, "POST", "/login", None).await;
    assert_eq!(cookies.len(), 1);
    let c = &cookies[0];
    assert!(c.starts_with("__Host-session="), "{c}");
    for attr in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=1800"] {
        assert!(c.split("; ").any(|a| a == attr), "missing {attr} in {c}");
    }
    assert!(!c.to_ascii_lowercase().contains("domain="), "{c}");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    let (status, _, _, body) = call(&app, "GET", "/account", Some(&pair(c))).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "account of Some(\"alice\")")
    );
}

#[tokio::test]
async fn duplicate_session_cookies_are_refused_as_a_whole() {
    let r = rig_default();
    let app = app(&r, |l| l);
    let good = login(&app).await;
    let value = good.split_once('=').unwrap().1;
    for header_value in [
        format!("{good}; __Host-session=planted"),
        format!("__Host-session={value}; {good}"),
    ] {
        let (status, _, _, _) = call(&app, "GET", "/account", Some(&header_value)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "never take the first");
    }
    // Two separate Cookie headers count too.
    let req = request("GET", "/account", Some(&good))
        .header(header::COOKIE, good.as_str())
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, req).await.0, StatusCode::UNAUTHORIZED);
    assert!(r.events.saw(EventKind::DuplicateCookie));
}

#[tokio::test]
async fn tokens_in_the_query_are_ignored_and_reported() {
    let r = rig_default();
    let app = app(&r, |l| l);
    let good = login(&app).await;
    let token = good.split_once('=').unwrap().1;
    let uri = format!("/account?SID={token}");
    let (status, cookies, _, _) = call(&app, "GET", &uri, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(cookies.is_empty(), "a query token never becomes a cookie");
    assert!(r.events.saw(EventKind::TokenInUnexpectedPlace));
    let uri = format!("/whoami?next=/x&t={token}");
    let (_, _, _, body) = call(&app, "GET", &uri, None).await;
    assert_eq!(body, "anonymous");
}

#[tokio::test]
async fn tokens_in_a_form_body_are_ignored_and_reported() {
    let r = rig_default();
    let app = app(&r, |l| l);
    let good = login(&app).await;
    let token = good.split_once('=').unwrap().1.to_owned();
    let events_before = r.events.events().len();
    let body = format!("user=alice&sid={token}");
    let req = request("POST", "/login", None)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::CONTENT_LENGTH, body.len())
        .body(Body::from(body))
        .unwrap();
    let (status, cookies, _, _) = send(&app, req).await;
    assert_eq!(status, StatusCode::OK, "the handler still gets the request");
    let fresh = pair(&cookies[0]);
    assert_ne!(
        fresh.split_once('=').unwrap().1,
        token,
        "a posted token is never adopted"
    );
    let after: Vec<_> = r.events.events().into_iter().skip(events_before).collect();
    assert!(after.iter().any(|e| e.kind == EventKind::TokenInUnexpectedPlace));
    // A CSRF-style field named "token" with a non-token value is not an event.
    let events_before = r.events.events().len();
    let body = "token=abc123&amount=5";
    let req = request("POST", "/login", None)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::CONTENT_LENGTH, body.len())
        .body(Body::from(body))
        .unwrap();
    let _ = send(&app, req).await;
    assert!(!r
        .events
        .events()
        .into_iter()
        .skip(events_before)
        .any(|e| e.kind == EventKind::TokenInUnexpectedPlace));
}

#[tokio::test]
async fn bearer_tokens_only_when_enabled() {
    let r = rig_default();
    let plain = app(&r, |l| l);
    let token = login(&plain).await.split_once('=').unwrap().1.to_owned();
    let req = || request("GET", "/account", None).header(header::AUTHORIZATION, format!("Bearer {token}"));
    assert_eq!(
        send(&plain, req().body(Body::empty()).unwrap()).await.0,
        StatusCode::UNAUTHORIZED
    );
    let api = app(&r, |l| l.with_bearer_tokens());
    assert_eq!(
        send(&api, req().body(Body::empty()).unwrap()).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn foreign_origin_drops_elevation_and_is_refused() {
    let r = rig_default();
    let app = app(&r, |l| l);
    let cookie = login(&app).await;
    let (_, cookies, _, _) = call(&app, "POST", "/elevate", Some(&cookie)).await;
    let elevated = pair(&cookies[0]);
    let same_site =
        request("POST", "/transfer", Some(&elevated)).header(header::ORIGIN, "https://www.bank.test");
    assert_eq!(
        send(&app, same_site.body(Body::empty()).unwrap()).await.0,
        StatusCode::OK
    );

    let forged =
        request("POST", "/transfer", Some(&elevated)).header(header::ORIGIN, "https://evil.bank.test");
    let (status, cookies, _, body) = send(&app, forged.body(Body::empty()).unwrap()).await;
    assert_eq!((status, body.as_str()), (StatusCode::FORBIDDEN, ""));
    assert!(r.events.saw(EventKind::ForeignOrigin));
    let stepped = pair(&cookies[0]);
    let (_, _, _, who) = call(&app, "GET", "/whoami", Some(&stepped)).await;
    assert_eq!(who, "Some(\"alice\") Authenticated");
    // The elevated token itself is now only a weaker copy inside the grace window: it can
    // no longer act elevated, and after the window it is reuse.
    let again = request("POST", "/transfer", Some(&elevated)).header(header::ORIGIN, "https://www.bank.test");
    assert_eq!(
        send(&app, again.body(Body::empty()).unwrap()).await.0,
        StatusCode::FORBIDDEN
    );
    r.clock.advance(Duration::from_secs(10));
    let late = request("POST", "/transfer", Some(&elevated)).header(header::ORIGIN, "https://www.bank.test");
    assert_eq!(
        send(&app, late.body(Body::empty()).unwrap()).await.0,
        StatusCode::UNAUTHORIZED
    );
    // A foreign Referer counts when Origin is absent.
    let by_referer = request("POST", "/login", None).header(header::REFERER, "https://evil.test/page");
    assert_eq!(
        send(&app, by_referer.body(Body::empty()).unwrap()).await.0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn every_refusal_looks_the_same() {
    let r = rig_default();
    let app = app(&r, |l| l);
    let good = login(&app).await;
    let (_, _, _, baseline) = call(&app, "GET", "/account", None).await;
    let mut bad = good.clone();
    bad.pop();
    bad.push(if good.ends_with('A') { 'B' } else { 'A' });
    let mut other_ua = request("GET", "/account", Some(&good))
        .body(Body::empty())
        .unwrap();
    other_ua
        .headers_mut()
        .insert(header::USER_AGENT, "curl/8".parse().unwrap());
    let cases = vec![
        request("GET", "/account", Some("__Host-session=I_WILL_KNOW_THE_SID"))
            .body(Body::empty())
            .unwrap(),
        request("GET", "/account", Some(&bad))
            .body(Body::empty())
            .unwrap(),
        other_ua,
    ];
    for req in cases {
        let (status, _, _, body) = send(&app, req).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body, baseline);
    }
    assert_eq!(baseline, "unauthorized");
    let fresh = login(&app).await;
    r.clock.advance(Duration::from_secs(3600));
    let (status, cookies, _, body) = call(&app, "GET", "/account", Some(&fresh)).await;
    assert_eq!((status, body), (StatusCode::UNAUTHORIZED, baseline));
    assert!(cookies[0].contains("Max-Age=0"), "a refused cookie is deleted");
}

#[tokio::test]
async fn rotation_writes_a_replacement_cookie() {
    let r = rig(Policy::default().with_rotation(Rotation::After(Duration::from_secs(60))));
    let app = app(&r, |l| l);
    let first = login(&app).await;
    r.clock.advance(Duration::from_secs(61));
    let (status, cookies, headers, _) = call(&app, "GET", "/account", Some(&first)).await;
    assert_eq!(status, StatusCode::OK);
    let second = pair(&cookies[0]);
    assert_ne!(first, second);
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(
        call(&app, "GET", "/account", Some(&second)).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn logout_clears_the_cookie_and_kills_the_token() {
    let r = rig_default();
    let app = app(&r, |l| l);
    let cookie = login(&app).await;
    let (status, cookies, headers, _) = call(&app, "POST", "/logout", Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        cookies[0].starts_with("__Host-session=;") && cookies[0].contains("Max-Age=0"),
        "{}",
        cookies[0]
    );
    assert_eq!(headers["clear-site-data"], "\"cache\", \"cookies\"");
    assert_eq!(
        call(&app, "GET", "/account", Some(&cookie)).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn cookie_names_are_checked_and_insecure_http_drops_the_prefix() {
    let r = rig_default();
    let layer = || {
        sealed_session::web::SessionLayer::new(std::sync::Arc::new(
            SessionManager::builder(KeyRing::parse(KEYS).unwrap(), "bank", r.store.clone())
                .build()
                .unwrap(),
        ))
    };
    for bad in ["", "bad name;", &"n".repeat(200)] {
        assert!(
            matches!(layer().with_cookie_name(bad), Err(ConfigError::CookieName)),
            "{bad:?}"
        );
    }
    let plain = app(&r, |l| l.dangerous_insecure_http());
    let (_, cookies, headers, _) = call(&plain, "POST", "/login", None).await;
    assert!(cookies[0].starts_with("session="), "{}", cookies[0]);
    assert!(!cookies[0].contains("Secure"));
    assert!(!headers.contains_key(header::STRICT_TRANSPORT_SECURITY));
    let named = app(&r, |l| l.with_cookie_name("__Host-bank").unwrap());
    let (_, cookies, _, _) = call(&named, "POST", "/login", None).await;
    assert!(cookies[0].starts_with("__Host-bank="), "{}", cookies[0]);
}

/// The layer drops expired revocation generations by itself: no task of the application's.
#[tokio::test(start_paused = true)]
async fn the_layer_maintains_the_revocation_filter_by_itself() {
    let r = rig_default();
    let app = app(&r, |l| l.with_maintenance_every(Some(Duration::from_secs(60))));
    let cookie = login(&app).await;
    call(&app, "POST", "/logout", Some(&cookie)).await;
    assert_eq!(r.store.set().generation_count(), 1);
    r.clock
        .advance(r.manager.policy().absolute_lifetime() + Duration::from_secs(2 * 3600));
    for _ in 0..3 {
        tokio::time::advance(Duration::from_secs(61)).await;
        tokio::task::yield_now().await;
    }
    assert_eq!(
        r.store.set().generation_count(),
        0,
        "the expired generation was dropped"
    );
}

/// A route added after `.layer()` is not covered: its extractors answer 500 (and the first
/// one logs why), never a silently anonymous page.
#[tokio::test]
async fn a_route_outside_the_layer_fails_loudly() {
    let r = rig_default();
    let covered = app(&r, |l| l);
    let uncovered = covered.route(
        "/late",
        axum::routing::get(|s: sealed_session::web::MaybeSession| async move { format!("{:?}", s.0) }),
    );
    let (status, _, _, body) = call(&uncovered, "GET", "/late", None).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    );
}
