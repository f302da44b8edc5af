//! Serving the router: HTTP/1.1 over TCP, or over TLS with a self-signed certificate made at
//! start (rcgen and rustls, both with the `ring` provider). Each request carries the peer
//! address as axum's `ConnectInfo`, which the session layer binds sessions to.
//!
//! Slow and idle clients are bounded by [`ServeOptions`]: a TLS handshake timeout, hyper's
//! header read timeout (also the keep-alive idle timeout), a body read timeout and size
//! limit, and a connection cap that closes the oldest idle connection to admit a new one
//! (see [`connections`]).

#[path = "connections.rs"]
pub mod connections;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request, Response, StatusCode};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use connections::{Connection, Connections};

/// Names the self-signed certificate is valid for.
pub const CERT_NAMES: [&str; 4] = ["localhost", "127.0.0.1", "bank.test", "*.bank.test"];

/// A rustls server configuration (HTTP/1.1 only) with a fresh self-signed certificate for
/// [`CERT_NAMES`]. Browsers will warn: the certificate is signed by nobody they trust.
///
/// # Errors
/// Certificate generation or rustls configuration failed.
pub fn tls_config() -> Result<Arc<rustls::ServerConfig>, Box<dyn std::error::Error + Send + Sync>> {
    let names: Vec<String> = CERT_NAMES.iter().map(|n| (*n).to_owned()).collect();
    let certified = rcgen::generate_simple_self_signed(names)?;
    let cert: CertificateDer<'static> = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Timeouts and limits of [`serve_with`].
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Time to read a request head. hyper starts this timer whenever the connection waits
    /// for a head, between keep-alive requests too, so it is also the idle timeout.
    pub header_timeout: Duration,
    /// Time to read a whole request body once the head is in: 408 after it.
    pub body_timeout: Duration,
    /// Largest request body (the bank's forms are a few hundred bytes): 413 above it.
    pub max_body: usize,
    /// Connections open at once (see [`connections`]).
    pub max_connections: usize,
    /// Time to complete a TLS handshake.
    pub tls_handshake_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            max_body: 16 * 1024,
            max_connections: 1024,
            tls_handshake_timeout: Duration::from_secs(10),
        }
    }
}

/// [`serve_with`] with the default [`ServeOptions`].
pub async fn serve(listener: TcpListener, router: Router, tls: Option<Arc<rustls::ServerConfig>>) {
    serve_with(listener, router, tls, ServeOptions::default()).await;
}

/// Accepts connections forever, one task per connection; TLS when `tls` is given.
pub async fn serve_with(
    listener: TcpListener,
    router: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    options: ServeOptions,
) {
    let options = Arc::new(options);
    let acceptor = tls.map(TlsAcceptor::from);
    let connections = Connections::new(options.max_connections);
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Usually out of file descriptors: back off instead of spinning.
                eprintln!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // Every connection busy with a request: this one is closed unanswered.
        let Some(connection) = connections.admit() else {
            continue;
        };
        let (router, acceptor, options) = (router.clone(), acceptor.clone(), options.clone());
        tokio::spawn(async move {
            let closed = connection.closed();
            tokio::select! {
                () = closed => {}
                () = handle(tcp, peer, router, acceptor, options, &connection) => {}
            }
        });
    }
}

async fn handle(
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    router: Router,
    acceptor: Option<TlsAcceptor>,
    options: Arc<ServeOptions>,
    connection: &Connection,
) {
    match acceptor {
        None => serve_connection(TokioIo::new(tcp), router, peer, &options, connection, false).await,
        Some(acceptor) => {
            // Browsers open speculative connections and abandon handshakes: not an error.
            let handshake = tokio::time::timeout(options.tls_handshake_timeout, acceptor.accept(tcp));
            if let Ok(Ok(tls)) = handshake.await {
                serve_connection(TokioIo::new(tls), router, peer, &options, connection, true).await;
            }
        }
    }
}

async fn serve_connection<I>(
    io: I,
    router: Router,
    peer: SocketAddr,
    options: &Arc<ServeOptions>,
    connection: &Connection,
    tls: bool,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (options_, busy) = (options.clone(), connection.busy_flag());
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let (router, options, busy) = (router.clone(), options_.clone(), busy.clone());
        async move {
            let _busy = busy.enter();
            let response = match read_body(request, &options).await {
                Ok(mut request) => {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    router.oneshot(request).await?
                }
                Err(status) => refusal(status, tls),
            };
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    // A client closing mid-request is its own business.
    let _: Result<(), hyper::Error> = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_timeout)
        .serve_connection(io, service)
        .await;
}

/// Reads the whole body within the body timeout and size limit: the handlers only ever see
/// a complete, bounded body, and a trickled one costs at most `body_timeout`.
async fn read_body(request: Request<Incoming>, options: &ServeOptions) -> Result<Request<Body>, StatusCode> {
    let (parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > options.max_body as u64) {
        return Err(StatusCode::PAYLOAD_TOO_LARGE);
    }
    let read = axum::body::to_bytes(Body::new(body), options.max_body);
    match tokio::time::timeout(options.body_timeout, read).await {
        Err(_) => Err(StatusCode::REQUEST_TIMEOUT),
        // Over the limit while chunked, or the client went away (then nobody reads this).
        Ok(Err(_)) => Err(StatusCode::PAYLOAD_TOO_LARGE),
        Ok(Ok(bytes)) => Ok(Request::from_parts(parts, Body::from(bytes))),
    }
}

/// A fixed-body refusal that closes the connection (the rest of the body is not read).
fn refusal(status: StatusCode, tls: bool) -> Response<Body> {
    let mut response = Response::new(Body::from(status.canonical_reason().unwrap_or_default()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, header::HeaderValue::from_static("close"));
    super::headers::add_security_headers(headers, tls);
    response
}
