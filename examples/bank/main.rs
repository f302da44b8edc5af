//! The bank of the session-fixation seeds, served for a browser: `cargo run --example bank`
//! (plain HTTP on loopback) or `cargo run --example bank -- --tls` (HTTPS, self-signed).

#[path = "app.rs"]
mod app;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use sealed_session::{EventSink, KeyRing, SecurityEvent, SessionManager};

const USAGE: &str = "\
usage: cargo run --example bank -- [options]

  --addr ADDR       listen address (default 127.0.0.1:8080; plain HTTP only on loopback)
  --tls             HTTPS with a self-signed certificate made at start
  --data-dir DIR    revocation store directory (default: <temp dir>/sealed-session-bank)
  --keys FILE       key file (`sealed-session keygen --out FILE`); default: a fresh ring for this run
  --redis URL       share revocations with other bank nodes through Redis Streams (needs --keys
                    and --node; node state goes to <data-dir>/node-<name>)
  --node NAME       this node's name, unique in the cluster (with --redis)
  --help            this text

Two banks given the same --data-dir and --keys share revocations through the directory.
GET /healthz answers 200 once the node holds every revocation (local state and feed read).";

struct Args {
    addr: SocketAddr,
    tls: bool,
    data_dir: PathBuf,
    keys: Option<PathBuf>,
    redis: Option<String>,
    node: Option<String>,
}

/// Prints security events on stderr, so the demo shows what the library noticed.
struct StderrEvents;

impl EventSink for StderrEvents {
    fn emit(&self, e: &SecurityEvent) {
        let session = e.session.map_or_else(|| "-".to_owned(), |t| t.to_string());
        let source = e.source.map_or_else(|| "-".to_owned(), |s| s.to_string());
        let subject = e
            .subject
            .as_deref()
            .map(|s| format!(" subject={s}"))
            .unwrap_or_default();
        let at = e.at.map(|t| format!(" at={}", t.0)).unwrap_or_default();
        eprintln!(
            "security event: {:?} session={session} source={source}{subject}{at}",
            e.kind
        );
    }
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

async fn run(args: Args) -> Result<(), app::BoxError> {
    if !args.tls && !args.addr.ip().is_loopback() {
        return Err("plain HTTP is served on loopback only; add --tls to listen on another address".into());
    }
    let keys = match &args.keys {
        Some(path) => Some(KeyRing::from_file(path)?),
        None => None,
    };
    let fresh_keys = keys.is_none();
    let mut config = app::BankConfig::new(&args.data_dir, args.tls);
    config.keys = keys;
    config.events = Some(Arc::new(StderrEvents));
    config.feed = feed(&args)?;
    let (router, manager) = app::build_app(config)?;
    let tls = if args.tls { Some(app::tls_config()?) } else { None };
    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    let local = listener.local_addr()?;
    banner(&args, local, fresh_keys, &manager);
    tokio::select! {
        () = app::serve_with(listener, router, tls, app::ServeOptions::default()) => {}
        () = maintain(manager) => {}
        stop = tokio::signal::ctrl_c() => {
            stop?;
            println!("stopping");
        }
    }
    Ok(())
}

#[cfg(feature = "redis")]
fn feed(args: &Args) -> Result<app::BankFeed, app::BoxError> {
    Ok(match (&args.redis, &args.node) {
        (Some(url), Some(node)) => app::BankFeed::Redis {
            url: url.clone(),
            node: node.clone(),
        },
        _ => app::BankFeed::DataDir,
    })
}

#[cfg(not(feature = "redis"))]
fn feed(args: &Args) -> Result<app::BankFeed, app::BoxError> {
    match args.redis {
        Some(_) => Err("this build has no Redis support: run with --features redis".into()),
        None => Ok(app::BankFeed::DataDir),
    }
}

/// Drops revocation generations whose tokens have all expired.
async fn maintain(manager: Arc<SessionManager>) {
    let mut tick = tokio::time::interval(Duration::from_secs(300));
    loop {
        tick.tick().await;
        manager.maintain_at(manager.now());
    }
}

fn banner(args: &Args, local: SocketAddr, fresh_keys: bool, manager: &SessionManager) {
    let scheme = if args.tls { "https" } else { "http" };
    let host = if args.tls {
        "localhost".to_owned()
    } else {
        local.ip().to_string()
    };
    let policy = manager.policy();
    println!("Sealed Bank, the session-fixation demo of sealed-session\n");
    println!("  open        {scheme}://{host}:{}/", local.port());
    for (user, password, balance) in app::DEMO_USERS {
        println!("  demo user   {user:<8} password {password:<22} balance {balance}");
    }
    match (&args.redis, &args.node) {
        (Some(url), Some(node)) => println!(
            "  node        {node}: revocations shared through {url}; local state in {}",
            args.data_dir.join(format!("node-{node}")).display()
        ),
        _ => println!(
            "  data dir    {} (revocation log and snapshot, shared by every bank given it)",
            args.data_dir.display()
        ),
    }
    println!(
        "  health      {scheme}://{host}:{}/healthz (200 once ready)",
        local.port()
    );
    if fresh_keys {
        println!("  keys        a fresh key ring was generated at start: sessions end with this process");
        println!(
            "              (pass --keys FILE, made by `sealed-session keygen --out FILE`, to keep them)"
        );
    } else if let Some(path) = &args.keys {
        println!("  keys        {}", path.display());
    }
    println!(
        "  policy      elevation {} s, rotation after 60 s, idle {} s, absolute {} s, binding IP prefix + User-Agent",
        policy.elevated_ttl().as_secs(),
        policy.token_ttl().as_secs(),
        policy.absolute_lifetime().as_secs(),
    );
    if args.tls {
        println!(
            "  certificate self-signed, made now for {} (browsers will warn)",
            app::CERT_NAMES.join(", ")
        );
        println!("  cookie      __Host-session; Secure; HttpOnly; SameSite=Lax; Path=/");
        println!(
            "  sibling-subdomain demo: chromium --host-resolver-rules=\"MAP *.bank.test 127.0.0.1\" https://www.bank.test:{}/",
            local.port()
        );
    } else {
        println!();
        println!("  !!! PLAIN HTTP: the session cookie `session` goes out WITHOUT Secure and WITHOUT the");
        println!("  !!! __Host- prefix (CookieSettings::dangerous_insecure_http), in clear text. Loopback");
        println!("  !!! development only. Run with --tls for the secure cookie the library defaults to.");
    }
    println!("\nPress Ctrl-C to stop.");
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut args = Args {
        addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
        tls: false,
        data_dir: std::env::temp_dir().join("sealed-session-bank"),
        keys: None,
        redis: None,
        node: None,
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
            "--tls" => args.tls = true,
            "--data-dir" => args.data_dir = PathBuf::from(value()?),
            "--keys" => args.keys = Some(PathBuf::from(value()?)),
            "--redis" => args.redis = Some(value()?),
            "--node" => args.node = Some(value()?),
            "--help" | "-h" => return Ok(None),
            other => return Err(format!("unknown option {other}")),
        }
    }
    if args.redis.is_some() && (args.keys.is_none() || args.node.is_none()) {
        return Err("--redis needs --keys (every node must hold the same keys) and --node NAME".into());
    }
    if args.node.is_some() && args.redis.is_none() {
        return Err("--node names a node of a Redis cluster: pass --redis URL too".into());
    }
    Ok(Some(args))
}
