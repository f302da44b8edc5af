//! Serving the router: HTTP/1.1 over TCP, or over TLS with a self-signed certificate made at
//! start (rcgen and rustls, both with the `ring` provider). Each request carries the peer
//! address as axum's `ConnectInfo`, which the session layer binds sessions to.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

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

/// Accepts connections forever, one task per connection; TLS when `tls` is given.
pub async fn serve(listener: TcpListener, router: Router, tls: Option<Arc<rustls::ServerConfig>>) {
    let acceptor = tls.map(TlsAcceptor::from);
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
        let (router, acceptor) = (router.clone(), acceptor.clone());
        tokio::spawn(async move {
            match acceptor {
                None => serve_connection(TokioIo::new(tcp), router, peer).await,
                // Browsers open speculative connections and abandon handshakes: not an error.
                Some(acceptor) => {
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        serve_connection(TokioIo::new(tls), router, peer).await;
                    }
                }
            }
        });
    }
}

async fn serve_connection<I>(io: I, router: Router, peer: SocketAddr)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(ConnectInfo(peer));
        router.clone().oneshot(request)
    });
    // A client closing mid-request is its own business.
    let _: Result<(), hyper::Error> = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, service)
        .await;
}
