//! The bank of the session-fixation literature as an axum router behind [`SessionLayer`]: home, login, account,
//! transfer with a password step-up, logout and "log out everywhere". Included by path from
//! `examples/bank/main.rs` and from tests:
//!
//! ```text
//! #[path = "../examples/bank/app.rs"]
//! mod bank_app;
//! ```
//!
//! ```text
//! GET  /                   home (signed in or not)
//! GET  /login   POST /login            Argon2id check → SessionControl::login (new session id)
//! GET  /account                        RequireLevel<AUTHENTICATED>: balance, level, expiry
//! GET  /transfer                       elevated: the form; authenticated: the step-up form
//! POST /elevate                        password again → SessionControl::elevate (short TTL)
//! POST /transfer                       RequireLevel<ELEVATED>
//! POST /step-down, /logout, /logout-everywhere
//! GET  /healthz                        200 once the revocation store is ready, else 503
//! ```
// Each includer uses part of this module, and nothing in it is a library's public API.
#![allow(dead_code, unused_imports, unreachable_pub)]

#[path = "accounts.rs"]
mod accounts;
#[path = "headers.rs"]
pub mod headers;
#[path = "limits.rs"]
pub mod limits;
#[path = "pages.rs"]
mod pages;
#[path = "server.rs"]
mod server;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Form, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::Deserialize;

use sealed_session::revocation::{FileStore, FilterConfig, RevocationStore, LOG_FILE, SNAPSHOT_FILE};
use sealed_session::web::{
    level, MaybeSession, RequireLevel, SessionControl, SessionInfo, SessionLayer, WebError,
};
use sealed_session::{Clock, EventSink, KeyRing, Keys, Policy, Privilege, Rotation, SessionManager};

pub use accounts::{Accounts, TransferError, DEMO_USERS};
pub use limits::{LoginLimiter, LoginLimits, Refusal};
pub use pages::signed_in_text;
pub use server::{serve, serve_with, tls_config, ServeOptions, CERT_NAMES};

/// Errors while setting the bank up.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The application context sealed into every token (tokens of other apps do not open here).
pub const CONTEXT: &str = "sealed-bank";

/// How to build the bank.
pub struct BankConfig {
    /// Where the revocation store lives.
    pub data_dir: PathBuf,
    /// Served over HTTPS: `__Host-` + `Secure` cookie. Otherwise the insecure plain-HTTP
    /// cookie (see [`session_layer`]).
    pub tls: bool,
    /// The key ring; `None` generates a fresh one (sessions then end with the process).
    pub keys: Option<KeyRing>,
    /// Origins allowed to POST; empty means the request's own `Host`.
    pub allowed_origins: Vec<String>,
    /// The session policy.
    pub policy: Policy,
    /// Where security events go; `None` means `tracing`.
    pub events: Option<Arc<dyn EventSink>>,
    /// The clock of the session manager, which the login limiter reads too; `None` means
    /// the system clock. Tests pass a `ManualClock` to move time without sleeping.
    pub clock: Option<Arc<dyn Clock>>,
    /// Password-guessing limits of login and step-up. Shared so that a test can read
    /// [`LoginLimiter::peak_hashing`].
    pub limiter: Arc<LoginLimiter>,
    /// Where revocations are shared with other bank nodes.
    pub feed: BankFeed,
}

/// How bank nodes share revocations.
#[derive(Clone, Debug, Default)]
pub enum BankFeed {
    /// Through `data_dir`: every bank given the same directory (and key file) shares them.
    #[default]
    DataDir,
    /// Through a Redis stream; `data_dir/node-<name>` keeps this node's own durable state.
    #[cfg(feature = "redis")]
    Redis {
        /// The Redis URL.
        url: String,
        /// This node's name (unique in the cluster).
        node: String,
    },
}

impl BankConfig {
    /// Fresh keys, the demo policy, same-origin POSTs only.
    pub fn new(data_dir: impl Into<PathBuf>, tls: bool) -> Self {
        Self {
            data_dir: data_dir.into(),
            tls,
            keys: None,
            allowed_origins: Vec::new(),
            policy: demo_policy(),
            events: None,
            clock: None,
            limiter: LoginLimiter::new(LoginLimits::default()),
            feed: BankFeed::DataDir,
        }
    }
}

/// Elevation lasts 2 minutes, tokens rotate after 60 s, the default binding (IP prefix and
/// User-Agent, a mismatch revokes the session) and idle and absolute lifetimes.
pub fn demo_policy() -> Policy {
    Policy::default()
        .with_elevated_ttl(Duration::from_secs(120))
        .with_rotation(Rotation::After(Duration::from_secs(60)))
}

/// The session layer: the secure default over TLS; over plain HTTP no `Secure` and no
/// `__Host-` prefix, which browsers refuse on `http://` origins other than localhost.
pub fn session_layer(manager: Arc<SessionManager>, tls: bool, allowed_origins: Vec<String>) -> SessionLayer {
    let mut layer = SessionLayer::new(manager);
    if !tls {
        layer = layer.dangerous_insecure_http();
    }
    if !allowed_origins.is_empty() {
        layer = layer.with_allowed_origins(allowed_origins);
    }
    layer
}

struct Bank {
    accounts: Accounts,
    manager: Arc<SessionManager>,
    limiter: Arc<LoginLimiter>,
}

type Bk = State<Arc<Bank>>;
type Signed = Result<RequireLevel<level::Authenticated>, WebError>;

/// Opens the revocation store in `config.data_dir`, hashes the demo passwords and builds the
/// router with the session layer installed. With fresh keys, the store files of an earlier
/// run are removed first: they are sealed under keys that no longer exist.
///
/// # Errors
/// Key generation, the store (I/O, or a snapshot made under other keys), the policy.
pub fn build_app(mut config: BankConfig) -> Result<(Router, Arc<SessionManager>), BoxError> {
    let keys = match config.keys.take() {
        Some(keys) => keys,
        None => {
            for file in [SNAPSHOT_FILE, LOG_FILE] {
                match std::fs::remove_file(config.data_dir.join(file)) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                    _ => {}
                }
            }
            KeyRing::generate()?
        }
    };
    // One key handle, shared by the store and the manager.
    let keys = Keys::new(keys)?;
    let store = open_store(&config, &keys)?;
    let mut builder = SessionManager::builder(keys, CONTEXT, store).with_policy(config.policy);
    if let Some(events) = config.events {
        builder = builder.with_events(events);
    }
    if let Some(clock) = config.clock {
        builder = builder.with_clock(clock);
    }
    let manager = Arc::new(builder.build()?);
    let layer = session_layer(manager.clone(), config.tls, config.allowed_origins);
    let bank = Arc::new(Bank {
        accounts: Accounts::demo()?,
        manager: manager.clone(),
        limiter: config.limiter,
    });
    let tls = config.tls;
    let router = Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login))
        .route("/account", get(account))
        .route("/transfer", get(transfer_page).post(transfer))
        .route("/elevate", post(elevate))
        .route("/step-down", post(step_down))
        .route("/logout", post(logout))
        .route("/logout-everywhere", post(logout_everywhere))
        .route("/healthz", get(healthz))
        .with_state(bank)
        .layer(layer)
        // Outermost, so it sees (and does not repeat) what the session layer set.
        .layer(axum::middleware::map_response(
            move |mut response: Response| async move {
                headers::add_security_headers(response.headers_mut(), tls);
                response
            },
        ));
    Ok((router, manager))
}

/// The revocation store of this node: the data directory, or a Redis feed with node-local
/// state under it.
fn open_store(config: &BankConfig, keys: &Keys) -> Result<Arc<dyn RevocationStore>, BoxError> {
    Ok(match &config.feed {
        BankFeed::DataDir => Arc::new(FileStore::open(&config.data_dir, keys, FilterConfig::default())?),
        #[cfg(feature = "redis")]
        BankFeed::Redis { url, node } => {
            let dir = config.data_dir.join(format!("node-{node}"));
            let mut builder =
                sealed_session::revocation::redis::RedisStore::builder(url, CONTEXT, node, &dir, keys);
            if let Some(events) = &config.events {
                builder = builder.events(events.clone());
            }
            Arc::new(builder.open()?)
        }
    })
}

/// Readiness for a load balancer: 200 once the node holds every revocation it must enforce
/// (local state loaded and the feed read), 503 with the reason before.
async fn healthz(State(bank): Bk) -> Response {
    let readiness = bank.manager.store().readiness();
    if readiness.is_ready() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, format!("{readiness}\n")).into_response()
    }
}

#[derive(Deserialize)]
struct LoginForm {
    user: String,
    password: String,
}

#[derive(Deserialize)]
struct PasswordForm {
    password: String,
}

#[derive(Deserialize)]
struct TransferForm {
    to: String,
    amount: String,
}

async fn home(MaybeSession(session): MaybeSession) -> Html<String> {
    Html(pages::home(session.as_ref()))
}

/// Visitors get an anonymous session here, as real sites do for carts and form state: it is
/// exactly what an attacker would harvest and plant, and login must make it worthless.
async fn login_page(control: SessionControl) -> Response {
    match control.begin().await {
        Ok(info) => Html(pages::login(Some(&info), None)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn login(
    State(bank): Bk,
    peer: Peer,
    MaybeSession(session): MaybeSession,
    control: SessionControl,
    Form(form): Form<LoginForm>,
) -> Response {
    let user = match check_password(&bank, source(peer), form.user, form.password).await {
        Ok(Some(user)) => user,
        Ok(None) => {
            let page = pages::login(session.as_ref(), Some("wrong user name or password"));
            return (StatusCode::UNAUTHORIZED, Html(page)).into_response();
        }
        Err(refusal) => return limited(refusal, pages::login(session.as_ref(), Some(LIMITED))),
    };
    // A new session id, whatever the request carried: nothing a client presented is adopted.
    match control.login(user, Privilege::Authenticated).await {
        Ok(_) => Redirect::to("/account").into_response(),
        Err(e) => e.into_response(),
    }
}

async fn account(State(bank): Bk, signed: Signed) -> Response {
    let info = match signed {
        Ok(RequireLevel { session: info, .. }) => info,
        Err(e) => return refused(e),
    };
    let user = subject(&info);
    let balance = bank.accounts.balance(user).unwrap_or(0);
    Html(pages::account(&info, user, balance, bank.manager.now())).into_response()
}

async fn transfer_page(State(bank): Bk, signed: Signed) -> Response {
    let info = match signed {
        Ok(RequireLevel { session: info, .. }) => info,
        Err(e) => return refused(e),
    };
    if info.privilege < Privilege::Elevated {
        return Html(step_up_page(&bank, &info, None)).into_response();
    }
    let user = subject(&info);
    let (balance, others) = (
        bank.accounts.balance(user).unwrap_or(0),
        bank.accounts.others(user),
    );
    Html(pages::transfer_form(&info, balance, &others, None)).into_response()
}

async fn transfer(
    State(bank): Bk,
    elevated: Result<RequireLevel<level::Elevated>, WebError>,
    MaybeSession(session): MaybeSession,
    Form(form): Form<TransferForm>,
) -> Response {
    let info = match (elevated, session) {
        (Ok(RequireLevel { session: info, .. }), _) => info,
        (Err(WebError::Forbidden), Some(info)) if info.privilege == Privilege::Authenticated => {
            let page = step_up_page(&bank, &info, Some("confirm your password to make transfers"));
            return (StatusCode::FORBIDDEN, Html(page)).into_response();
        }
        (Err(e), _) => return refused(e),
    };
    let user = subject(&info);
    match bank.accounts.transfer(user, &form.to, &form.amount) {
        Ok(balance) => Html(pages::transferred(&info, &form.amount, &form.to, balance)).into_response(),
        Err(e) => {
            let (balance, others) = (
                bank.accounts.balance(user).unwrap_or(0),
                bank.accounts.others(user),
            );
            let page = pages::transfer_form(&info, balance, &others, Some(&e.to_string()));
            (StatusCode::BAD_REQUEST, Html(page)).into_response()
        }
    }
}

async fn elevate(
    State(bank): Bk,
    peer: Peer,
    signed: Signed,
    control: SessionControl,
    Form(form): Form<PasswordForm>,
) -> Response {
    let info = match signed {
        Ok(RequireLevel { session: info, .. }) => info,
        Err(e) => return refused(e),
    };
    let user = subject(&info).to_owned();
    match check_password(&bank, source(peer), user.clone(), form.password).await {
        Ok(Some(checked)) if checked == user => {}
        Ok(_) => {
            let page = step_up_page(&bank, &info, Some("wrong password"));
            return (StatusCode::FORBIDDEN, Html(page)).into_response();
        }
        Err(refusal) => return limited(refusal, step_up_page(&bank, &info, Some(LIMITED))),
    }
    match control.elevate().await {
        Ok(_) => Redirect::to("/transfer").into_response(),
        Err(e) => e.into_response(),
    }
}

async fn step_down(signed: Signed, control: SessionControl) -> Response {
    match signed {
        Ok(RequireLevel { session: info, .. }) if info.privilege == Privilege::Elevated => {
            match control.step_down().await {
                Ok(_) => Redirect::to("/account").into_response(),
                Err(e) => e.into_response(),
            }
        }
        Ok(_) => Redirect::to("/account").into_response(),
        Err(e) => refused(e),
    }
}

async fn logout(control: SessionControl) -> Response {
    ended(control.logout().await)
}

async fn logout_everywhere(control: SessionControl) -> Response {
    ended(control.logout_everywhere().await)
}

/// After logout: home, or the error if the revocation could not be made durable (the user
/// must not believe they are logged out when another node would still accept the token).
fn ended(result: Result<(), WebError>) -> Response {
    match result {
        Ok(()) | Err(WebError::Unauthenticated) => Redirect::to("/").into_response(),
        Err(e) => e.into_response(),
    }
}

/// Without a signed-in session (none, or the anonymous one the login page starts): the login
/// form with 401. Other refusals keep the layer's fixed bodies.
fn refused(e: WebError) -> Response {
    match e {
        WebError::Unauthenticated | WebError::Forbidden => {
            let page = pages::login(None, Some("please sign in"));
            (StatusCode::UNAUTHORIZED, Html(page)).into_response()
        }
        other => other.into_response(),
    }
}

fn step_up_page(bank: &Bank, info: &SessionInfo, error: Option<&str>) -> String {
    let ttl = bank.manager.policy().elevated_ttl().as_secs();
    pages::step_up(info, ttl, error)
}

/// Authenticated sessions always carry their subject.
fn subject(info: &SessionInfo) -> &str {
    info.subject.as_deref().unwrap_or_default()
}

/// The peer address `serve` attaches (absent under other servers: one shared budget).
type Peer = Option<Extension<ConnectInfo<SocketAddr>>>;

fn source(peer: Peer) -> Option<IpAddr> {
    peer.map(|Extension(ConnectInfo(addr))| addr.ip())
}

const LIMITED: &str = "too many attempts: wait a little and try again";

/// Argon2 (19 MiB, tens of milliseconds) through the limiter, off the async workers.
async fn check_password(
    bank: &Arc<Bank>,
    source: Option<IpAddr>,
    user: String,
    password: String,
) -> Result<Option<&'static str>, Refusal> {
    let (b, now) = (bank.clone(), bank.manager.now());
    let limiter = &bank.limiter;
    limiter
        .check(source, &user.clone(), now, move || {
            b.accounts.check(&user, &password)
        })
        .await
}

/// 429 with `Retry-After` over a budget, 503 when the hashing queue is full.
fn limited(refusal: Refusal, page: String) -> Response {
    let (status, retry_after) = match refusal {
        Refusal::Throttled { retry_after } => (StatusCode::TOO_MANY_REQUESTS, retry_after),
        Refusal::Busy => (StatusCode::SERVICE_UNAVAILABLE, 1),
    };
    let mut response = (status, Html(page)).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    response
}
