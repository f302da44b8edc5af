//! The peers of sealed-session's session layer, as an axum user would set them up, around the
//! same handler as `examples/overhead_server.rs` (`GET /` answers `hello, world\n`):
//!
//! - [`private_cookie_app`]: axum-extra's `PrivateCookieJar`. A middleware decrypts the
//!   `session` cookie (AES-256-GCM, cookie 0.18), parses the claims from JSON and checks
//!   expiry; no cookie or a bad one is a 401.
//! - [`tower_sessions_app`]: tower-sessions with its `MemoryStore`. The cookie carries a
//!   session id; a middleware loads the session (a lock and a map lookup), reads the claims
//!   and checks expiry; no session is a 401.
//!
//! Both carry the claims sealed-session's reference token carries (benches/tokens.rs): session
//! id, subject, privilege, epoch, issued-at, expiry, deadline, authentication time, binding
//! hash, flags. Neither peer binds the session to the client or consults a revocation list:
//! they do less per request than the layer they are compared with.
//!
//! Each builder returns the router and the `Cookie:` header value of one valid session, so a
//! load generator or an in-process caller presents a cookie that really verifies.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
/// The private-cookie peer's key type (cookie's `Key`, as axum-extra re-exports it).
pub use axum_extra::extract::cookie::Key;
use axum_extra::extract::cookie::{Cookie, PrivateCookieJar};
use serde::{Deserialize, Serialize};
use tower_sessions::session::{Id, Record};
use tower_sessions::{MemoryStore, Session, SessionManagerLayer, SessionStore};

/// Any failure while setting a peer up.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The cookie name of the private-cookie peer (as the layer's).
pub const COOKIE_NAME: &str = "session";

/// The session key under which the tower-sessions peer keeps the claims.
const CLAIMS_KEY: &str = "claims";

/// The handler all servers share.
pub async fn hello() -> &'static str {
    "hello, world\n"
}

/// The reference claims as a JSON-minded application keeps them (ids and hashes as text).
/// Also the JSON token peers' claims in benches/instructions/ (jsonwebtoken, pasetors).
#[derive(Clone, Serialize, Deserialize)]
pub struct Claims {
    /// Session id, base64url.
    pub sid: String,
    /// Subject.
    pub sub: String,
    /// Privilege level.
    pub prv: u8,
    /// Revocation epoch.
    pub epoch: u64,
    /// Issued at (Unix seconds).
    pub iat: u64,
    /// Expires at.
    pub exp: u64,
    /// Session deadline.
    pub dl: u64,
    /// Authenticated at.
    pub auth_time: u64,
    /// Binding hash, base64url.
    pub bnd: String,
    /// Binding flags.
    pub flg: u8,
}

impl Claims {
    /// The reference claims, issued a minute before `now` and valid for 30 minutes.
    pub fn reference(now: u64) -> Self {
        let iat = now.saturating_sub(60);
        Self {
            // 16-byte session id and binding hash, base64url as the JSON peers of
            // benches/tokens.rs carry them.
            sid: "BwcHBwcHBwcHBwcHBwcHBw".to_owned(),
            sub: "alice-01".to_owned(),
            prv: 1,
            epoch: (iat + 86_400) / 3600,
            iat,
            exp: iat + 1800,
            dl: iat + 86_400,
            auth_time: iat,
            bnd: "CQkJCQkJCQkJCQkJCQkJCQ".to_owned(),
            flg: 3,
        }
    }

    /// Issued no later than `now`, not yet expired.
    pub fn live_at(&self, now: u64) -> bool {
        self.iat <= now && now < self.exp
    }
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The private-cookie peer and the `Cookie:` header value of a valid session for it.
///
/// # Errors
/// If the claims cannot be serialised or the jar sets no cookie (neither happens).
pub fn private_cookie_app(key: Key) -> Result<(Router, String), BoxError> {
    let json = serde_json::to_string(&Claims::reference(now_secs()))?;
    let jar = PrivateCookieJar::new(key.clone()).add(Cookie::new(COOKIE_NAME, json));
    let response = jar.into_response();
    let set_cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .ok_or("the jar set no cookie")?
        .to_str()?;
    let cookie = set_cookie.split(';').next().ok_or("empty Set-Cookie")?.to_owned();
    let app = Router::new()
        .route("/", get(hello))
        .layer(middleware::from_fn_with_state(key, require_private_cookie));
    Ok((app, cookie))
}

async fn require_private_cookie(
    jar: PrivateCookieJar,
    request: Request,
    next: Next,
) -> Result<Response, StatusCode> {
    let cookie = jar.get(COOKIE_NAME).ok_or(StatusCode::UNAUTHORIZED)?;
    let claims: Claims = serde_json::from_str(cookie.value()).map_err(|_| StatusCode::UNAUTHORIZED)?;
    if !claims.live_at(now_secs()) {
        return Err(StatusCode::UNAUTHORIZED);
    }
    Ok(next.run(request).await)
}

/// The tower-sessions peer (memory store) and the `Cookie:` header value of a valid session
/// for it, the session created in the store directly (as a login handler would).
///
/// # Errors
/// If the store refuses the record (the memory store does not).
pub async fn tower_sessions_app() -> Result<(Router, String), BoxError> {
    let store = MemoryStore::default();
    let claims = serde_json::to_value(Claims::reference(now_secs()))?;
    let mut record = Record {
        id: Id::default(),
        data: HashMap::from([(CLAIMS_KEY.to_owned(), claims)]),
        expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
    };
    store.create(&mut record).await?;
    // The layer's default cookie name is `id`; its value is the id as text.
    let cookie = format!("id={}", record.id);
    let layer = SessionManagerLayer::new(store).with_secure(false);
    let app = Router::new()
        .route("/", get(hello))
        .layer(middleware::from_fn(require_tower_session))
        .layer(layer);
    Ok((app, cookie))
}

async fn require_tower_session(
    session: Session,
    request: Request,
    next: Next,
) -> Result<Response, StatusCode> {
    let claims: Claims = session
        .get(CLAIMS_KEY)
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?
        .ok_or(StatusCode::UNAUTHORIZED)?;
    if !claims.live_at(now_secs()) {
        return Err(StatusCode::UNAUTHORIZED);
    }
    Ok(next.run(request).await)
}
