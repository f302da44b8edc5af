//! A small JSON API with bearer and DPoP sessions: `cargo run --example api`, then follow the
//! curl lines it prints, or run the DPoP client in `tests/node_client`. The bank's demo users
//! sign in with their Argon2id passwords.
//!
//! ```text
//! POST /login    {"user","password"} → {"access_token","token_type":"Bearer","expires_in"}
//!                + DPoP: <proof>       → {"access_token","token_type":"DPoP",…} bound to the proof's key
//! GET  /me       Authorization: Bearer … (or DPoP … + DPoP: <proof>) → subject, level, expiry, handle
//! POST /refresh  the same → a new token (the old one: grace window, then reuse)
//! POST /logout   the same → 204; the token is refused on every node
//! ```
//!
//! DPoP proofs (RFC 9449) must carry the server's nonce: the first proof of a client is
//! answered 401 `use_dpop_nonce` with a `DPoP-Nonce` header, and every DPoP response carries a
//! fresh one. `tests/api_curl.rs` (curl, bearer) and `tests/api_dpop_node.rs` (Node's fetch
//! with the npm `dpop` package) include this file by path and drive [`router`].
// The test that includes this file uses the router, not `main`.
#![allow(dead_code, unreachable_pub)]

#[path = "bank/accounts.rs"]
mod accounts;
#[path = "bank/limits.rs"]
mod limits;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::Deserialize;
use zeroize::Zeroizing;

use sealed_session::dpop::{DpopConfig, DpopVerifier};
use sealed_session::revocation::{FileStore, FilterConfig};
use sealed_session::web::{level, RequireLevel, SessionControl, SessionLayer, TokenResponse, WebError};
use sealed_session::{KeyRing, Keys, Login, SessionManager};

pub use accounts::{Accounts, DEMO_USERS};
use limits::{LoginLimiter, LoginLimits, Refusal};

/// Errors while setting the API up.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The application context sealed into every token: the bank's cookies do not open here.
pub const CONTEXT: &str = "sealed-api";

/// What the handlers share.
pub struct Api {
    manager: Arc<SessionManager>,
    accounts: Accounts,
    limiter: Arc<LoginLimiter>,
}

/// The session manager over a file store in `data_dir`.
///
/// # Errors
/// The store or the manager could not be set up.
pub fn manager(keys: Keys, data_dir: &Path) -> Result<Arc<SessionManager>, BoxError> {
    std::fs::create_dir_all(data_dir)?;
    let store = Arc::new(FileStore::open(data_dir, &keys, FilterConfig::default())?);
    Ok(Arc::new(SessionManager::builder(keys, CONTEXT, store).build()?))
}

/// How long a DPoP server nonce is accepted after issue.
pub const NONCE_LIFETIME: Duration = Duration::from_secs(120);

/// The API's routes behind a session layer that accepts bearer and DPoP tokens, served at
/// `public_origin` (`http://127.0.0.1:8090`: the origin DPoP proofs name in `htu`).
///
/// # Errors
/// A bad origin, or hashing the demo passwords failed.
pub fn router(manager: Arc<SessionManager>, public_origin: &str) -> Result<Router, BoxError> {
    // A login with a `DPoP` proof gets a token bound to the proof's key; every request with
    // it needs a fresh proof of that key, with the server's nonce (spec/sessions.md §8.2).
    let layer = SessionLayer::new(manager.clone())
        .with_bearer_tokens()
        .with_dpop(DpopVerifier::new(DpopConfig::default())?)
        .with_dpop_nonces(NONCE_LIFETIME)?
        .with_public_origin(public_origin)?;
    let api = Arc::new(Api {
        manager,
        accounts: Accounts::demo()?,
        limiter: LoginLimiter::new(LoginLimits::default()),
    });
    Ok(Router::new()
        .route("/login", post(login))
        .route("/me", get(me))
        .route("/refresh", post(refresh))
        .route("/logout", post(logout))
        .with_state(api)
        .layer(layer))
}

#[derive(Deserialize)]
struct Credentials {
    user: String,
    password: String,
}

type Peer = Option<Extension<ConnectInfo<SocketAddr>>>;

/// Argon2id through the bank's limiter (per source, per account, a cap on hashing), then a
/// new session whose token goes back in the body.
async fn login(State(api): State<Arc<Api>>, peer: Peer, control: SessionControl, body: Bytes) -> Response {
    let Ok(Credentials { user, password }) = serde_json::from_slice(&body) else {
        return json_error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    let password = Zeroizing::new(password);
    let source = peer.map(|Extension(ConnectInfo(a))| a.ip());
    match check_password(&api, source, user, password).await {
        Ok(Some(subject)) => {
            // Sealed into every token of the session, readable only by this server.
            let login = Login::new(subject).with_app_data(b"role=customer");
            control.login_for_api(login).await.into_response()
        }
        // RFC 6749 §5.2: wrong credentials are an invalid grant; which part was wrong is not said.
        Ok(None) => json_error(StatusCode::BAD_REQUEST, "invalid_grant"),
        Err(refusal) => limited(refusal),
    }
}

async fn check_password(
    api: &Arc<Api>,
    source: Option<IpAddr>,
    user: String,
    password: Zeroizing<String>,
) -> Result<Option<&'static str>, Refusal> {
    let (checker, now) = (api.clone(), api.manager.now());
    api.limiter
        .check(source, &user.clone(), now, move || {
            checker.accounts.check(&user, &password)
        })
        .await
}

/// Who the session is. 401 (`WWW-Authenticate: Bearer …` or `DPoP …`) without a valid token.
async fn me(session: RequireLevel<level::Authenticated>) -> Response {
    let body = serde_json::json!({
        "subject": session.subject,
        "level": format!("{:?}", session.privilege).to_ascii_lowercase(),
        "expires_at": session.expires_at.secs(),
        "session_deadline": session.session_deadline.secs(),
        "handle": session.handle().to_string(),
        "app_data": String::from_utf8_lossy(session.app_data()),
    });
    ([(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

/// A fresh token for the same session; the presented one keeps the grace window.
async fn refresh(control: SessionControl) -> Result<TokenResponse, WebError> {
    control.refresh_for_api().await
}

/// Revokes the session on every node sharing the data directory.
async fn logout(control: SessionControl) -> Result<StatusCode, WebError> {
    control.logout().await?;
    Ok(StatusCode::NO_CONTENT)
}

fn json_error(status: StatusCode, code: &'static str) -> Response {
    let body = format!(r#"{{"error":"{code}"}}"#);
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// 429 with `Retry-After` over a budget, 503 when the hashing queue is full.
fn limited(refusal: Refusal) -> Response {
    let (status, code, retry_after) = match refusal {
        Refusal::Throttled { retry_after } => (StatusCode::TOO_MANY_REQUESTS, "slow_down", retry_after),
        Refusal::Busy => (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", 1),
    };
    let mut response = json_error(status, code);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    response
}

const USAGE: &str = "\
usage: cargo run --example api -- [options]

  --addr ADDR       listen address (default 127.0.0.1:8090; plain HTTP, loopback only)
  --keys FILE       key file (`sealed-session keygen --out FILE`); default: a fresh ring for this run
  --data-dir DIR    revocation store directory (default: <temp dir>/sealed-session-api)
  --help            this text";

struct Args {
    addr: SocketAddr,
    keys: Option<PathBuf>,
    data_dir: PathBuf,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), BoxError> {
    if !args.addr.ip().is_loopback() {
        return Err("this demo speaks plain HTTP, so it listens on loopback only".into());
    }
    let keys = match &args.keys {
        Some(path) => Keys::from_file(path)?,
        None => Keys::new(KeyRing::generate()?)?,
    };
    let manager = manager(keys, &args.data_dir)?;
    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    let local = listener.local_addr()?;
    banner(&args, local, &manager);
    let app =
        router(manager, &format!("http://{local}"))?.into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

fn banner(args: &Args, local: SocketAddr, manager: &SessionManager) {
    let url = format!("http://{local}");
    let policy = manager.policy();
    println!("Sealed API: bearer and DPoP sessions of sealed-session on {url}\n");
    for (user, password, _) in DEMO_USERS {
        println!("  demo user  {user:<8} password {password}");
    }
    println!("  data dir   {}", args.data_dir.display());
    match &args.keys {
        Some(path) => println!("  keys       {}", path.display()),
        None => println!("  keys       a fresh ring for this run (pass --keys FILE to keep sessions)"),
    }
    println!(
        "  tokens     expire after {} s unless refreshed; sessions end {} s after login\n",
        policy.token_ttl().as_secs(),
        policy.absolute_lifetime().as_secs()
    );
    let grab = r#"sed 's/.*"access_token":"\([^"]*\)".*/\1/'"#;
    println!("  # log in: the token comes back in the JSON body (RFC 6749 §5.1)");
    println!(
        "  TOKEN=$(curl -s {url}/login -H 'Content-Type: application/json' \\\n      -d '{{\"user\":\"alice\",\"password\":\"alice-demo-password\"}}' | {grab})"
    );
    println!("  curl -s {url}/me -H \"Authorization: Bearer $TOKEN\"");
    println!("  # refresh before it expires (bearer tokens are never rotated behind your back)");
    println!("  TOKEN=$(curl -s -X POST {url}/refresh -H \"Authorization: Bearer $TOKEN\" | {grab})");
    println!("  curl -s -X POST {url}/logout -H \"Authorization: Bearer $TOKEN\"");
    println!("  curl -si {url}/me -H \"Authorization: Bearer $TOKEN\"   # 401, WWW-Authenticate: Bearer error=\"invalid_token\"");
    println!("\n  Sender-constrained (DPoP, RFC 9449): a client that sends a `DPoP` proof with its login");
    println!("  gets \"token_type\":\"DPoP\", a token bound to its key's thumbprint, and sends it as");
    println!("  `Authorization: DPoP <token>` with a fresh proof (ath, server nonce) on every request;");
    println!("  a stolen token is refused without the key, and as `Bearer` too. A client on npm's `dpop`:");
    println!("  npm ci --prefix tests/node_client && node tests/node_client/flow.mjs {url}");
    println!("\nPress Ctrl-C to stop.");
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut args = Args {
        addr: SocketAddr::from(([127, 0, 0, 1], 8090)),
        keys: None,
        data_dir: std::env::temp_dir().join("sealed-session-api"),
    };
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--addr" => {
                let v = value()?;
                args.addr = v
                    .parse()
                    .map_err(|_| format!("--addr: not an ip:port address: {v}"))?;
            }
            "--keys" => args.keys = Some(PathBuf::from(value()?)),
            "--data-dir" => args.data_dir = PathBuf::from(value()?),
            "--help" | "-h" => return Ok(None),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(Some(args))
}
