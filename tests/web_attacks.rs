//! Attacks on the web layer, each performed over tower `oneshot` as raw HTTP would and shown
//! failing: login CSRF from another origin, a sibling subdomain's junk cookie, a replaced
//! token's leftover power, User-Agent bytes, cached session pages, 500s from client input,
//! and the request path waiting on the disk.
#![cfg(feature = "web")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use common::web::*;
use common::*;
use http::{header, HeaderValue, Request, StatusCode};
use sealed_session::revocation::{
    Durability, FilterConfig, MemoryStore, Revocation, RevocationSet, RevocationStore, StoreError,
};
use sealed_session::*;

/// A request with only what the caller gives: no origin signal, and the User-Agent bytes
/// chosen (or none).
fn bare(method: &str, uri: &str, cookie: Option<&[u8]>, ua: Option<&[u8]>) -> http::request::Builder {
    let mut b = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, "www.bank.test")
        .extension(ConnectInfo::<SocketAddr>("203.0.113.7:50000".parse().unwrap()));
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, HeaderValue::from_bytes(c).unwrap());
    }
    if let Some(ua) = ua {
        b = b.header(header::USER_AGENT, HeaderValue::from_bytes(ua).unwrap());
    }
    b
}

fn has_session_cookie(cookies: &[String]) -> bool {
    cookies
        .iter()
        .any(|c| c.starts_with("__Host-session=") && !c.starts_with("__Host-session=;"))
}

#[tokio::test]
async fn login_csrf_from_any_other_origin_or_without_a_signal_is_refused() {
    let r = rig_default();
    let app = app(&r, |l| l);
    let ua = Some(UA.as_bytes());
    let forged: [&[(&str, &str)]; 9] = [
        &[("origin", "http://www.bank.test")], // a plain-HTTP page on our own host name
        &[("origin", "https://evil.bank.test")], // a sibling subdomain
        &[("origin", "https://www.bank.test:8443")],
        &[("origin", "null")],
        &[
            ("origin", "https://www.bank.test"),
            ("origin", "https://www.bank.test"),
        ],
        &[("sec-fetch-site", "cross-site")],
        &[
            ("sec-fetch-site", "same-site"),
            ("origin", "https://www.bank.test"),
        ],
        &[("referer", "http://www.bank.test/login")],
        &[], // no signal at all
    ];
    for headers in forged {
        let mut b = bare("POST", "/login", None, ua);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let (status, cookies, _, _) = send(&app, b.body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{headers:?}");
        assert!(
            !has_session_cookie(&cookies),
            "{headers:?}: no session may be planted"
        );
    }
    assert!(r.events.saw(EventKind::OriginRequired));
    assert!(r.events.saw(EventKind::ForeignOrigin));
    for positive in [
        ("origin", "https://www.bank.test"),
        ("sec-fetch-site", "same-origin"),
    ] {
        let b = bare("POST", "/login", None, ua).header(positive.0, positive.1);
        let (status, cookies, _, _) = send(&app, b.body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{positive:?}");
        assert!(has_session_cookie(&cookies));
    }
    // Elevation needs the same positive signal.
    let cookie = login(&app).await;
    let (status, cookies, _, _) = send(
        &app,
        bare("POST", "/elevate", Some(cookie.as_bytes()), ua)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!has_session_cookie(&cookies));
}

#[tokio::test]
async fn hsts_goes_out_with_secure_cookies_only() {
    let r = rig_default();
    let secure = app(&r, |l| l);
    let (_, _, headers, _) = call(&secure, "GET", "/whoami", None).await;
    assert_eq!(headers[header::STRICT_TRANSPORT_SECURITY], "max-age=31536000");
    let plain = app(&r, |l| l.dangerous_insecure_http());
    let (_, _, headers, _) = call(&plain, "GET", "/whoami", None).await;
    assert!(!headers.contains_key(header::STRICT_TRANSPORT_SECURITY));
    let off = app(&r, |l| l.without_hsts());
    let (_, _, headers, _) = call(&off, "GET", "/whoami", None).await;
    assert!(!headers.contains_key(header::STRICT_TRANSPORT_SECURITY));
}

#[tokio::test]
async fn a_junk_cookie_from_a_sibling_subdomain_does_not_hide_the_session() {
    let r = rig_default();
    let app = app(&r, |l| l);
    let good = login(&app).await;
    let ua = Some(UA.as_bytes());
    let junk: [&[u8]; 5] = [
        b"junk=\xc3\xa9t\xc3\xa9",
        b"junk=\xe9t\xe9",
        b"\xff\xfe=1",
        b"novalue",
        b"=x",
    ];
    for j in junk {
        for header in [
            [j, b"; ", good.as_bytes()].concat(),
            [good.as_bytes(), b"; ", j].concat(),
        ] {
            let b = bare("GET", "/account", Some(&header), ua);
            let (status, _, _, body) = send(&app, b.body(Body::empty()).unwrap()).await;
            assert_eq!(
                (status, body.as_str()),
                (StatusCode::OK, "account of Some(\"alice\")")
            );
        }
    }
    // A planted copy is still a duplicate, even one no token could be.
    let planted = [good.as_bytes(), b"; __Host-session=\xe9"].concat();
    let (status, _, _, _) = send(
        &app,
        bare("GET", "/account", Some(&planted), ua)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_lapsed_elevation_leaves_no_power_in_the_old_token() {
    let r = rig_default();
    let app = app(&r, |l| l);
    let cookie = login(&app).await;
    let (_, cookies, _, _) = call(&app, "POST", "/elevate", Some(&cookie)).await;
    let elevated = pair(&cookies[0]);
    r.clock
        .advance(r.manager.policy().elevated_ttl() + Duration::from_secs(1));
    // One request after the lapse rotates the session to authenticated...
    let (_, cookies, _, who) = call(&app, "GET", "/whoami", Some(&elevated)).await;
    assert_eq!(who, "Some(\"alice\") Authenticated");
    let successor = pair(&cookies[0]);
    // ...and the old elevated token, inside the grace window, cannot transfer.
    let (status, _, _, body) = call(&app, "POST", "/transfer", Some(&elevated)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_ne!(body, "transferred");
    // A foreign-origin request with it forks nothing: no new token is minted for it.
    let forged = request("POST", "/transfer", Some(&elevated)).header(header::ORIGIN, "https://evil.test");
    let (status, cookies, _, _) = send(&app, forged.body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        !has_session_cookie(&cookies),
        "a grace copy never gets a successor"
    );
    // Nor does a step-down or logout-everywhere attempt through it.
    let (status, cookies, _, _) = call(&app, "POST", "/step-down", Some(&elevated)).await;
    assert!(status.is_client_error(), "{status}");
    assert!(!has_session_cookie(&cookies));
    let (status, _, _, _) = call(&app, "GET", "/account", Some(&successor)).await;
    assert_eq!(status, StatusCode::OK, "the live branch is unharmed");
}

#[tokio::test]
async fn every_user_agent_byte_is_bound() {
    let r = rig(Policy::default()
        .with_rotation(Rotation::Off)
        .with_binding(Binding::user_agent()));
    let app = app(&r, |l| l);
    let ua: &[u8] = b"Navigateur \xe9t\xe9/1.0";
    let others: [Option<&[u8]>; 3] = [Some(b"Navigateur \xe9t\xe8/1.0"), None, Some(b"")];
    for other in others {
        let b = bare("POST", "/login", None, Some(ua)).header("sec-fetch-site", "same-origin");
        let (_, cookies, _, _) = send(&app, b.body(Body::empty()).unwrap()).await;
        let cookie = pair(&cookies[0]);
        let ok = bare("GET", "/account", Some(cookie.as_bytes()), Some(ua));
        assert_eq!(
            send(&app, ok.body(Body::empty()).unwrap()).await.0,
            StatusCode::OK
        );
        let stolen = bare("GET", "/account", Some(cookie.as_bytes()), other);
        assert_eq!(
            send(&app, stolen.body(Body::empty()).unwrap()).await.0,
            StatusCode::UNAUTHORIZED,
            "{other:?}"
        );
    }
}

#[tokio::test]
async fn pages_of_a_session_are_never_cached() {
    let r = rig_default();
    let app = app(&r, |l| l);
    let cookie = login(&app).await;
    let (status, cookies, headers, _) = call(&app, "GET", "/account", Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(cookies.is_empty(), "no cookie is set on this response");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    for refused in ["__Host-session=garbage", "__Host-session=\"quoted\""] {
        let (_, _, headers, _) = call(&app, "GET", "/whoami", Some(refused)).await;
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    }
    let (_, _, headers, _) = call(&app, "POST", "/logout", Some(&cookie)).await;
    assert_eq!(headers["clear-site-data"], "\"cache\", \"cookies\"");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
}

#[tokio::test]
async fn no_client_input_produces_a_server_error() {
    let r = rig(Policy::default().with_rotation(Rotation::EveryRequest));
    let app = app(&r, |l| l);
    let authenticated = login(&app).await;
    let (_, c, _, _) = call(&app, "GET", "/begin", None).await;
    let anonymous = pair(&c[0]);
    let (_, c, _, _) = call(&app, "POST", "/elevate", Some(&login(&app).await)).await;
    let elevated = pair(&c[0]);
    let revoked = login(&app).await;
    call(&app, "POST", "/logout", Some(&revoked)).await;
    let duplicate = format!("{authenticated}; {anonymous}");
    let cookies = [
        None,
        Some("__Host-session=garbage"),
        Some(anonymous.as_str()),
        Some(authenticated.as_str()),
        Some(elevated.as_str()),
        Some(revoked.as_str()),
        Some(duplicate.as_str()),
    ];
    let routes = [
        ("GET", "/whoami"),
        ("GET", "/account"),
        ("GET", "/begin"),
        ("POST", "/transfer"),
        ("POST", "/login"),
        ("POST", "/elevate"),
        ("POST", "/step-down"),
        ("POST", "/logout"),
        ("POST", "/logout-everywhere"),
        ("PUT", "/nowhere"),
    ];
    let origins = [
        None,
        Some("https://www.bank.test"),
        Some("https://evil.test"),
        Some("null"),
    ];
    for cookie in cookies {
        for (method, path) in routes {
            for origin in origins {
                let mut b = bare(method, path, cookie.map(str::as_bytes), Some(UA.as_bytes()));
                if let Some(o) = origin {
                    b = b.header(header::ORIGIN, o);
                }
                let (status, _, _, _) = send(&app, b.body(Body::empty()).unwrap()).await;
                assert!(
                    !status.is_server_error(),
                    "{method} {path} cookie {cookie:?} origin {origin:?}: {status}"
                );
            }
        }
    }
}

/// Records with what durability, and on which thread, every revocation was asked for.
struct Recording {
    inner: MemoryStore,
    calls: Mutex<Vec<(Durability, ThreadId)>>,
}

impl RevocationStore for Recording {
    fn set(&self) -> &RevocationSet {
        self.inner.set()
    }

    fn revoke_with(&self, revocation: Revocation, durability: Durability) -> Result<(), StoreError> {
        self.calls
            .lock()
            .unwrap()
            .push((durability, std::thread::current().id()));
        self.inner.revoke_with(revocation, durability)
    }
}

/// On a single-threaded runtime the test thread is the only async worker: nothing it runs
/// may ask for a synced (fsync'd) revocation, whatever the client does.
#[tokio::test(flavor = "current_thread")]
async fn nothing_on_an_async_worker_waits_for_the_disk() {
    let recording = Arc::new(Recording {
        inner: MemoryStore::new(FilterConfig::default()).unwrap(),
        calls: Mutex::new(Vec::new()),
    });
    let policy = Policy::default().with_rotation(Rotation::After(Duration::from_secs(60)));
    let r = rig_with(policy, KeyRing::parse(KEYS).unwrap(), recording.clone());
    let app = app(&r, |l| l);
    let worker = std::thread::current().id();
    // Rotation, then reuse of the rotated-away token after the window.
    let cookie = login(&app).await;
    r.clock.advance(Duration::from_secs(61));
    call(&app, "GET", "/account", Some(&cookie)).await;
    r.clock.advance(Duration::from_secs(30));
    call(&app, "GET", "/account", Some(&cookie)).await;
    // A binding mismatch.
    let cookie = login(&app).await;
    send(
        &app,
        bare("GET", "/account", Some(cookie.as_bytes()), Some(b"curl/8"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    // A foreign-origin request with an elevated session (step-down).
    let cookie = login(&app).await;
    let (_, c, _, _) = call(&app, "POST", "/elevate", Some(&cookie)).await;
    let forged = request("POST", "/transfer", Some(&pair(&c[0]))).header(header::ORIGIN, "https://evil.test");
    assert_eq!(
        send(&app, forged.body(Body::empty()).unwrap()).await.0,
        StatusCode::FORBIDDEN
    );
    let calls = recording.calls.lock().unwrap().clone();
    assert!(
        calls
            .iter()
            .any(|(d, t)| *d == Durability::Background && *t == worker),
        "{calls:?}"
    );
    assert!(
        calls
            .iter()
            .any(|(d, t)| *d == Durability::Synced && *t != worker),
        "{calls:?}"
    );
    for (durability, thread) in calls {
        assert!(
            !(durability == Durability::Synced && thread == worker),
            "a synced revocation ran on the worker"
        );
    }
}
