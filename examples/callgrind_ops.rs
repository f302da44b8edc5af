//! Runs one hot-path operation `n` times, for instruction counts under callgrind (wall-clock
//! benches swing with machine load; instruction counts do not):
//!
//! ```text
//! cargo build --release --example callgrind_ops
//! for n in 1 20001; do valgrind --tool=callgrind --callgrind-out-file=cg.$n \
//!     target/release/examples/callgrind_ops mint $n; done
//! # instructions per op = (total(20001) − total(1)) / 20000
//! ```
//!
//! `callgrind_ops race 200 mint,cookie_mint` instead times interleaved batches (see `race`).
//!
//! Operations: `mint`, `open` (token only, `Sealer::open_at`), `cookie_mint`, `cookie_open`
//! (cookie's private jar sealing the same claims bytes, as `benches/tokens.rs` does),
//! `session_cold` (full verify, cache off), `session_cached` (the same token again, cache on),
//! `session_miss` / `session_cold64` (64 tokens through a 4-entry cache / no cache),
//! `web_bare`, `web_no_cookie`, `web_cookie`, `web_cookie_uncached` (one request through
//! an axum router, alone or behind `SessionLayer`, as `benches/web.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sealed_session::revocation::{FilterConfig, MemoryStore};
use sealed_session::token::{
    decode_claims, encode_claims, BindingHash, Claims, Epoch, Flags, Sealer, SessionId,
};
use sealed_session::web::SessionLayer;
use sealed_session::{
    ClientContext, KeyId, KeyRing, KeyState, ManualClock, Policy, Privilege, Rotation, SessionKey,
    SessionManager, UnixTime,
};
use tower::ServiceExt;

const NOW: UnixTime = UnixTime(1_795_000_000);
const WEB_USER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64) bench";

fn web_request(cookie: Option<&str>) -> http::Request<axum::body::Body> {
    let mut b = http::Request::get("/")
        .header(http::header::HOST, "127.0.0.1:8080")
        .header(http::header::USER_AGENT, WEB_USER_AGENT);
    if let Some(c) = cookie {
        b = b.header(http::header::COOKIE, c);
    }
    let mut req = b.body(axum::body::Body::empty()).unwrap();
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            [127, 0, 0, 1],
            40_000,
        ))));
    req
}

fn claims() -> Claims {
    Claims {
        session_id: SessionId([7; 16]),
        subject: Some("alice-01".into()),
        privilege: Privilege::Authenticated,
        epoch: Epoch::containing(NOW.saturating_add(Duration::from_secs(86_400))),
        issued_at: NOW,
        expires_at: UnixTime(NOW.0 + 1800),
        session_deadline: UnixTime(NOW.0 + 86_400),
        authenticated_at: NOW,
        binding: BindingHash([9; 16]),
        flags: Flags(Flags::BIND_IP | Flags::BIND_USER_AGENT),
        app_data: Vec::new(),
    }
}

fn manager(cache: usize) -> SessionManager {
    let store = Arc::new(MemoryStore::new(FilterConfig::default()).unwrap());
    SessionManager::builder(KeyRing::generate().unwrap(), "bench", store)
        .with_policy(Policy::default().with_rotation(Rotation::Off))
        .with_clock(Arc::new(ManualClock::new(NOW)))
        .with_verify_cache(cache)
        .build()
        .unwrap()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let op = args.next().expect("operation");
    let n: u64 = args.next().expect("count").parse().unwrap();
    let claims = claims();
    let keys = KeyRing::empty()
        .with_key(KeyId(1), KeyState::Primary, SessionKey::from_bytes([0x42; 32]))
        .unwrap();
    let sealer = Sealer::new(keys, "bank").unwrap();
    let token = sealer.mint(&claims).unwrap().expose_secret().to_owned();
    let cookie_key = cookie::Key::derive_from(&[0x42; 32]);
    let cookie_value = || {
        let mut out = Vec::with_capacity(128);
        encode_claims(&claims, &mut out).unwrap();
        URL_SAFE_NO_PAD.encode(out)
    };
    let mut jar = cookie::CookieJar::new();
    jar.private_mut(&cookie_key)
        .add(cookie::Cookie::new("session", cookie_value()));
    let sealed_cookie = jar.get("session").unwrap().clone();
    let client = ClientContext::new(
        "203.0.113.7".parse().ok(),
        Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"),
    );
    let (cold, cached) = (manager(0), manager(10_000));
    let session_token = |m: &SessionManager| {
        let t = m
            .authenticate(None, "alice-01", Privilege::Authenticated, &client)
            .unwrap()
            .token;
        t.expose_secret().to_owned()
    };
    let (cold_token, cached_token) = (session_token(&cold), session_token(&cached));
    // 64 tokens through a 4-entry cache (every verify misses and records), and without one.
    let (small, none) = (manager(4), manager(0));
    let small_tokens: Vec<String> = (0..64).map(|_| session_token(&small)).collect();
    let none_tokens: Vec<String> = (0..64).map(|_| session_token(&none)).collect();
    let mut turn = 0usize;
    // The layer in process, as benches/web.rs drives it.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (layered_manager, uncached_manager) = (Arc::new(manager(10_000)), Arc::new(manager(0)));
    let web_client = ClientContext::new("127.0.0.1".parse().ok(), Some(WEB_USER_AGENT));
    let web_cookie = |m: &SessionManager| {
        let t = m
            .authenticate(None, "alice", Privilege::Authenticated, &web_client)
            .unwrap()
            .token;
        format!("session={}", t.expose_secret())
    };
    let (cookie_cached, cookie_uncached) = (web_cookie(&layered_manager), web_cookie(&uncached_manager));
    let hello = || async { "hello, world\n" };
    let bare = axum::Router::new().route("/", axum::routing::get(hello));
    let layered = axum::Router::new()
        .route("/", axum::routing::get(hello))
        .layer(SessionLayer::new(layered_manager).dangerous_insecure_http());
    let uncached_layer = axum::Router::new()
        .route("/", axum::routing::get(hello))
        .layer(SessionLayer::new(uncached_manager).dangerous_insecure_http());
    let call = |router: &axum::Router, cookie: Option<&str>| {
        rt.block_on(async {
            let response = router.clone().oneshot(web_request(cookie)).await.unwrap();
            assert!(response.status().is_success());
            assert!(!response.headers().contains_key(http::header::SET_COOKIE));
            axum::body::to_bytes(response.into_body(), 1024)
                .await
                .unwrap()
                .len()
        })
    };
    let mut one = |op: &str| match op {
        "mint" => drop(black_box(sealer.mint(black_box(&claims)).unwrap())),
        "open" => drop(black_box(sealer.open_at(black_box(&token), NOW).unwrap())),
        "cookie_mint" => {
            jar.private_mut(&cookie_key)
                .add(cookie::Cookie::new("session", cookie_value()));
            black_box(jar.get("session").unwrap().value().len());
        }
        "cookie_open" => {
            let opened = cookie::CookieJar::new()
                .private(&cookie_key)
                .decrypt(sealed_cookie.clone())
                .unwrap();
            let mut buf = [0u8; 128];
            let len = URL_SAFE_NO_PAD.decode_slice(opened.value(), &mut buf).unwrap();
            let c = decode_claims(&buf[..len]).unwrap();
            black_box(c.issued_at <= NOW && NOW < c.expires_at);
        }
        "session_cold" => drop(black_box(
            cold.verify_at(black_box(&cold_token), &client, NOW).unwrap(),
        )),
        "session_cached" => drop(black_box(
            cached.verify_at(black_box(&cached_token), &client, NOW).unwrap(),
        )),
        "session_miss" => {
            turn = (turn + 1) % 64;
            drop(black_box(
                small.verify_at(&small_tokens[turn], &client, NOW).unwrap(),
            ));
        }
        "session_cold64" => {
            turn = (turn + 1) % 64;
            drop(black_box(
                none.verify_at(&none_tokens[turn], &client, NOW).unwrap(),
            ));
        }
        "web_bare" => drop(black_box(call(&bare, None))),
        "web_no_cookie" => drop(black_box(call(&layered, None))),
        "web_cookie" => drop(black_box(call(&layered, Some(&cookie_cached)))),
        "web_cookie_uncached" => drop(black_box(call(&uncached_layer, Some(&cookie_uncached)))),
        other => panic!("unknown operation {other}"),
    };
    let mut run = |op: &str, n: u64| {
        for _ in 0..n {
            one(op);
        }
    };
    // `race OP1,OP2,... ROUNDS`: interleaved batches of 1,000, so a load spike on this shared
    // machine hits every operation alike; prints each one's fastest and median batch.
    if op == "race" {
        let ops: Vec<&str> = args.next().expect("operations").leak().split(',').collect();
        let rounds = usize::try_from(n).unwrap();
        let mut times = vec![Vec::with_capacity(rounds); ops.len()];
        for _ in 0..rounds {
            for (i, op) in ops.iter().enumerate() {
                let start = std::time::Instant::now();
                run(op, 1000);
                times[i].push(start.elapsed().as_nanos() as f64 / 1000.0);
            }
        }
        for (op, mut t) in ops.iter().zip(times) {
            t.sort_by(f64::total_cmp);
            println!("{op:16} min {:8.1} ns  median {:8.1} ns", t[0], t[t.len() / 2]);
        }
        return;
    }
    run(&op, n);
}
