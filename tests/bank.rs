//! Smoke test of the bank demo (examples/bank/): served on a loopback port over plain HTTP
//! (the insecure-cookie mode of `cargo run --example bank`) and driven with a hyper client the
//! way a browser would: login, wrong password, step-up before a transfer, logout, and
//! "log out everywhere".
#![cfg(feature = "web")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "../examples/bank/app.rs"]
mod bank_app;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use sealed_session::{CollectingSink, EventKind};

const USER_AGENT: &str = "bank-smoke-test";

struct Bank {
    base: String,
    http: Client<HttpConnector, Body>,
    events: Arc<CollectingSink>,
    _dir: tempfile::TempDir,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Bank {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// One response, read whole.
struct Page {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Page {
    /// The `session` cookie this response sets: `Some("")` when it clears it.
    fn session_cookie(&self) -> Option<String> {
        self.headers.get_all(header::SET_COOKIE).iter().find_map(|v| {
            let text = v.to_str().unwrap();
            let value = text.strip_prefix("session=")?;
            Some(value.split(';').next().unwrap().to_owned())
        })
    }

    fn set_cookie_text(&self) -> String {
        self.headers[header::SET_COOKIE].to_str().unwrap().to_owned()
    }

    fn location(&self) -> &str {
        self.headers[header::LOCATION].to_str().unwrap()
    }
}

/// A browser with a one-cookie jar.
struct Browser<'a> {
    bank: &'a Bank,
    cookie: Option<String>,
}

async fn start() -> Bank {
    let dir = tempfile::tempdir().unwrap();
    let events = Arc::new(CollectingSink::new());
    let mut config = bank_app::BankConfig::new(dir.path(), false);
    config.events = Some(events.clone());
    let (router, _manager) = bank_app::build_app(config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(bank_app::serve(listener, router, None));
    let http = Client::builder(TokioExecutor::new()).build_http();
    Bank {
        base,
        http,
        events,
        _dir: dir,
        server,
    }
}

impl Bank {
    fn browser(&self) -> Browser<'_> {
        Browser {
            bank: self,
            cookie: None,
        }
    }

    /// Sends a request as a same-origin browser page would (`Origin` on POST).
    async fn send(&self, method: Method, path: &str, cookie: Option<&str>, form: &str, origin: &str) -> Page {
        let mut b = Request::builder()
            .method(method.clone())
            .uri(format!("{}{path}", self.base))
            .header(header::USER_AGENT, USER_AGENT);
        if let Some(c) = cookie {
            b = b.header(header::COOKIE, format!("session={c}"));
        }
        if method == Method::POST {
            b = b
                .header(header::ORIGIN, origin)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        let response = self
            .http
            .request(b.body(Body::from(form.to_owned())).unwrap())
            .await
            .unwrap();
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(Body::new(body), 1 << 20).await.unwrap();
        Page {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }
}

impl Browser<'_> {
    async fn get(&mut self, path: &str) -> Page {
        let origin = self.bank.base.clone();
        self.request(Method::GET, path, "", &origin).await
    }

    async fn post(&mut self, path: &str, form: &str) -> Page {
        let origin = self.bank.base.clone();
        self.request(Method::POST, path, form, &origin).await
    }

    async fn request(&mut self, method: Method, path: &str, form: &str, origin: &str) -> Page {
        let page = self
            .bank
            .send(method, path, self.cookie.as_deref(), form, origin)
            .await;
        match page.session_cookie() {
            Some(v) if v.is_empty() => self.cookie = None,
            Some(v) => self.cookie = Some(v),
            None => {}
        }
        page
    }

    async fn login(&mut self, user: &str, password: &str) -> Page {
        let page = self
            .post("/login", &format!("user={user}&password={password}"))
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        assert_eq!(page.location(), "/account");
        page
    }

    /// The balance the account page shows.
    async fn balance(&mut self) -> u64 {
        let page = self.get("/account").await;
        assert_eq!(page.status, StatusCode::OK);
        let (_, rest) = page.body.split_once(r#"<strong id="balance">"#).unwrap();
        rest.split('<').next().unwrap().parse().unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_then_transfer_needs_a_password_step_up() {
    let bank = start().await;
    let mut alice = bank.browser();
    let home = alice.get("/").await;
    assert!(home.body.contains("Not signed in"));
    assert!(home.session_cookie().is_none(), "the home page starts no session");
    // The login page starts an anonymous session; it opens nothing that needs a login.
    alice.get("/login").await;
    let anonymous = alice
        .cookie
        .clone()
        .expect("the login page starts an anonymous session");
    for path in ["/account", "/transfer"] {
        let page = alice.get(path).await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{path}");
        assert!(page.body.contains(r#"id="login""#) && !page.body.contains("Signed in"));
    }

    let wrong = alice
        .post("/login", "user=alice&password=mallory-demo-password")
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("wrong user name or password"));
    assert!(wrong.session_cookie().is_none());
    let unknown = alice.post("/login", "user=eve&password=x").await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);

    let login = alice.login("alice", "alice-demo-password").await;
    assert_ne!(
        alice.cookie.as_deref(),
        Some(anonymous.as_str()),
        "login mints a new session"
    );
    let planted = bank.send(Method::GET, "/account", Some(&anonymous), "", "").await;
    assert_eq!(
        planted.status,
        StatusCode::UNAUTHORIZED,
        "the pre-login token is dead"
    );
    let set = login.set_cookie_text();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=1800"] {
        assert!(set.contains(attribute), "{attribute} missing");
    }
    assert!(!set.contains("Secure"), "plain-HTTP demo mode drops Secure");
    assert_eq!(login.headers[header::CACHE_CONTROL], "no-store");
    let account = alice.get("/account").await;
    assert!(account.body.contains("Signed in as alice"));
    assert!(account.body.contains(r#"<td id="level">authenticated</td>"#));
    assert_eq!(alice.balance().await, 1000);

    // Not elevated: the form is replaced by the step-up form, and a POST is refused.
    let form = alice.get("/transfer").await;
    assert!(form.body.contains(r#"id="step-up""#) && !form.body.contains(r#"id="transfer""#));
    let refused = alice.post("/transfer", "to=mallory&amount=100").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains(r#"id="step-up""#));
    assert_eq!(alice.balance().await, 1000);

    let wrong = alice.post("/elevate", "password=nope").await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert!(wrong.body.contains("wrong password"));

    let before = alice.cookie.clone().unwrap();
    let elevated = alice.post("/elevate", "password=alice-demo-password").await;
    assert_eq!(elevated.status, StatusCode::SEE_OTHER);
    assert_eq!(elevated.location(), "/transfer");
    assert_ne!(
        alice.cookie.as_deref(),
        Some(before.as_str()),
        "elevation mints a new token"
    );
    let form = alice.get("/transfer").await;
    assert!(form.body.contains(r#"id="transfer""#));

    let bad = alice.post("/transfer", "to=mallory&amount=5000").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let done = alice.post("/transfer", "to=mallory&amount=100").await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("Sent 100 credits to mallory"));
    assert_eq!(alice.balance().await, 900);

    let mut mallory = bank.browser();
    mallory.login("mallory", "mallory-demo-password").await;
    assert_eq!(mallory.balance().await, 110);
    assert!(bank.events.saw(EventKind::Elevation));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_clears_the_cookie_and_the_old_value_is_dead() {
    let bank = start().await;
    let mut alice = bank.browser();
    alice.login("alice", "alice-demo-password").await;
    let old = alice.cookie.clone().unwrap();

    let out = alice.post("/logout", "").await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.session_cookie().as_deref(), Some(""));
    assert!(out.set_cookie_text().contains("Max-Age=0"));
    assert_eq!(out.headers["clear-site-data"], "\"cache\", \"cookies\"");
    assert!(alice.cookie.is_none());

    let replay = bank.send(Method::GET, "/account", Some(&old), "", "").await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    assert!(!replay.body.contains("Signed in as alice"));
    assert!(bank.events.saw(EventKind::RevokedPresented));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_out_everywhere_ends_every_session_of_the_user() {
    let bank = start().await;
    let (mut laptop, mut phone, mut mallory) = (bank.browser(), bank.browser(), bank.browser());
    laptop.login("alice", "alice-demo-password").await;
    phone.login("alice", "alice-demo-password").await;
    mallory.login("mallory", "mallory-demo-password").await;
    assert_eq!(phone.get("/account").await.status, StatusCode::OK);

    let out = laptop.post("/logout-everywhere", "").await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.session_cookie().as_deref(), Some(""));
    assert_eq!(phone.get("/account").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        mallory.get("/account").await.status,
        StatusCode::OK,
        "other users stay in"
    );
    assert!(bank.events.saw(EventKind::LogoutEverywhere));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_origin_transfer_is_refused_and_drops_elevation() {
    let bank = start().await;
    let mut alice = bank.browser();
    alice.login("alice", "alice-demo-password").await;
    alice.post("/elevate", "password=alice-demo-password").await;
    let forged = alice
        .request(
            Method::POST,
            "/transfer",
            "to=mallory&amount=500",
            "http://evil.bank.test",
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(
        forged.session_cookie().is_some(),
        "a stepped-down token replaces the elevated one"
    );
    let account = alice.get("/account").await;
    assert!(account.body.contains(r#"<td id="level">authenticated</td>"#));
    assert_eq!(alice.balance().await, 1000);
    assert!(bank.events.saw(EventKind::ForeignOrigin));
}
