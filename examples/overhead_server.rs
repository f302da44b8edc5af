//! A minimal axum server for measuring the session layer's overhead end to end
//! (`benches/web-overhead.sh` drives it with wrk): one handler returning a small body, served
//! bare (`--layer off`) or behind [`SessionLayer`] (`--layer on`).
//!
//! With the layer on and `--cookie-file PATH`, it mints one authenticated session for
//! 127.0.0.1 and User-Agent `wrk-overhead` and writes its `Cookie:` header line to PATH
//! (mode 0600; the token is a secret and is never printed). Rotation is off, so every request
//! runs the full verify (AEAD open, claims, binding, revocation probe) and nothing else.
//! `GET /check` (layer on only) answers 200 only with a verified session, so a driver can
//! confirm its cookie works before measuring. Prints `listening on http://ADDR` once ready.
//!
//! `--revoked N` (memory store only) fills the revocation filter with N random revoked ids in
//! the epoch the minted session probes, the filter sized to hold them (as
//! `examples/filter-stats.rs` sizes it), so every verify probes a loaded filter
//! (`benches/web-peers.sh` uses 1,000,000).
//!
//! For the three-node comparison (`benches/cluster-vs-tower-sessions.sh`), `--keys FILE
//! --redis URL --node NAME --data-dir DIR` shares one key file and a Redis revocation feed
//! between nodes (feature `redis`), so a cookie minted by one node verifies on every node.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use sealed_session::revocation::{Durability, FilterConfig, MemoryStore, Revocation, RevocationStore};
use sealed_session::token::Epoch;
use sealed_session::web::{SessionInfo, SessionLayer};
use sealed_session::{ClientContext, KeyRing, Keys, Policy, Privilege, Rotation, SessionManager};

/// The User-Agent the minted session is bound to; wrk must send it.
const USER_AGENT: &str = "wrk-overhead";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn hello() -> &'static str {
    "hello, world\n"
}

async fn check(session: SessionInfo) -> String {
    format!("verified, level {:?}\n", session.privilege)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut addr = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut layer = true;
    let mut cookie_file: Option<PathBuf> = None;
    let mut keys_file: Option<PathBuf> = None;
    let mut redis: Option<String> = None;
    let mut node = "a".to_owned();
    let mut data_dir = std::env::temp_dir().join("sealed-session-overhead");
    let mut revoked: usize = 0;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--addr" => addr = value.parse()?,
            "--layer" => layer = value == "on",
            "--cookie-file" => cookie_file = Some(PathBuf::from(value)),
            "--keys" => keys_file = Some(PathBuf::from(value)),
            "--redis" => redis = Some(value),
            "--node" => node = value,
            "--data-dir" => data_dir = PathBuf::from(value),
            "--revoked" => revoked = value.parse()?,
            other => {
                return Err(format!(
                    "unknown option {other} (--addr, --layer on|off, --cookie-file, --keys, --redis, --node, --data-dir, --revoked N)"
                )
                .into())
            }
        }
    }
    let mut router = Router::new().route("/", get(hello));
    if layer {
        let ring = match &keys_file {
            Some(path) => KeyRing::from_file(path)?,
            None => KeyRing::generate()?,
        };
        let keys = Keys::new(ring)?;
        if revoked > 0 && redis.is_some() {
            return Err("--revoked is for the memory store (no --redis)".into());
        }
        let store = open_store(redis.as_deref(), &node, &data_dir, &keys, revoked)?;
        let manager = Arc::new(
            SessionManager::builder(keys, "overhead", store)
                .with_policy(Policy::default().with_rotation(Rotation::Off))
                .build()?,
        );
        if cookie_file.is_some() || revoked > 0 {
            let client = ClientContext::new(Some(IpAddr::V4(Ipv4Addr::LOCALHOST)), Some(USER_AGENT));
            let minted = manager.authenticate(None, "alice", Privilege::Authenticated, &client)?;
            fill_filter(manager.store().as_ref(), minted.session.epoch(), revoked)?;
            if let Some(path) = &cookie_file {
                let line = format!("Cookie: session={}\n", minted.token.expose_secret());
                write_private(path, line.as_bytes())?;
            }
        }
        router = router
            .route("/check", get(check))
            .layer(SessionLayer::new(manager).dangerous_insecure_http());
    }
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}

fn open_store(
    redis: Option<&str>,
    node: &str,
    data_dir: &std::path::Path,
    keys: &Keys,
    revoked: usize,
) -> Result<Arc<dyn RevocationStore>, BoxError> {
    match redis {
        None => {
            let default = FilterConfig::default();
            let config = default.with_capacity(default.capacity().max(revoked));
            Ok(Arc::new(MemoryStore::new(config)?))
        }
        #[cfg(feature = "redis")]
        Some(url) => {
            let store = sealed_session::revocation::redis::RedisStore::builder(
                url,
                "overhead",
                node,
                data_dir.join(node),
                keys,
            )
            .open()?;
            Ok(Arc::new(store))
        }
        #[cfg(not(feature = "redis"))]
        Some(_) => {
            let _ = (node, data_dir, keys, revoked);
            Err("--redis needs the redis feature".into())
        }
    }
}

/// Revokes `count` random ids (a fixed seed: the same filter every run) in `epoch`, in memory.
fn fill_filter(store: &dyn RevocationStore, epoch: Epoch, count: usize) -> Result<(), BoxError> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for _ in 0..count {
        let mut id = [0u8; 16];
        rng.fill_bytes(&mut id);
        store.revoke_with(Revocation::Id { epoch, id }, Durability::Local)?;
    }
    Ok(())
}

fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)
}
