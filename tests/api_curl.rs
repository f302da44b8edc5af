//! `examples/api.rs` as a user meets it: its router on a free loopback port, driven by the
//! real `curl` binary (login, /me, refresh, logout, replay after logout).
#![cfg(feature = "web")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "../examples/api.rs"]
mod api;

use std::net::SocketAddr;
use std::process::Command;

use sealed_session::{KeyRing, Keys};

/// One curl exchange: status, header lines (lowercase names) and body.
struct Exchange {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Exchange {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn token(&self) -> String {
        assert_eq!(self.status, 200, "{}", self.body);
        let v: serde_json::Value = serde_json::from_str(&self.body).unwrap();
        assert_eq!(v["token_type"], "Bearer");
        assert_eq!(v["expires_in"], 1800);
        v["access_token"].as_str().unwrap().to_owned()
    }
}

/// Runs `curl -s -i` with `args` (off the async workers: curl blocks) and splits its output.
async fn curl(args: Vec<String>) -> Exchange {
    let out = tokio::task::spawn_blocking(move || {
        Command::new("curl")
            .args(["-s", "-S", "-i", "--max-time", "20"])
            .args(&args)
            .output()
            .expect("the curl binary (apt-get install curl)")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Exchange {
        status,
        headers,
        body: body.to_owned(),
    }
}

fn with_bearer(method: &str, url: String, token: &str) -> Vec<String> {
    vec![
        "-X".into(),
        method.into(),
        url,
        "-H".into(),
        format!("Authorization: Bearer {token}"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_logs_in_refreshes_logs_out_and_the_replay_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let manager = api::manager(Keys::new(KeyRing::generate().unwrap()).unwrap(), dir.path()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = api::router(manager, &base).unwrap();
    let server = tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, service).await.unwrap();
    });

    let login = |password: &str| {
        let body = format!(r#"{{"user":"alice","password":"{password}"}}"#);
        let args = [
            &format!("{base}/login"),
            "-H",
            "Content-Type: application/json",
            "-d",
            &body,
        ];
        curl(args.iter().map(|s| s.to_string()).collect())
    };
    let wrong = login("guess").await;
    assert_eq!(
        (wrong.status, wrong.body.as_str()),
        (400, r#"{"error":"invalid_grant"}"#)
    );
    let first = login("alice-demo-password").await;
    assert_eq!(first.header("cache-control"), Some("no-store"));
    assert_eq!(first.header("pragma"), Some("no-cache"));
    assert!(
        first.header("set-cookie").is_none(),
        "an API login sets no cookie"
    );
    let token = first.token();

    let me = curl(with_bearer("GET", format!("{base}/me"), &token)).await;
    assert_eq!(me.status, 200, "{}", me.body);
    let who: serde_json::Value = serde_json::from_str(&me.body).unwrap();
    assert_eq!(who["subject"], "alice");
    assert_eq!(who["level"], "authenticated");
    assert_eq!(who["app_data"], "role=customer");
    let handle = who["handle"].as_str().unwrap().to_owned();
    assert_eq!(handle.len(), 64);

    let fresh = curl(with_bearer("POST", format!("{base}/refresh"), &token))
        .await
        .token();
    assert_ne!(fresh, token);
    let me = curl(with_bearer("GET", format!("{base}/me"), &fresh)).await;
    let who: serde_json::Value = serde_json::from_str(&me.body).unwrap();
    assert_eq!(who["handle"], handle.as_str(), "same session");

    let out = curl(with_bearer("POST", format!("{base}/logout"), &fresh)).await;
    assert_eq!(out.status, 204);
    for replayed in [&fresh, &token] {
        let replay = curl(with_bearer("GET", format!("{base}/me"), replayed)).await;
        assert_eq!(replay.status, 401);
        assert_eq!(
            replay.header("www-authenticate"),
            Some(r#"Bearer error="invalid_token""#)
        );
        assert_eq!(replay.body, r#"{"error":"invalid_token"}"#);
    }
    let anonymous = curl(vec![format!("{base}/me")]).await;
    assert_eq!(
        (anonymous.status, anonymous.header("www-authenticate")),
        (401, Some("Bearer"))
    );
    server.abort();
}
