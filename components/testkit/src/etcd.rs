//! Real etcd members on private loopback addresses, for tests of every component that uses
//! the coordinator (the Debian package `etcd-server` provides `etcd`).

use std::net::Ipv4Addr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Etcd {
    pub name: String,
    pub ip: Ipv4Addr,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

impl Etcd {
    pub fn endpoint(&self) -> String {
        format!("http://{}:2379", self.ip)
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `n` etcd members on 127.X.Y.1..n, a block no other test of this run uses.
pub fn etcd_cluster(n: usize) -> Vec<Etcd> {
    let block = loopback_block();
    let ips: Vec<Ipv4Addr> = (1..=n as u8).map(|i| Ipv4Addr::new(127, block.0, block.1, i)).collect();
    let initial: Vec<String> = ips.iter().enumerate().map(|(i, ip)| format!("e{i}=http://{ip}:2380")).collect();
    let members: Vec<Etcd> = ips
        .iter()
        .enumerate()
        .map(|(i, ip)| {
            let dir = tempfile::tempdir().unwrap();
            let log = std::fs::File::create(dir.path().join("etcd.log")).unwrap();
            let child = Command::new("etcd")
                .args(["--name", &format!("e{i}")])
                .args(["--data-dir", dir.path().join("data").to_str().unwrap()])
                .args(["--listen-client-urls", &format!("http://{ip}:2379")])
                .args(["--advertise-client-urls", &format!("http://{ip}:2379")])
                .args(["--listen-peer-urls", &format!("http://{ip}:2380")])
                .args(["--initial-advertise-peer-urls", &format!("http://{ip}:2380")])
                .args(["--initial-cluster", &initial.join(",")])
                .args(["--initial-cluster-state", "new", "--initial-cluster-token", &format!("t{}-{}", block.0, block.1)])
                .args(["--heartbeat-interval", "100", "--election-timeout", "1000"])
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("etcd (Debian package etcd-server) must be installed");
            Etcd { name: format!("e{i}"), ip: *ip, child: Some(child), _dir: dir }
        })
        .collect();
    for m in &members {
        wait_port(m.ip, 2379);
    }
    members
}

fn wait_port(ip: Ipv4Addr, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect((ip, port)).is_err() {
        assert!(Instant::now() < deadline, "etcd on {ip}:{port} did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A 127.X.Y.0/24 block chosen from the process id and a counter, so tests running in
/// parallel (nextest runs each in its own process) do not share addresses.
fn loopback_block() -> (u8, u8) {
    use std::sync::atomic::{AtomicU8, Ordering};
    static NEXT: AtomicU8 = AtomicU8::new(0);
    let pid = std::process::id();
    (200 + (pid % 50) as u8, ((pid / 50) as u8).wrapping_add(NEXT.fetch_add(17, Ordering::Relaxed)))
}
