//! A node process: this test binary re-executed with `SEALED_CLUSTER_ROLE=node`, serving a
//! small plain-text API over the real session manager and a real revocation feed.
//!
//! ```text
//! POST /login/<user>            200, body: token
//! GET  /check      x-token      200 "ok <subject> key=<id>" (+ x-replacement: <token>) | 401
//! POST /logout     x-token      200 | 401
//! POST /logout-everywhere/<u>   200
//! POST /kill-switch             200 (everything issued so far)
//! GET  /healthz                 200 ready | 503 <why>
//! ```
//! Events the library emits are printed on stdout as `event <kind> ...`, which the parent
//! collects.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use sealed_session::revocation::{FileStore, FilterConfig, RevocationStore};
use sealed_session::{
    ClientContext, Clock, EventSink, Keys, Policy, Privilege, Rotation, SecurityEvent, SessionManager,
    SystemClock, UnixTime,
};

use super::proxy::ROLE;

/// The application context of every node.
pub const CONTEXT: &str = "cluster-test";

/// Where a node's revocations are shared.
#[derive(Clone, Debug)]
pub enum Feed {
    /// A Redis Streams feed at this URL.
    Redis(String),
    /// A data directory shared by the nodes on this machine.
    SharedDir(PathBuf),
}

/// How to start a node.
#[derive(Clone, Debug)]
pub struct NodeSpec {
    pub name: String,
    pub keys: PathBuf,
    /// The node's own data directory (local state of the Redis feed).
    pub dir: PathBuf,
    pub feed: Feed,
    /// Seconds added to the system clock (negative: behind).
    pub skew: i64,
    /// Token TTL and absolute lifetime, seconds.
    pub lifetime: u64,
    /// Clock leeway, seconds.
    pub leeway: u64,
}

impl NodeSpec {
    pub fn new(name: &str, keys: &Path, dir: &Path, feed: Feed) -> Self {
        Self {
            name: name.to_owned(),
            keys: keys.to_path_buf(),
            dir: dir.join(name),
            feed,
            skew: 0,
            lifetime: 3600,
            leeway: 5,
        }
    }
}

/// A running node, seen from the test.
pub struct Node {
    pub spec: NodeSpec,
    pub port: u16,
    child: Option<Child>,
    events: Arc<Mutex<Vec<String>>>,
}

impl Node {
    pub fn start(spec: NodeSpec) -> Self {
        let mut node = Self {
            spec,
            port: 0,
            child: None,
            events: Arc::new(Mutex::new(Vec::new())),
        };
        node.spawn();
        node
    }

    fn spawn(&mut self) {
        let s = &self.spec;
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .args([
                "--exact",
                "cluster_child_process",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(ROLE, "node")
            .env("SEALED_NODE_NAME", &s.name)
            .env("SEALED_NODE_KEYS", &s.keys)
            .env("SEALED_NODE_DIR", &s.dir)
            .env("SEALED_NODE_SKEW", s.skew.to_string())
            .env("SEALED_NODE_LIFETIME", s.lifetime.to_string())
            .env("SEALED_NODE_LEEWAY", s.leeway.to_string())
            .env("SEALED_NODE_PORT", self.port.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        match &s.feed {
            Feed::Redis(url) => command.env("SEALED_NODE_REDIS", url),
            Feed::SharedDir(dir) => command.env("SEALED_NODE_SHARED_DIR", dir),
        };
        let mut child = command.spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let port = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|l| {
                l.split("node listening ")
                    .nth(1)
                    .and_then(|p| p.trim().parse().ok())
            })
            .unwrap_or_else(|| panic!("node {} did not start", self.spec.name));
        self.port = port;
        let events = Arc::clone(&self.events);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if let Some(event) = line.strip_prefix("event ") {
                    events.lock().unwrap().push(event.to_owned());
                }
            }
        });
        self.child = Some(child);
    }

    /// SIGKILL: no flush, no clean shutdown.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Starts the node again on the same port.
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    pub fn events(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }

    pub fn ready(&self) -> bool {
        super::http::request(self.port, "GET", "/healthz", None).status == 200
    }

    /// Logs `user` in on this node; the token.
    pub fn login(&self, user: &str) -> String {
        let r = super::http::request(self.port, "POST", &format!("/login/{user}"), None);
        assert_eq!(r.status, 200, "login on {}: {}", self.spec.name, r.body);
        r.body
    }

    /// Whether this node accepts `token` (a replacement it hands out is ignored).
    pub fn accepts(&self, token: &str) -> bool {
        self.check(token).status == 200
    }

    pub fn check(&self, token: &str) -> super::http::Response {
        super::http::request(self.port, "GET", "/check", Some(token))
    }

    pub fn logout(&self, token: &str) {
        let r = super::http::request(self.port, "POST", "/logout", Some(token));
        assert_eq!(r.status, 200, "logout on {}: {}", self.spec.name, r.body);
    }

    pub fn logout_everywhere(&self, user: &str) {
        let r = super::http::request(self.port, "POST", &format!("/logout-everywhere/{user}"), None);
        assert_eq!(r.status, 200, "{}", r.body);
    }

    pub fn kill_switch(&self) {
        let r = super::http::request(self.port, "POST", "/kill-switch", None);
        assert_eq!(r.status, 200, "{}", r.body);
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The node's clock: the system clock moved by a fixed skew.
struct SkewedClock(i64);

impl Clock for SkewedClock {
    fn now(&self) -> UnixTime {
        let now = SystemClock.now().0;
        UnixTime(now.saturating_add_signed(self.0))
    }
}

/// Prints events for the parent.
struct PrintedEvents;

impl EventSink for PrintedEvents {
    fn emit(&self, e: &SecurityEvent) {
        println!(
            "event {:?} subject={:?} at={:?}",
            e.kind,
            e.subject,
            e.at.map(|t| t.0)
        );
    }
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

fn open_store(keys: &Keys, clock: Arc<dyn Clock>) -> Arc<dyn RevocationStore> {
    let dir = PathBuf::from(env("SEALED_NODE_DIR"));
    if let Ok(shared) = std::env::var("SEALED_NODE_SHARED_DIR") {
        return Arc::new(FileStore::open(shared.as_ref(), keys, FilterConfig::default()).unwrap());
    }
    let url = env("SEALED_NODE_REDIS");
    let _ = clock;
    let store = sealed_session::revocation::redis::RedisStore::builder(
        &url,
        CONTEXT,
        &env("SEALED_NODE_NAME"),
        &dir,
        keys,
    )
    .events(Arc::new(PrintedEvents))
    .open()
    .unwrap();
    Arc::new(store)
}

/// The node, in the child process.
pub fn run_node_from_env() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(serve());
}

async fn serve() {
    let keys_path = PathBuf::from(env("SEALED_NODE_KEYS"));
    let keys = Keys::from_file(&keys_path).unwrap();
    // Nodes pick up a staged rotation from the shared key file without a restart.
    keys.watch_file(&keys_path, Duration::from_millis(100)).unwrap();
    let skew: i64 = env("SEALED_NODE_SKEW").parse().unwrap();
    let lifetime = Duration::from_secs(env("SEALED_NODE_LIFETIME").parse().unwrap());
    let leeway = Duration::from_secs(env("SEALED_NODE_LEEWAY").parse().unwrap());
    let clock: Arc<dyn Clock> = Arc::new(SkewedClock(skew));
    let store = tokio::task::block_in_place(|| open_store(&keys, clock.clone()));
    let policy = Policy::default()
        .with_token_ttl(lifetime)
        .with_absolute_lifetime(lifetime)
        .with_leeway(leeway)
        // The test clients keep the token they were given: rotation is tested elsewhere.
        .with_rotation(Rotation::Off);
    let manager = SessionManager::builder(keys, CONTEXT, store)
        .with_policy(policy)
        .with_clock(clock)
        .with_events(Arc::new(PrintedEvents))
        .build()
        .unwrap();
    let app = Router::new()
        .route("/login/{user}", post(login))
        .route("/check", get(check))
        .route("/logout", post(logout))
        .route("/logout-everywhere/{user}", post(logout_everywhere))
        .route("/kill-switch", post(kill_switch))
        .route("/healthz", get(healthz))
        .with_state(Arc::new(manager));
    let port: u16 = env("SEALED_NODE_PORT").parse().unwrap();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    println!("node listening {}", listener.local_addr().unwrap().port());
    axum::serve(listener, app).await.unwrap();
}

type Manager = State<Arc<SessionManager>>;

fn client() -> ClientContext<'static> {
    ClientContext::new(Some([127, 0, 0, 1].into()), Some("cluster-test-client"))
}

fn token(headers: &HeaderMap) -> String {
    headers
        .get("x-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn refused() -> Response {
    (StatusCode::UNAUTHORIZED, "refused").into_response()
}

/// Runs a transition (it may fsync) off the async workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

async fn login(State(m): Manager, UrlPath(user): UrlPath<String>) -> Response {
    blocking(
        move || match m.authenticate(None, &user, Privilege::Authenticated, &client()) {
            Ok(minted) => minted.token.expose_secret().to_owned().into_response(),
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        },
    )
    .await
}

async fn check(State(m): Manager, headers: HeaderMap) -> Response {
    match m.verify(&token(&headers), &client()) {
        Ok(v) => {
            let body = format!(
                "ok {} key={}",
                v.session.subject().unwrap_or("-"),
                v.session.key_id().0
            );
            match v.replacement {
                Some(t) => ([("x-replacement", t.expose_secret().to_owned())], body).into_response(),
                None => body.into_response(),
            }
        }
        Err(_) => refused(),
    }
}

async fn logout(State(m): Manager, headers: HeaderMap) -> Response {
    let Ok(v) = m.verify(&token(&headers), &client()) else {
        return refused();
    };
    blocking(move || match m.logout(v.session, &client()) {
        Ok(()) => "logged out".into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    })
    .await
}

async fn logout_everywhere(State(m): Manager, UrlPath(user): UrlPath<String>) -> Response {
    blocking(move || match m.logout_everywhere(&user, &client()) {
        Ok(()) => "logged out everywhere".into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    })
    .await
}

async fn kill_switch(State(m): Manager) -> Response {
    blocking(move || {
        let before = m.now().saturating_add(Duration::from_secs(1));
        match m.kill_switch(before, &client()) {
            Ok(()) => "kill switch set".into_response(),
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        }
    })
    .await
}

async fn healthz(State(m): Manager) -> Response {
    let readiness = m.store().readiness();
    if readiness.is_ready() {
        "ready".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, readiness.to_string()).into_response()
    }
}
