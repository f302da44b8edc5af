//! `examples/api.rs` driven by a real, third-party DPoP client: `tests/node_client/flow.mjs`,
//! on the npm `dpop` package (panva) with Node's fetch and WebCrypto keys, against the
//! example's router on a free loopback port (login with a proof, /me, a replayed proof,
//! refresh, logout, the token refused after it; the server's nonces on every step).
//!
//! Needs Node 20+ and `npm ci --prefix tests/node_client` (`.ci/run` does it). Without them
//! the test fails and says so: it never skips silently.
#![cfg(feature = "web")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "../examples/api.rs"]
mod api;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use sealed_session::{KeyRing, Keys};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_npm_dpop_client_logs_in_refreshes_logs_out_and_is_refused_after() {
    let client = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node_client");
    assert!(
        client.join("node_modules/dpop/package.json").is_file(),
        "tests/node_client/node_modules is missing: run `npm ci --prefix tests/node_client` \
         (Node 20+ and npm; .ci/run installs them)"
    );
    let dir = tempfile::tempdir().unwrap();
    let manager = api::manager(Keys::new(KeyRing::generate().unwrap()).unwrap(), dir.path()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = api::router(manager, &base).unwrap();
    let server = tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, service).await.unwrap();
    });

    let script = client.join("flow.mjs");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(script)
            .arg(base)
            .output()
            .expect("the node binary (Node 20+)")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the node client failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    for step in [
        "POST /login: 401 use_dpop_nonce, retrying with the server's nonce",
        "login: 200, token_type DPoP, expires_in 1800",
        "me: 200, subject alice",
        r#"replayed proof: 401 DPoP error="invalid_dpop_proof", algs="ES256 EdDSA""#,
        "refresh: 200, a new DPoP token",
        "me after refresh: 200, same session handle",
        "logout: 204",
        r#"me after logout: 401 DPoP error="invalid_token", algs="ES256 EdDSA""#,
        "node dpop client: every step as expected",
    ] {
        assert!(stdout.contains(step), "missing {step:?} in:\n{stdout}");
    }
    server.abort();
}
