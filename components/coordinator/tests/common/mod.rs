//! Test harness: real `triad-coordinator` processes on loopback. Every cluster gets its own
//! random 127.x.y.0/24 block (ports are cluster-wide in cluster.toml, addresses per host), so
//! clusters of parallel tests never collide. Processes are SIGKILLed, firewall rules removed
//! and directories deleted on drop, also when a test fails (then the logs are printed).
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tonic::transport::Channel;
use triad_coordinator::pb::etcdserverpb::{
    cluster_client::ClusterClient, kv_client::KvClient, lease_client::LeaseClient, maintenance_client::MaintenanceClient,
    watch_client::WatchClient, *,
};

pub struct Host {
    pub name: String,
    pub ip: String,
    pub state_dir: PathBuf,
    pub log: PathBuf,
    pub child: Option<Child>,
}

pub struct TestCluster {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub prefix: String,
    pub hosts: Vec<Host>,
    firewall: Vec<Vec<String>>,
    /// Extra cluster.toml text (e.g. a `[coordinator]` section).
    pub extra_toml: String,
}

/// Set by a panic anywhere in the test, so the cluster prints its logs even when it is dropped
/// on another thread (a runtime worker) than the one that panicked.
static FAILED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static HOOK: std::sync::Once = std::sync::Once::new();

fn install_panic_flag() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            FAILED.store(true, std::sync::atomic::Ordering::SeqCst);
            previous(info)
        }));
    });
}

fn random_prefix() -> String {
    loop {
        let a: u8 = rand::random::<u8>() % 250 + 2;
        let b: u8 = rand::random::<u8>() % 250 + 2;
        let prefix = format!("127.{a}.{b}");
        // Make sure the block is unused (another test could have drawn it).
        if std::net::TcpListener::bind(format!("{prefix}.11:2380")).is_ok() {
            return prefix;
        }
    }
}

impl TestCluster {
    /// `n` coordinator hosts named c1..cn (the first two also app hosts) plus a balancer
    /// host, all started.
    pub fn start(n: usize) -> TestCluster {
        let mut c = TestCluster::new(n);
        for i in 0..n {
            c.spawn(i);
        }
        c
    }

    pub fn new(n: usize) -> TestCluster {
        install_panic_flag();
        let dir = tempfile::tempdir().expect("tempdir");
        let prefix = random_prefix();
        let mut c = TestCluster { config: dir.path().join("cluster.toml"), dir, prefix, hosts: vec![], firewall: vec![], extra_toml: String::new() };
        for i in 0..n {
            c.add_host(&format!("c{}", i + 1));
        }
        c.write_config();
        c
    }

    /// Adds a host entry (not started, not yet in the file until `write_config`).
    pub fn add_host(&mut self, name: &str) -> usize {
        let i = self.hosts.len();
        let ip = format!("{}.{}", self.prefix, 11 + i);
        self.hosts.push(Host {
            name: name.into(),
            ip,
            state_dir: self.dir.path().join(name),
            log: self.dir.path().join(format!("{name}.log")),
            child: None,
        });
        i
    }

    /// Writes cluster.toml naming the coordinator hosts `members` (default: all).
    pub fn write_config_with(&self, members: &[usize]) {
        let mut s = format!("[cluster]\nname = \"t{}\"\nstate_dir = \"{}\"\n\n", self.prefix.replace('.', "-"), self.dir.path().join("unused").display());
        for (n, &i) in members.iter().enumerate() {
            let h = &self.hosts[i];
            let roles = if n < 2 { "[\"app\", \"coordinator\"]" } else { "[\"coordinator\"]" };
            s += &format!("[[hosts]]\nname = \"{}\"\nfqdn = \"{}.test\"\naddress = \"{}\"\nroles = {roles}\n\n", h.name, h.name, h.ip);
        }
        s += &format!("[[hosts]]\nname = \"lb\"\nfqdn = \"lb.test\"\naddress = \"{}.250\"\nroles = [\"balancer\"]\n", self.prefix);
        s += &self.extra_toml;
        fs::write(&self.config, s).expect("write cluster.toml");
    }

    pub fn write_config(&self) {
        let all: Vec<usize> = (0..self.hosts.len()).collect();
        self.write_config_with(&all);
    }

    pub fn spawn(&mut self, i: usize) {
        let h = &mut self.hosts[i];
        assert!(h.child.is_none(), "{} already running", h.name);
        let log = fs::OpenOptions::new().create(true).append(true).open(&h.log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_triad-coordinator"))
            .args(["--config", self.config.to_str().unwrap(), "--host", &h.name, "--state-dir"])
            .arg(&h.state_dir)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn triad-coordinator");
        h.child = Some(child);
    }

    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.hosts[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self, i: usize) {
        self.kill(i);
        self.spawn(i);
    }

    /// Deletes a host's data, as when its disk is replaced.
    pub fn wipe(&mut self, i: usize) {
        self.kill(i);
        let _ = fs::remove_dir_all(&self.hosts[i].state_dir);
    }

    pub fn url(&self, i: usize) -> String {
        format!("http://{}:2379", self.hosts[i].ip)
    }

    /// Endpoints for etcdctl: host:port (etcdctl 3.4 sends a scheme-prefixed :authority for
    /// URL endpoints on its per-endpoint commands, which HTTP/2 servers other than Go's reject).
    pub fn etcdctl_endpoints(&self, which: &[usize]) -> String {
        which.iter().map(|i| format!("{}:2379", self.hosts[*i].ip)).collect::<Vec<_>>().join(",")
    }

    pub fn etcdctl(&self, which: &[usize], args: &[&str]) -> std::process::Output {
        Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .arg("--endpoints")
            .arg(self.etcdctl_endpoints(which))
            .arg("--command-timeout=10s")
            .args(args)
            .output()
            .expect("run etcdctl (Debian package etcd-client)")
    }

    pub async fn channel(&self, i: usize) -> Channel {
        tonic::transport::Endpoint::from_shared(self.url(i))
            .unwrap()
            .connect_timeout(Duration::from_secs(1))
            .timeout(Duration::from_secs(15))
            .connect_lazy()
    }

    pub async fn kv(&self, i: usize) -> KvClient<Channel> {
        KvClient::new(self.channel(i).await)
    }
    pub async fn lease(&self, i: usize) -> LeaseClient<Channel> {
        LeaseClient::new(self.channel(i).await)
    }
    pub async fn watch(&self, i: usize) -> WatchClient<Channel> {
        WatchClient::new(self.channel(i).await)
    }
    pub async fn cluster(&self, i: usize) -> ClusterClient<Channel> {
        ClusterClient::new(self.channel(i).await)
    }
    pub async fn maintenance(&self, i: usize) -> MaintenanceClient<Channel> {
        MaintenanceClient::new(self.channel(i).await)
    }

    pub async fn status(&self, i: usize) -> Option<StatusResponse> {
        let mut m = self.maintenance(i).await;
        let r = tokio::time::timeout(Duration::from_secs(2), m.status(StatusRequest {})).await;
        r.ok()?.ok().map(|r| r.into_inner())
    }

    /// Waits until one of `among` reports itself leader and the others that answer agree.
    pub async fn wait_leader(&self, among: &[usize]) -> usize {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            for &i in among {
                if let Some(s) = self.status(i).await
                    && s.leader != 0 && s.leader == s.header.as_ref().unwrap().member_id {
                        return i;
                    }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("no leader among {among:?} within 60 s");
    }

    /// Waits until the member list (as `i` sees it) names exactly `names`, all voters; returns
    /// the members.
    pub async fn wait_voters(&self, i: usize, names: &[&str]) -> Vec<Member> {
        let mut want: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        want.sort();
        eventually(90, &format!("members {want:?}, all voters"), || async {
            let mut cl = self.cluster(i).await;
            let ms = cl.member_list(MemberListRequest { linearizable: true }).await.ok()?.into_inner().members;
            let mut got: Vec<String> = ms.iter().filter(|m| !m.is_learner).map(|m| m.name.clone()).collect();
            got.sort();
            (got == want && ms.len() == want.len()).then_some(ms)
        })
        .await
    }

    pub async fn wait_ready(&self) -> usize {
        let names: Vec<String> = self.hosts.iter().map(|h| h.name.clone()).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let l = self.wait_leader(&(0..self.hosts.len()).collect::<Vec<_>>()).await;
        self.wait_voters(l, &names).await;
        for i in 0..self.hosts.len() {
            eventually(60, &format!("{} serving as a voter", self.hosts[i].name), || async {
                self.status(i).await.filter(|s| !s.is_learner && s.leader != 0).map(|_| ())
            })
            .await;
        }
        l
    }

    /// Cuts every peer link between `a` and `b` (both directions), by dropping packets.
    /// Members bind their own address for outgoing peer connections, so a rule per address
    /// pair is exact.
    pub fn cut(&mut self, a: usize, b: usize) {
        for (s, d) in [(a, b), (b, a)] {
            let rule = vec![
                "INPUT".to_string(), "-s".into(), self.hosts[s].ip.clone(), "-d".into(), self.hosts[d].ip.clone(), "-j".into(), "DROP".into(),
            ];
            let ok = Command::new("iptables").arg("-I").args(&rule).status().expect("iptables").success();
            assert!(ok, "iptables -I {rule:?}");
            self.firewall.push(rule);
        }
    }

    /// Isolates `a` from every other host.
    pub fn isolate(&mut self, a: usize) {
        for b in 0..self.hosts.len() {
            if b != a {
                self.cut(a, b);
            }
        }
    }

    pub fn heal(&mut self) {
        for rule in self.firewall.drain(..) {
            let _ = Command::new("iptables").arg("-D").args(&rule).status();
        }
    }

    pub fn log_tail(&self, i: usize, lines: usize) -> String {
        let text = fs::read_to_string(&self.hosts[i].log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        self.heal();
        for i in 0..self.hosts.len() {
            self.kill(i);
        }
        if std::thread::panicking() || FAILED.load(std::sync::atomic::Ordering::SeqCst) {
            for i in 0..self.hosts.len() {
                eprintln!("---- log of {} ({}) ----\n{}", self.hosts[i].name, self.hosts[i].ip, self.log_tail(i, 40));
            }
        }
    }
}

pub fn b(s: &str) -> bytes::Bytes {
    bytes::Bytes::copy_from_slice(s.as_bytes())
}

/// Polls `f` until it returns Some, for at most `secs` seconds.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {secs} s waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Puts with retries on any error (as a client that fails over would), against member `i`
/// first and then the others. Returns once acknowledged.
pub async fn put_retrying(c: &TestCluster, key: &str, value: &str) {
    let n = c.hosts.len();
    eventually(60, &format!("put {key}"), || async {
        for i in 0..n {
            if c.hosts[i].child.is_none() {
                continue;
            }
            let mut kv = c.kv(i).await;
            if kv.put(PutRequest { key: b(key), value: b(value), ..Default::default() }).await.is_ok() {
                return Some(());
            }
        }
        None
    })
    .await
}

pub async fn get_serializable(c: &TestCluster, i: usize, key: &str) -> Option<String> {
    let mut kv = c.kv(i).await;
    let r = kv.range(RangeRequest { key: b(key), serializable: true, ..Default::default() }).await.ok()?.into_inner();
    r.kvs.first().map(|kv| String::from_utf8_lossy(&kv.value).into_owned())
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}
