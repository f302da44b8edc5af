//! A TCP proxy process between one node and Redis: SIGSTOP it and that node is partitioned
//! (its connections hang, as across a real network fault) while the others go on.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};

use super::signal;

pub const ROLE: &str = "SEALED_CLUSTER_ROLE";
const LISTEN: &str = "SEALED_PROXY_TARGET";

/// The proxy, in the parent.
pub struct Proxy {
    pub port: u16,
    child: Child,
}

impl Proxy {
    /// Starts a proxy process forwarding a fresh loopback port to 127.0.0.1:`target`.
    pub fn start(target: u16) -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "cluster_child_process",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(ROLE, "proxy")
            .env(LISTEN, target.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let port = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|l| {
                l.split("proxy listening ")
                    .nth(1)
                    .and_then(|p| p.trim().parse().ok())
            })
            .expect("the proxy reports its port");
        // Keep draining what the child prints so it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self { port, child }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn pause(&self) {
        signal(self.child.id(), "STOP");
    }

    pub fn resume(&self) {
        signal(self.child.id(), "CONT");
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-CONT", &self.child.id().to_string()])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The proxy, in the child: one pair of copying threads per connection.
pub fn run_proxy_from_env() {
    let target: u16 = std::env::var(LISTEN).unwrap().parse().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    println!("proxy listening {}", listener.local_addr().unwrap().port());
    for client in listener.incoming() {
        let Ok(client) = client else { continue };
        let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
            continue;
        };
        let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
        let (mut c1, mut s1) = (client, server);
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut c1, &mut s1);
            let _ = s1.shutdown(std::net::Shutdown::Both);
        });
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut s2, &mut c2);
            let _ = c2.shutdown(std::net::Shutdown::Both);
        });
    }
}
