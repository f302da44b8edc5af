//! HTTPS on loopback for the test sites: a self-signed certificate for `bank.test` and
//! `*.bank.test` (rcgen, ring), rustls with the ring provider, one hyper HTTP/1.1 connection
//! task per client, and a wiretap that records what the browser actually sent.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::ConnectInfo;
use axum::http::{header, Request};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::{Res, BANK_DOMAIN};

/// One request as the server received it.
#[derive(Clone, Debug)]
pub struct Seen {
    /// The client's address.
    pub peer: std::net::IpAddr,
    /// The `Host` header.
    pub host: String,
    /// The `Cookie` header exactly as sent (empty when absent).
    pub cookie: String,
}

/// Everything one server received, in order.
#[derive(Clone, Default)]
pub struct Wiretap(Arc<Mutex<Vec<Seen>>>);

impl Wiretap {
    /// A copy of the requests seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }

    fn record(&self, seen: Seen) {
        if let Ok(mut v) = self.0.lock() {
            v.push(seen);
        }
    }
}

/// An HTTPS site on `127.0.0.1:<port>`, reached by the browsers as `https://<host>:<port>`.
pub struct Site {
    /// `https://<host>:<port>` without a trailing slash.
    pub origin: String,
    /// What this site received.
    pub wiretap: Wiretap,
    plain: PlainHttp,
    accept: JoinHandle<()>,
}

/// What a network attacker serves on the site's own host and port over plain HTTP (a page
/// of `http://<host>:<port>`, another origin than `https://<host>:<port>`).
#[derive(Clone, Default)]
struct PlainHttp(Arc<Mutex<Option<Router>>>);

impl PlainHttp {
    fn get(&self) -> Option<Router> {
        self.0.lock().ok().and_then(|r| r.clone())
    }
}

impl Site {
    /// Binds a free loopback port, then serves the router that `app` builds for the site's
    /// public origin (`https://<host>.bank.test:<port>`), e.g. for an allowed-origin list.
    pub async fn start(host: &str, app: impl FnOnce(&str) -> Router) -> Res<Site> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let origin = format!("https://{host}:{port}");
        let router = app(&origin);
        let acceptor = TlsAcceptor::from(Arc::new(server_config()?));
        let wiretap = Wiretap::default();
        let plain = PlainHttp::default();
        let accept = tokio::spawn(accept_loop(
            listener,
            acceptor,
            router,
            wiretap.clone(),
            plain.clone(),
        ));
        Ok(Site {
            origin,
            wiretap,
            plain,
            accept,
        })
    }

    /// From now on, connections that do not start a TLS handshake get `router` over plain
    /// HTTP, as if a network attacker answered `http://<host>:<port>`.
    pub fn serve_plain_http(&self, router: Router) {
        if let Ok(mut r) = self.plain.0.lock() {
            *r = Some(router);
        }
    }

    /// `http://<host>:<port>` followed by `path_and_query`.
    pub fn plain_url(&self, path_and_query: &str) -> String {
        format!(
            "{}{path_and_query}",
            self.origin.replacen("https://", "http://", 1)
        )
    }

    /// `origin` followed by `path_and_query`.
    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.origin)
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// A fresh self-signed certificate for the bank's names, as a rustls server configuration
/// offering only HTTP/1.1.
fn server_config() -> Res<rustls::ServerConfig> {
    let names = vec![BANK_DOMAIN.to_owned(), format!("*.{BANK_DOMAIN}")];
    let certified = rcgen::generate_simple_self_signed(names)?;
    let cert: CertificateDer<'static> = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    router: Router,
    wiretap: Wiretap,
    plain: PlainHttp,
) {
    loop {
        let Ok((tcp, peer)) = listener.accept().await else {
            continue;
        };
        let acceptor = acceptor.clone();
        let router = router.clone();
        let wiretap = wiretap.clone();
        let plain = plain.get();
        tokio::spawn(async move {
            // A TLS connection starts with a handshake record (content type 22).
            let mut first = [0u8; 1];
            let is_tls = matches!(tcp.peek(&mut first).await, Ok(1) if first[0] == 0x16);
            if !is_tls {
                if let Some(plain) = plain {
                    let service = hyper::service::service_fn(move |req| {
                        serve_one(plain.clone(), Wiretap::default(), peer, req)
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), service)
                        .await;
                }
                return;
            }
            // Chromium opens speculative connections it may abandon mid-handshake.
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let service =
                hyper::service::service_fn(move |req| serve_one(router.clone(), wiretap.clone(), peer, req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}

/// Records the request, gives the app the peer address as axum's `ConnectInfo`, and runs it.
async fn serve_one(
    router: Router,
    wiretap: Wiretap,
    peer: SocketAddr,
    mut req: Request<Incoming>,
) -> Result<axum::response::Response, Infallible> {
    let text = |name| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    wiretap.record(Seen {
        peer: peer.ip(),
        host: text(header::HOST),
        cookie: text(header::COOKIE),
    });
    req.extensions_mut().insert(ConnectInfo(peer));
    router.oneshot(req.map(axum::body::Body::new)).await
}
