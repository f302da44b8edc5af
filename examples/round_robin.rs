//! A tiny round-robin HTTP proxy for the multi-node demo: every request goes to the next
//! backend in turn, so consecutive requests of one browser land on different nodes, and the
//! response says which node served it (`x-served-by`).
//!
//! `cargo run --example round_robin -- 127.0.0.1:8080 127.0.0.1:8081 127.0.0.1:8082 127.0.0.1:8083`
//! listens on the first address and forwards to the others. Loopback only; the `Host`
//! header is passed through, so the nodes see the proxy's origin (their same-origin rule).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

type Body = BoxBody<Bytes, hyper::Error>;

struct Backends {
    addrs: Vec<SocketAddr>,
    next: AtomicUsize,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Incoming>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let addrs: Result<Vec<SocketAddr>, _> = std::env::args().skip(1).map(|a| a.parse()).collect();
    let Ok(mut addrs) = addrs else {
        eprintln!("usage: round_robin LISTEN BACKEND...  (ip:port each)");
        return ExitCode::from(2);
    };
    if addrs.len() < 2 || !addrs.iter().all(|a| a.ip().is_loopback()) {
        eprintln!("usage: round_robin LISTEN BACKEND...  (loopback ip:port each)");
        return ExitCode::from(2);
    }
    let listen = addrs.remove(0);
    let backends = Arc::new(Backends {
        addrs,
        next: AtomicUsize::new(0),
        client: Client::builder(TokioExecutor::new()).build_http(),
    });
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("round_robin: binding {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("round-robin proxy on http://{listen}/ over {:?}", backends.addrs);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let backends = Arc::clone(&backends);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| forward(Arc::clone(&backends), request));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn forward(
    backends: Arc<Backends>,
    mut request: Request<Incoming>,
) -> Result<Response<Body>, hyper::Error> {
    let i = backends.next.fetch_add(1, Ordering::Relaxed) % backends.addrs.len();
    let Some(backend) = backends.addrs.get(i) else {
        return Ok(text(StatusCode::BAD_GATEWAY, "no backend"));
    };
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let Ok(uri) = format!("http://{backend}{path}").parse() else {
        return Ok(text(StatusCode::BAD_REQUEST, "bad request target"));
    };
    *request.uri_mut() = uri;
    match backends.client.request(request).await {
        Ok(response) => {
            let mut response = response.map(|b| b.boxed());
            if let Ok(v) = format!("node {} ({backend})", i + 1).parse() {
                response.headers_mut().insert("x-served-by", v);
            }
            Ok(response)
        }
        Err(_) => Ok(text(StatusCode::BAD_GATEWAY, "backend unreachable")),
    }
}

fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut response = Response::new(
        Full::new(Bytes::from_static(body.as_bytes()))
            .map_err(|e| match e {})
            .boxed(),
    );
    *response.status_mut() = status;
    response
}
