//! Real processes for the cluster tests: a `redis-server` on a free loopback port, node
//! processes (this test binary re-executed in node mode), a TCP proxy process to partition one
//! node from Redis, and a blocking HTTP/1.1 client.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

pub mod http;
pub mod node;
pub mod proxy;
pub mod redis_server;

use std::net::TcpListener;
use std::time::{Duration, Instant};

/// A port nothing listens on right now (the kernel's choice for 127.0.0.1:0).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `condition` holds, checking every 10 ms, for at most `limit`; returns how long
/// it took, or `None` when it never held.
pub fn wait_for(limit: Duration, mut condition: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if condition() {
            return Some(start.elapsed());
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends `signal` (e.g. `STOP`, `CONT`, `KILL`) to `pid` with kill(1).
pub fn signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {pid}");
}
