//! Two keepers with their PostgreSQL on private loopback addresses, a three-member etcd as the
//! DCS. Processes are killed and directories removed on drop, also when a test fails (then the
//! keepers' logs are printed).
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use triad_testkit::etcd::{Etcd, etcd_cluster};

pub struct Node {
    pub name: String,
    pub ip: String,
    pub state_dir: PathBuf,
    pub log: PathBuf,
    child: Option<Child>,
}

pub struct TestCluster {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub etcd: Vec<Etcd>,
    pub nodes: Vec<Node>,
}

impl TestCluster {
    pub fn start(sync_mode: &str) -> TestCluster {
        let etcd = etcd_cluster(3);
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        // The keepers' block: next to etcd's (127.X.Y.1-3), .21 and .22.
        let base = etcd[0].ip.octets();
        let ip = |i: u8| format!("127.{}.{}.{}", base[1], base[2], i);
        let names = ["a1", "a2"];
        let mut toml = "[cluster]\nname = \"kt\"\n\n".to_string();
        for (i, n) in names.iter().enumerate() {
            toml += &format!("[[hosts]]\nname = \"{n}\"\nfqdn = \"{n}.test\"\naddress = \"{}\"\nroles = [\"app\"]\n\n", ip(21 + i as u8));
        }
        toml += &format!("[[hosts]]\nname = \"lb\"\nfqdn = \"lb.test\"\naddress = \"{}\"\nroles = [\"balancer\"]\n\n", ip(30));
        let endpoints: Vec<String> = etcd.iter().map(|e| format!("\"{}\"", e.endpoint())).collect();
        toml += &format!("[coordinator]\nexternal_endpoints = [{}]\n\n", endpoints.join(", "));
        toml += "[timings]\nkeeper_ttl = \"4s\"\nkeeper_loop_interval = \"500ms\"\nkeeper_retry_timeout = \"1s\"\n\n";
        toml += &format!("[database]\nsynchronous_mode = \"{sync_mode}\"\n");
        let config = dir.path().join("cluster.toml");
        fs::write(&config, toml).unwrap();
        let nodes = names
            .iter()
            .enumerate()
            .map(|(i, n)| Node { name: n.to_string(), ip: ip(21 + i as u8), state_dir: dir.path().join(n), log: dir.path().join(format!("{n}.log")), child: None })
            .collect();
        let mut c = TestCluster { dir, config, etcd, nodes };
        for i in 0..2 {
            c.spawn(i);
        }
        c
    }

    pub fn spawn(&mut self, i: usize) {
        let n = &mut self.nodes[i];
        assert!(n.child.is_none());
        fs::create_dir_all(&n.state_dir).unwrap();
        let log = fs::OpenOptions::new().create(true).append(true).open(&n.log).unwrap();
        n.child = Some(
            Command::new(env!("CARGO_BIN_EXE_triad-keeper"))
                .args(["--config", self.config.to_str().unwrap(), "--host", &n.name, "--state-dir"])
                .arg(&n.state_dir)
                .env("RUST_LOG", "info,triad_keeper=debug")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap(),
        );
    }

    /// The keeper is stopped the way systemd stops it (SIGTERM), and waited for.
    pub fn stop(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            let _ = Command::new("kill").args(["-TERM", &c.id().to_string()]).status();
            let _ = c.wait();
        }
    }

    /// The host fails: the keeper and its PostgreSQL are SIGKILLed.
    pub fn crash(&mut self, i: usize) {
        let n = &mut self.nodes[i];
        if let Some(mut c) = n.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(pid) = postmaster_pid(n) {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            // Its backends die with it; wait until the port is free again.
            let deadline = Instant::now() + Duration::from_secs(10);
            while std::net::TcpStream::connect((n.ip.as_str(), 5432)).is_ok() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    pub fn http_status(&self, i: usize, path: &str) -> u16 {
        http_get(&self.nodes[i].ip, path).map(|(s, _)| s).unwrap_or(0)
    }

    pub fn http_json(&self, i: usize, path: &str) -> serde_json::Value {
        serde_json::from_str(&http_get(&self.nodes[i].ip, path).expect("keeper API").1).unwrap()
    }

    /// Waits (bounded) until exactly one keeper answers /primary with 200; returns it.
    pub fn wait_primary(&self, secs: u64) -> usize {
        eventually(secs, "exactly one primary", || {
            let p: Vec<usize> = (0..self.nodes.len()).filter(|i| self.nodes[*i].child.is_some() && self.http_status(*i, "/primary") == 200).collect();
            (p.len() == 1).then(|| p[0])
        })
    }

    pub fn wait_replica(&self, i: usize, secs: u64) {
        eventually(secs, &format!("{} streaming as a standby", self.nodes[i].name), || (self.http_status(i, "/replica") == 200).then_some(()));
    }

    pub fn psql(&self, i: usize, sql: &str) -> Result<String, String> {
        self.psql_within(i, sql, 30)
    }

    /// psql, killed if it has not finished within `secs` (a commit waiting for a standby).
    pub fn psql_within(&self, i: usize, sql: &str, secs: u32) -> Result<String, String> {
        let out = Command::new("timeout")
            .args([&format!("{secs}"), "psql"])
            .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", &self.nodes[i].ip, "-p", "5432", "-U", "postgres", "-d", "triad", "-c", sql])
            .env("PGCONNECT_TIMEOUT", "3")
            .output()
            .unwrap();
        if out.status.success() { Ok(String::from_utf8_lossy(&out.stdout).trim().to_string()) } else { Err(String::from_utf8_lossy(&out.stderr).to_string()) }
    }
}

fn postmaster_pid(n: &Node) -> Option<i32> {
    fs::read_to_string(n.state_dir.join("postgres/data/postmaster.pid")).ok()?.lines().next()?.trim().parse().ok()
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.crash(i);
        }
        if std::thread::panicking() {
            for n in &self.nodes {
                let log = fs::read_to_string(&n.log).unwrap_or_default();
                let tail: Vec<&str> = log.lines().filter(|l| !l.contains("Wait(")).rev().take(60).collect();
                eprintln!("----- {} (last lines) -----\n{}", n.name, tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
            }
        }
    }
}

/// GET on a keeper's API: its status and body, or None when it does not answer in time.
pub fn http_get(ip: &str, path: &str) -> Option<(u16, String)> {
    let client = reqwest::blocking::Client::builder().connect_timeout(Duration::from_secs(2)).timeout(Duration::from_secs(3)).build().ok()?;
    let answer = client.get(format!("http://{ip}:8008{path}")).send().ok()?;
    Some((answer.status().as_u16(), answer.text().ok()?))
}

pub fn eventually<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "not within {secs} s: {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}
