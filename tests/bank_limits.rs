//! The bank demo (examples/bank/) under the attacks of the external review: parallel
//! password guessing, guessing one account from many sources, trickled requests, idle
//! connection floods, and framing. Each test performs the attack and shows it failing.
//!
//! "No test sleeps for timing" is a project rule. The one real-time wait here,
//! `slow_clients_are_cut_off_by_the_timeouts`, waits for a server-side timeout to fire: that
//! is the behaviour under test, not a sleep for ordering. Every other time step moves a
//! `ManualClock`.
#![cfg(feature = "web")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "../examples/bank/app.rs"]
mod bank_app;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use bank_app::{LoginLimiter, LoginLimits, Refusal, ServeOptions};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use sealed_session::{ManualClock, UnixTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const START: UnixTime = UnixTime(1_750_000_000);

struct Bank {
    addr: SocketAddr,
    limiter: Arc<LoginLimiter>,
    clock: ManualClock,
    _dir: tempfile::TempDir,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Bank {
    fn drop(&mut self) {
        self.server.abort();
    }
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
}

async fn start(limits: LoginLimits, options: ServeOptions) -> Bank {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(START);
    let limiter = LoginLimiter::new(limits);
    let mut config = bank_app::BankConfig::new(dir.path(), false);
    config.clock = Some(Arc::new(clock.clone()));
    config.limiter = limiter.clone();
    let (router, _manager) = bank_app::build_app(config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(bank_app::serve_with(listener, router, None, options));
    Bank {
        addr,
        limiter,
        clock,
        _dir: dir,
        server,
    }
}

/// Loopback is a /8 on Linux: each 127.x.y.z is a source of its own to the bank.
fn loopback(x: u8, y: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, x, y))
}

impl Bank {
    /// A request from `source`, as a same-origin page sends it (`Origin` and
    /// `Sec-Fetch-Site` on POST).
    async fn send(&self, source: IpAddr, method: Method, path: &str, form: &str) -> Reply {
        self.send_with(source, method, path, form, None).await
    }

    async fn send_with(
        &self,
        source: IpAddr,
        method: Method,
        path: &str,
        form: &str,
        cookie: Option<&str>,
    ) -> Reply {
        let mut connector = HttpConnector::new();
        connector.set_local_address(Some(source));
        let http: Client<_, Body> = Client::builder(TokioExecutor::new()).build(connector);
        let mut b = Request::builder()
            .method(method.clone())
            .uri(format!("http://{}{path}", self.addr))
            .header(header::USER_AGENT, "bank-limits-test");
        if let Some(c) = cookie {
            b = b.header(header::COOKIE, c);
        }
        if method == Method::POST {
            b = b
                .header(header::ORIGIN, format!("http://{}", self.addr))
                .header("sec-fetch-site", "same-origin")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        let response = http
            .request(b.body(Body::from(form.to_owned())).unwrap())
            .await
            .unwrap();
        Reply {
            status: response.status(),
            headers: response.headers().clone(),
        }
    }

    async fn login(&self, source: IpAddr, user: &str, password: &str) -> Reply {
        let form = format!("user={user}&password={password}");
        self.send(source, Method::POST, "/login", &form).await
    }
}

fn retry_after(reply: &Reply) -> u64 {
    reply.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

fn small_cap() -> LoginLimits {
    LoginLimits {
        hashing_permits: 2,
        hashing_queue: 4,
        ..LoginLimits::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_wrong_logins_are_capped_and_a_real_user_still_gets_in() {
    let bank = Arc::new(start(small_cap(), ServeOptions::default()).await);
    // One attacker, 64 parallel guesses, each task guessing again as soon as it is answered.
    let attacker = loopback(0, 1);
    let flood: Vec<_> = (0..64)
        .map(|i| {
            let bank = bank.clone();
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                for round in 0..4 {
                    let reply = bank.login(attacker, &format!("user{i}-{round}"), "guess").await;
                    statuses.push(reply.status);
                }
                statuses
            })
        })
        .collect();
    let started = Instant::now();
    let mallory = bank
        .login(loopback(0, 2), "mallory", "mallory-demo-password")
        .await;
    let waited = started.elapsed();
    assert_eq!(
        mallory.status,
        StatusCode::SEE_OTHER,
        "another source logs in during the flood"
    );
    assert!(waited < Duration::from_secs(3), "answered in {waited:?}");

    let mut statuses = Vec::new();
    for task in flood {
        statuses.extend(task.await.unwrap());
    }
    let count = |s: StatusCode| statuses.iter().filter(|x| **x == s).count();
    assert!(count(StatusCode::TOO_MANY_REQUESTS) > 200, "{statuses:?}");
    assert!(count(StatusCode::UNAUTHORIZED) >= 1);
    assert_eq!(
        count(StatusCode::UNAUTHORIZED) + count(StatusCode::TOO_MANY_REQUESTS),
        statuses.len(),
        "each guess is checked or throttled"
    );
    assert!(
        bank.limiter.peak_hashing() <= 2,
        "peak {}",
        bank.limiter.peak_hashing()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guesses_from_many_sources_find_a_bounded_queue() {
    let bank = Arc::new(start(small_cap(), ServeOptions::default()).await);
    let guesses: Vec<_> = (0..64u8)
        .map(|i| {
            let bank = bank.clone();
            tokio::spawn(async move { bank.login(loopback(1, i), &format!("user{i}"), "guess").await })
        })
        .collect();
    let mut statuses = Vec::new();
    for g in guesses {
        let reply = g.await.unwrap();
        if reply.status == StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(retry_after(&reply), 1);
        }
        statuses.push(reply.status);
    }
    let count = |s: StatusCode| statuses.iter().filter(|x| **x == s).count();
    assert!(
        count(StatusCode::SERVICE_UNAVAILABLE) > 0,
        "beyond the queue: 503 at once"
    );
    assert_eq!(
        count(StatusCode::SERVICE_UNAVAILABLE) + count(StatusCode::UNAUTHORIZED),
        64
    );
    assert!(
        bank.limiter.peak_hashing() <= 2,
        "peak {}",
        bank.limiter.peak_hashing()
    );
    let alice = bank.login(loopback(1, 200), "alice", "alice-demo-password").await;
    assert_eq!(alice.status, StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_throttle_holds_across_sources_and_lifts_with_time() {
    let bank = start(LoginLimits::default(), ServeOptions::default()).await;
    let laptop = loopback(2, 1);
    assert_eq!(
        bank.login(laptop, "alice", "alice-demo-password").await.status,
        StatusCode::SEE_OTHER
    );

    let burst = bank.limiter.limits().account_burst;
    for i in 0..burst {
        let reply = bank
            .login(loopback(3, u8::try_from(i).unwrap()), "alice", "guess")
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    let throttled = bank.login(loopback(3, 100), "alice", "guess").await;
    assert_eq!(
        throttled.status,
        StatusCode::TOO_MANY_REQUESTS,
        "a new source, the same account"
    );
    let wait = retry_after(&throttled);
    assert!((1..=30).contains(&wait), "Retry-After {wait}");
    // The right password from a stranger waits too: the throttle does not depend on the guess.
    let stranger = loopback(4, 1);
    let early = bank.login(stranger, "alice", "alice-demo-password").await;
    assert_eq!(early.status, StatusCode::TOO_MANY_REQUESTS);
    // Not a lockout: where alice signed in before, she still gets in.
    let own = bank.login(laptop, "alice", "alice-demo-password").await;
    assert_eq!(
        own.status,
        StatusCode::SEE_OTHER,
        "alice's own source is not locked out"
    );

    bank.clock.advance(Duration::from_secs(wait));
    let later = bank.login(stranger, "alice", "alice-demo-password").await;
    assert_eq!(
        later.status,
        StatusCode::SEE_OTHER,
        "after Retry-After the login succeeds"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_is_throttled_across_user_names() {
    let bank = start(LoginLimits::default(), ServeOptions::default()).await;
    let sprayer = loopback(5, 1);
    for i in 0..bank.limiter.limits().source_burst {
        let reply = bank.login(sprayer, &format!("name{i}"), "guess").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    let throttled = bank.login(sprayer, "alice", "alice-demo-password").await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after(&throttled), 3);
    let other = bank.login(loopback(5, 2), "alice", "alice-demo-password").await;
    assert_eq!(other.status, StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_up_guesses_are_throttled_like_logins() {
    let limits = LoginLimits {
        source_burst: 3,
        ..LoginLimits::default()
    };
    let bank = start(limits, ServeOptions::default()).await;
    let ip = loopback(8, 1);
    let login = bank.login(ip, "mallory", "mallory-demo-password").await;
    assert_eq!(login.status, StatusCode::SEE_OTHER);
    let set = login.headers[header::SET_COOKIE].to_str().unwrap();
    let cookie = set.split(';').next().unwrap().to_owned();
    for _ in 0..3 {
        let wrong = bank
            .send_with(ip, Method::POST, "/elevate", "password=guess", Some(&cookie))
            .await;
        assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    }
    let throttled = bank
        .send_with(ip, Method::POST, "/elevate", "password=guess", Some(&cookie))
        .await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after(&throttled), 3);
}

/// `check` with a verifier that never matches (no Argon2 needed to test the budgets).
async fn guess(
    limiter: &Arc<LoginLimiter>,
    ip: &str,
    user: &str,
    now: UnixTime,
) -> Result<Option<()>, Refusal> {
    limiter.check(Some(ip.parse().unwrap()), user, now, || None).await
}

#[tokio::test]
async fn ipv6_sources_are_keyed_by_their_64_prefix() {
    let limiter = LoginLimiter::new(LoginLimits {
        source_burst: 2,
        ..LoginLimits::default()
    });
    assert_eq!(guess(&limiter, "2001:db8:1:2::1", "a", START).await, Ok(None));
    assert_eq!(
        guess(&limiter, "2001:db8:1:2:ffff::9", "b", START).await,
        Ok(None)
    );
    assert_eq!(
        guess(&limiter, "2001:db8:1:2:abcd::1", "c", START).await,
        Err(Refusal::Throttled { retry_after: 3 }),
        "another address of the same /64"
    );
    assert_eq!(guess(&limiter, "2001:db8:1:3::1", "c", START).await, Ok(None));
}

#[tokio::test]
async fn a_name_spray_cannot_grow_the_tables_or_erase_a_throttle() {
    let limiter = LoginLimiter::new(LoginLimits {
        account_burst: 1,
        table_capacity: 4,
        ..LoginLimits::default()
    });
    assert_eq!(guess(&limiter, "192.0.2.1", "alice", START).await, Ok(None));
    let throttled = guess(&limiter, "192.0.2.2", "alice", START).await;
    assert!(matches!(throttled, Err(Refusal::Throttled { .. })));
    for name in ["n1", "n2", "n3"] {
        assert_eq!(guess(&limiter, "192.0.2.1", name, START).await, Ok(None));
    }
    // Four live account entries: a fifth name is refused, not stored, and alice's entry stays.
    assert_eq!(
        guess(&limiter, "192.0.2.1", "n4", START).await,
        Err(Refusal::Busy)
    );
    assert!(matches!(
        guess(&limiter, "192.0.2.2", "alice", START).await,
        Err(Refusal::Throttled { .. })
    ));
    // Once the buckets have refilled, their entries say nothing and make room.
    let later = START.saturating_add(Duration::from_secs(60));
    assert_eq!(guess(&limiter, "192.0.2.1", "n4", later).await, Ok(None));
}

/// Reads until the server closes; returns what it sent and how long that took.
async fn until_closed(mut tcp: TcpStream) -> (String, Duration) {
    let started = Instant::now();
    let mut seen = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut seen)).await;
    assert!(read.is_ok(), "the server kept the connection open");
    (String::from_utf8_lossy(&seen).into_owned(), started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_by_the_timeouts() {
    let options = ServeOptions {
        header_timeout: Duration::from_secs(1),
        body_timeout: Duration::from_secs(1),
        ..ServeOptions::default()
    };
    let bank = start(LoginLimits::default(), options).await;
    let host = bank.addr;
    // Half a request head, then nothing.
    let mut head = TcpStream::connect(host).await.unwrap();
    head.write_all(format!("POST /login HTTP/1.1\r\nHost: {host}\r\nContent-").as_bytes())
        .await
        .unwrap();
    // A whole head, then 10 of the 100 body bytes it announced.
    let mut body = TcpStream::connect(host).await.unwrap();
    let request = format!(
        "POST /login HTTP/1.1\r\nHost: {host}\r\nOrigin: http://{host}\r\nSec-Fetch-Site: same-origin\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nuser=alice"
    );
    body.write_all(request.as_bytes()).await.unwrap();
    // One request answered, then an idle keep-alive connection.
    let mut idle = TcpStream::connect(host).await.unwrap();
    idle.write_all(format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
        .await
        .unwrap();

    let (head, body, idle) = tokio::join!(until_closed(head), until_closed(body), until_closed(idle));
    for (what, (_, took)) in [
        ("trickled head", &head),
        ("trickled body", &body),
        ("idle", &idle),
    ] {
        assert!(*took < Duration::from_secs(4), "{what} open for {took:?}");
    }
    assert!(!head.0.contains("200 OK"));
    assert!(body.0.starts_with("HTTP/1.1 408"), "{}", body.0);
    assert!(idle.0.starts_with("HTTP/1.1 200"), "{}", idle.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_flood_does_not_keep_a_visitor_out() {
    let options = ServeOptions {
        max_connections: 16,
        header_timeout: Duration::from_secs(60),
        ..ServeOptions::default()
    };
    let bank = start(LoginLimits::default(), options).await;
    let mut idle = Vec::new();
    for _ in 0..16 + 8 {
        idle.push(TcpStream::connect(bank.addr).await.unwrap());
    }
    let visitor = tokio::time::timeout(
        Duration::from_secs(5),
        bank.send(loopback(6, 1), Method::GET, "/", ""),
    );
    assert_eq!(visitor.await.expect("answered").status, StatusCode::OK);
    // The oldest idle connection made room: closed without a response.
    let (sent, _) = until_closed(idle.remove(0)).await;
    assert!(sent.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_sends_the_security_headers() {
    let bank = start(LoginLimits::default(), ServeOptions::default()).await;
    let ip = loopback(7, 1);
    let mut replies = Vec::new();
    for path in ["/", "/login", "/account", "/transfer", "/no-such-page"] {
        replies.push((path, bank.send(ip, Method::GET, path, "").await));
    }
    for path in [
        "/login",
        "/elevate",
        "/transfer",
        "/step-down",
        "/logout",
        "/logout-everywhere",
    ] {
        replies.push((
            path,
            bank.send(ip, Method::POST, path, "user=eve&password=x").await,
        ));
    }
    let oversized = "x".repeat(ServeOptions::default().max_body + 1);
    let too_large = bank.send(ip, Method::POST, "/login", &oversized).await;
    assert_eq!(too_large.status, StatusCode::PAYLOAD_TOO_LARGE);
    replies.push(("413", too_large));
    for (path, reply) in &replies {
        let h = &reply.headers;
        assert_eq!(
            h[header::CONTENT_SECURITY_POLICY],
            bank_app::headers::CSP,
            "{path}"
        );
        assert!(bank_app::headers::CSP.contains("frame-ancestors 'none'"));
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY", "{path}");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
        assert_eq!(h[header::REFERRER_POLICY], "same-origin", "{path}");
        assert!(
            !h.contains_key(header::STRICT_TRANSPORT_SECURITY),
            "no HSTS over plain HTTP"
        );
    }
}

#[test]
fn hsts_is_added_over_tls_only_when_absent() {
    let mut fresh = HeaderMap::new();
    bank_app::headers::add_security_headers(&mut fresh, true);
    assert_eq!(fresh[header::STRICT_TRANSPORT_SECURITY], bank_app::headers::HSTS);

    let mut set_by_the_layer = HeaderMap::new();
    set_by_the_layer.insert(
        header::STRICT_TRANSPORT_SECURITY,
        "max-age=63072000".parse().unwrap(),
    );
    bank_app::headers::add_security_headers(&mut set_by_the_layer, true);
    let hsts: Vec<_> = set_by_the_layer
        .get_all(header::STRICT_TRANSPORT_SECURITY)
        .iter()
        .collect();
    assert_eq!(hsts, ["max-age=63072000"], "one header, the layer's");
}
