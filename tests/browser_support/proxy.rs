//! The attacker's network: an HTTP `CONNECT` proxy in front of the attacker's browser whose
//! outgoing connections leave from another loopback address ([`ATTACKER_IP`]), so the bank
//! sees the attacker as a different client (another /24, another User-Agent), as it would see
//! a second machine. The victim connects directly, from 127.0.0.1.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;

use super::{Res, BANK_DOMAIN};

/// Where the attacker's connections come from (Linux routes all of 127.0.0.0/8 to `lo`).
pub const ATTACKER_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 66, 6, 6));
/// A `CONNECT` request head larger than this is refused.
const MAX_HEAD: usize = 8 * 1024;

/// A running proxy; stops on drop.
pub struct AttackerProxy {
    /// `127.0.0.1:<port>`, for Chromium's `--proxy-server`.
    pub addr: SocketAddr,
    accept: JoinHandle<()>,
}

impl AttackerProxy {
    /// Listens on a free loopback port.
    pub async fn start() -> Res<AttackerProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let accept = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(tunnel(client));
            }
        });
        Ok(AttackerProxy { addr, accept })
    }
}

impl Drop for AttackerProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Answers one `CONNECT host:port` to a `bank.test` name by relaying bytes both ways; any
/// other request or host is refused.
async fn tunnel(mut client: TcpStream) {
    let Some(port) = read_connect(&mut client).await else {
        let _ = client
            .write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            .await;
        return;
    };
    let Ok(mut upstream) = connect_from_attacker(port).await else {
        let _ = client
            .write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            .await;
        return;
    };
    if client
        .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        .await
        .is_ok()
    {
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
    }
}

/// Reads the request head; the port of a `CONNECT` to `bank.test` or a subdomain of it.
async fn read_connect(client: &mut TcpStream) -> Option<u16> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.ends_with(b"\r\n\r\n") {
        let n = client.read(&mut buf).await.ok().filter(|n| *n > 0)?;
        head.extend_from_slice(buf.get(..n)?);
        if head.len() > MAX_HEAD {
            return None;
        }
    }
    let head = String::from_utf8(head).ok()?;
    let mut words = head.lines().next()?.split(' ');
    let (method, target) = (words.next()?, words.next()?);
    let (host, port) = target.rsplit_once(':')?;
    let ours = host == BANK_DOMAIN || host.ends_with(&format!(".{BANK_DOMAIN}"));
    (method == "CONNECT" && ours).then_some(())?;
    port.parse().ok()
}

async fn connect_from_attacker(port: u16) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(ATTACKER_IP, 0))?;
    socket.connect(SocketAddr::from(([127, 0, 0, 1], port))).await
}
