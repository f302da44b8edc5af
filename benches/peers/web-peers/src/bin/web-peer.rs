//! Serves one peer of the session layer over loopback HTTP for `benches/web-peers.sh`:
//!
//!   web-peer --peer private-cookie|tower-sessions [--addr 127.0.0.1:0] [--cookie-file PATH]
//!
//! With `--cookie-file`, writes the `Cookie:` header line of one valid session to PATH (mode
//! 0600). Prints `listening on http://ADDR` once ready. Same runtime as
//! `examples/overhead_server.rs`: `#[tokio::main]` (multi-threaded, one worker per core).
#![forbid(unsafe_code)]

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use axum_extra::extract::cookie::Key;
use web_peers::{private_cookie_app, tower_sessions_app, BoxError};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut addr = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut peer: Option<String> = None;
    let mut cookie_file: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--addr" => addr = value.parse()?,
            "--peer" => peer = Some(value),
            "--cookie-file" => cookie_file = Some(PathBuf::from(value)),
            other => {
                return Err(format!(
                    "unknown option {other} (--peer private-cookie|tower-sessions, --addr, --cookie-file)"
                )
                .into())
            }
        }
    }
    let (app, cookie) = match peer.as_deref() {
        Some("private-cookie") => private_cookie_app(Key::generate())?,
        Some("tower-sessions") => tower_sessions_app().await?,
        _ => return Err("--peer private-cookie|tower-sessions is required".into()),
    };
    if let Some(path) = &cookie_file {
        write_private(path, format!("Cookie: {cookie}\n").as_bytes())?;
    }
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await?;
    Ok(())
}

fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)
}
