//! Web fixtures for the `layer` target: a manager with a fixed clock, one valid session token
//! minted deterministically for a fixed client, two routers (cookie only, cookie or bearer)
//! whose handler reports the session it saw, and the independent oracle that says where that
//! token may legitimately have come from.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use axum::extract::ConnectInfo;
use axum::routing::any;
use axum::Router;
use http::header::{AUTHORIZATION, COOKIE, USER_AGENT};
use http::{HeaderMap, HeaderValue};
use sealed_session::revocation::{FilterConfig, MemoryStore};
use sealed_session::token::{BindingHash, Claims, Epoch, Flags, SessionId};
use sealed_session::web::{MaybeSession, SessionLayer};
use sealed_session::*;

use crate::NOW;

/// The client the token is bound to (peer address and User-Agent).
pub const PEER: &str = "203.0.113.7:50000";
/// The User-Agent the token is bound to.
pub const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0";
/// The subject of the one valid session.
pub const SUBJECT: &str = "fuzz-user";
/// The layer's (default) cookie name.
pub const COOKIE_NAME: &str = "__Host-session";
/// Response header in which the handler reports the session it saw (`none` for none).
pub const REPORT: &str = "x-fuzz-session";

/// The manager: rotation off and mismatches rejected without revoking, so that no input
/// changes what a later input sees (the one token stays valid for the whole run).
pub fn manager() -> &'static Arc<SessionManager> {
    static M: OnceLock<Arc<SessionManager>> = OnceLock::new();
    M.get_or_init(|| {
        let keys = KeyRing::empty()
            .with_key(KeyId(1), KeyState::Primary, SessionKey::from_bytes([0x0b; 32]))
            .unwrap_or_else(|e| panic!("fixture: {e}"));
        let store = MemoryStore::new(FilterConfig::default().with_capacity(1000))
            .unwrap_or_else(|e| panic!("fixture: {e}"));
        let policy = Policy::default()
            .with_rotation(Rotation::Off)
            .with_mismatch_action(MismatchAction::Reject);
        let manager = SessionManager::builder(keys, "fuzz", Arc::new(store))
            .with_policy(policy)
            .with_clock(Arc::new(ManualClock::new(NOW)))
            .build()
            .unwrap_or_else(|e| panic!("fixture: {e}"));
        Arc::new(manager)
    })
}

/// The one valid token: bound to [`PEER`] and [`UA`], valid at [`NOW`], the same every run.
pub fn token() -> &'static str {
    static T: OnceLock<String> = OnceLock::new();
    T.get_or_init(|| {
        let deadline = UnixTime(NOW.0 + 86_400);
        let claims = Claims {
            session_id: SessionId([0x5e; 16]),
            subject: Some(SUBJECT.to_owned()),
            privilege: Privilege::Authenticated,
            epoch: Epoch::containing(deadline),
            issued_at: UnixTime(NOW.0 - 60),
            expires_at: UnixTime(NOW.0 + 1800),
            session_deadline: deadline,
            authenticated_at: UnixTime(NOW.0 - 60),
            binding: BindingHash::default(),
            flags: Flags::default(),
            app_data: Vec::new(),
        };
        let client = ClientContext::new(Some(peer().ip()), Some(UA));
        let token = manager()
            .dangerous_mint_bound_with_nonce(claims, &client, [0x77; 24])
            .unwrap_or_else(|e| panic!("fixture: {e}"));
        token.expose_secret().to_owned()
    })
}

/// The socket peer every request comes from.
pub fn peer() -> SocketAddr {
    PEER.parse().unwrap_or_else(|e| panic!("fixture: {e}"))
}

/// The router behind the layer, cookie only or also accepting bearer tokens.
pub fn router(bearer: bool) -> &'static Router {
    static R: OnceLock<[Router; 2]> = OnceLock::new();
    let [cookie, both] = R.get_or_init(|| [build(false), build(true)]);
    if bearer {
        both
    } else {
        cookie
    }
}

fn build(bearer: bool) -> Router {
    let layer = SessionLayer::new(manager().clone()).with_maintenance_every(None);
    let layer = if bearer { layer.with_bearer_tokens() } else { layer };
    let report = |MaybeSession(s): MaybeSession| async move {
        let seen = s.map_or("none".to_owned(), |s| {
            format!("session:{}", s.subject.unwrap_or_default())
        });
        ([(REPORT, seen)], "ok")
    };
    Router::new()
        .route("/", any(report))
        .route("/account", any(report))
        .layer(layer)
}

/// A current-thread runtime for driving the service.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("fixture: {e}"))
    })
}

/// The request's connection info (the layer binds to the peer address).
pub fn connect_info() -> ConnectInfo<SocketAddr> {
    ConnectInfo(peer())
}

/// Where the valid token legitimately is in `headers`, read independently of the layer:
/// every `name=value` pair of every `Cookie` header (split on `;`, the name and value trimmed
/// of spaces and tabs, RFC 6265 §5.2); bearer only when no pair has our cookie's name.
#[derive(Debug, PartialEq, Eq)]
pub enum Placement {
    /// Exactly one session-cookie pair, and its value is the token.
    Cookie,
    /// No session-cookie pair; exactly one `Authorization` header, `Bearer <token>` (scheme in
    /// any case, spaces but no tabs around the token).
    Bearer,
    /// Anything else: no session may come of it.
    Nowhere,
}

/// See [`Placement`].
pub fn placement(headers: &HeaderMap, token: &str) -> Placement {
    let pairs: Vec<&[u8]> = headers
        .get_all(COOKIE)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b';'))
        .filter_map(|pair| {
            let eq = pair.iter().position(|&b| b == b'=')?;
            let name = trim(pair.get(..eq)?);
            (name == COOKIE_NAME.as_bytes()).then(|| trim(pair.get(eq + 1..).unwrap_or_default()))
        })
        .collect();
    match pairs.as_slice() {
        [value] if *value == token.as_bytes() => return Placement::Cookie,
        [] => {}
        _ => return Placement::Nowhere,
    }
    // spec/sessions.md §8.1: one `Authorization` header; two are a refused token even when
    // both carry the valid one (which of two credentials is meant is not ours to guess).
    let mut authorizations = headers.get_all(AUTHORIZATION).iter();
    let only = match (authorizations.next(), authorizations.next()) {
        (Some(v), None) => Some(v),
        _ => None,
    };
    let bearer = only
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        // RFC 6750 §2.1, RFC 9110 §11.4: `1*SP` after the scheme: spaces, never tabs.
        .is_some_and(|(_, t)| t.trim_matches(' ') == token);
    if bearer {
        Placement::Bearer
    } else {
        Placement::Nowhere
    }
}

/// Whether the request's first `User-Agent` is the one the token is bound to.
pub fn bound_user_agent(headers: &HeaderMap) -> bool {
    headers.get(USER_AGENT).map(HeaderValue::as_bytes) == Some(UA.as_bytes())
}

fn trim(mut b: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = b {
        b = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = b {
        b = rest;
    }
    b
}
