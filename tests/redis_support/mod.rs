//! A throwaway `redis-server` per test (its own free port and directory, no persistence),
//! nodes built against it, and waiting for conditions with a deadline.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use sealed_session::revocation::redis::{RedisStore, RedisStoreBuilder};
use sealed_session::revocation::{Revocation, RevocationStore};
use sealed_session::token::Epoch;
use sealed_session::{CollectingSink, KeyId, KeyRing, KeyState, Keys, SessionKey};

/// The deployment context every test uses (each test has its own server).
pub const CONTEXT: &str = "test";

/// A `redis-server` child process; killed on drop.
pub struct Server {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Server {
    /// Starts a server on a free loopback port.
    pub fn start() -> Self {
        Self::start_on(free_port())
    }

    /// Starts a server on `port` (never 6379: tests pick free ports).
    pub fn start_on(port: u16) -> Self {
        assert_ne!(port, 6379);
        let dir = tempfile::tempdir().unwrap();
        let child = spawn(port, dir.path());
        let server = Self { child, port, dir };
        server.wait_until_up();
        server
    }

    pub fn url(&self) -> String {
        url(self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGSTOP: the server keeps its sockets open but answers nothing.
    pub fn pause(&self) {
        signal("-STOP", self.pid());
    }

    /// SIGCONT.
    pub fn resume(&self) {
        signal("-CONT", self.pid());
    }

    /// SIGKILL, then a new empty server on the same port.
    pub fn restart_empty(&mut self) {
        self.kill();
        self.child = spawn(self.port, self.dir.path());
        self.wait_until_up();
    }

    /// A plain client connection, for writing entries no node would.
    pub fn client(&self) -> redis::Connection {
        redis::Client::open(self.url()).unwrap().get_connection().unwrap()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn wait_until_up(&self) {
        wait_for(Duration::from_secs(10), "redis-server to answer PING", || {
            ping(self.port)
        });
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        signal("-CONT", self.pid()); // a stopped server would ignore SIGKILL until continued
        self.kill();
    }
}

pub fn url(port: u16) -> String {
    format!("redis://127.0.0.1:{port}")
}

/// A port nothing listens on (bound and released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn(port: u16, dir: &Path) -> Child {
    Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server must be installed (apt-get install redis-server)")
}

fn ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = [0u8; 7];
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

fn signal(sig: &str, pid: u32) {
    let _ = Command::new("kill").args([sig, &pid.to_string()]).status();
}

/// Polls `cond` until it holds; panics with `what` after `deadline`.
pub fn wait_for(deadline: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The key ring every node of the tests holds.
pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        Keys::new(
            KeyRing::empty()
                .with_key(KeyId(1), KeyState::Primary, SessionKey::from_bytes([9; 32]))
                .unwrap(),
        )
        .unwrap()
    })
}

/// A ring with the same key id and another secret: what an attacker without the key has.
pub fn other_keys() -> Keys {
    Keys::new(
        KeyRing::empty()
            .with_key(KeyId(1), KeyState::Primary, SessionKey::from_bytes([7; 32]))
            .unwrap(),
    )
    .unwrap()
}

/// A node's builder with test timings: fast retries, short deadlines.
pub fn builder(url: &str, name: &str, dir: &Path, events: &Arc<CollectingSink>) -> RedisStoreBuilder {
    RedisStore::builder(url, CONTEXT, name, dir, keys())
        .events(events.clone())
        .reconnect_backoff(Duration::from_millis(50), Duration::from_millis(400))
        .command_timeout(Duration::from_millis(800))
}

/// A node with its own data directory and event sink.
pub struct Node {
    pub store: Option<RedisStore>,
    pub events: Arc<CollectingSink>,
    pub dir: tempfile::TempDir,
    pub name: &'static str,
}

impl Node {
    pub fn open(url: &str, name: &'static str) -> Self {
        Self::open_with(url, name, |b| b)
    }

    pub fn open_with(
        url: &str,
        name: &'static str,
        f: impl FnOnce(RedisStoreBuilder) -> RedisStoreBuilder,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let events = Arc::new(CollectingSink::new());
        let store = f(builder(url, name, dir.path(), &events)).open().unwrap();
        Self {
            store: Some(store),
            events,
            dir,
            name,
        }
    }

    pub fn store(&self) -> &RedisStore {
        self.store.as_ref().expect("node is open")
    }

    /// Drops the store (the node goes away; its directory stays).
    pub fn close(&mut self) {
        self.store = None;
    }

    /// Opens the store again on its directory.
    pub fn reopen(&mut self, url: &str) {
        self.reopen_with(|b| b, url);
    }

    pub fn reopen_with(&mut self, f: impl FnOnce(RedisStoreBuilder) -> RedisStoreBuilder, url: &str) {
        self.store = None;
        self.store = Some(
            f(builder(url, self.name, self.dir.path(), &self.events))
                .open()
                .unwrap(),
        );
    }

    pub fn ready(&self) -> bool {
        self.store().readiness().is_ready()
    }
}

/// The epoch test revocations use.
pub const EPOCH: Epoch = Epoch(20_000);

/// The `i`th id revocation of a test (`tag` keeps tests and nodes apart). Ids are random, as
/// real ones are: the filter takes its probe positions from the id's bits, so ids differing
/// in a few low bits would match each other.
pub fn id_revocation(tag: u8, i: u32) -> Revocation {
    use rand_core::{RngCore, SeedableRng};
    let mut id = [0u8; 16];
    rand_chacha::ChaCha8Rng::seed_from_u64(u64::from(tag) << 32 | u64::from(i)).fill_bytes(&mut id);
    Revocation::Id { epoch: EPOCH, id }
}

/// Whether `store` enforces `r`.
pub fn enforces(store: &dyn RevocationStore, r: &Revocation) -> bool {
    let set = store.set();
    match r {
        Revocation::Id { epoch, id } => set.contains(*epoch, id),
        Revocation::Subject { subject, cutoff } => set.subject_cutoff(subject).is_some_and(|c| c >= *cutoff),
        Revocation::KillSwitch { before } => set.kill_switch().is_some_and(|k| k >= *before),
    }
}

/// How many of `made` `store` does not enforce.
pub fn lost(store: &dyn RevocationStore, made: &[Revocation]) -> usize {
    made.iter().filter(|r| !enforces(store, r)).count()
}

/// Waits until `node` enforces all of `made`, then prints and checks the counts.
pub fn converge(node: &Node, made: &[Revocation], deadline: Duration, what: &str) {
    let store = node.store();
    let start = Instant::now();
    while lost(store, made) > 0 && start.elapsed() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let lost = lost(store, made);
    println!(
        "{what}: node {} made {} / enforced {} / lost {lost}",
        node.name,
        made.len(),
        made.len() - lost
    );
    assert_eq!(lost, 0, "{what}: node {} lost revocations", node.name);
}
