//! Rendered HAProxy configurations: golden files, real `haproxy -c`, and real routing.
//!
//! Set UPDATE_GOLDEN=1 to rewrite the golden files after an intended change (and review the
//! diff).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use triad_config::Cluster;
use triad_ctl::haproxy::{Which, render};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn example(name: &str) -> Cluster {
    Cluster::load(root().join("docs/examples").join(name)).unwrap()
}

const CASES: &[(&str, &str, Which, Option<&str>)] = &[
    ("cluster-external", "cluster.toml", Which::External, None),
    ("cluster-internal-app1", "cluster.toml", Which::Internal, Some("app1")),
    ("cluster-internal-app2", "cluster.toml", Which::Internal, Some("app2")),
    ("board-external-lb1", "board-cluster.toml", Which::External, Some("lb1")),
    ("board-external-lb2", "board-cluster.toml", Which::External, Some("lb2")),
    ("board-internal-emea", "board-cluster.toml", Which::Internal, Some("emea")),
];

fn haproxy_check(text: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("haproxy.cfg");
    std::fs::write(&path, text).unwrap();
    let out = Command::new("haproxy")
        .arg("-c")
        .arg("-f")
        .arg(&path)
        .output()
        .expect("haproxy not found: install Debian's haproxy package (.ci/run does)");
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    }
}

#[test]
fn rendered_configs_match_golden_files_and_pass_haproxy_check() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for (golden, file, which, host) in CASES {
        let text = render(&example(file), *which, *host).unwrap();
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(format!("{golden}.cfg"));
        if update {
            std::fs::write(&path, &text).unwrap();
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        if want != text {
            failures.push(format!("{golden}: differs from {} (UPDATE_GOLDEN=1 to accept)\n{text}", path.display()));
        }
        if let Err(e) = haproxy_check(&text) {
            failures.push(format!("{golden}: haproxy -c rejects it:\n{e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn external_config_routes_profiles_and_weights() {
    let text = render(&example("board-cluster.toml"), Which::External, Some("lb1")).unwrap();
    let section = |name: &str| -> String {
        let start = text.find(&format!("\nbackend {name}\n")).map(|i| i + 1).unwrap_or_else(|| panic!("no backend {name}"));
        format!("{}\n", text[start..].split("\n\n").next().unwrap())
    };
    let emea = section("engine_sql_EMEA");
    assert!(emea.contains("server emea 10.30.0.21:5433 weight 150 check port 8080\n"), "{emea}");
    assert!(emea.contains("server us 10.30.0.22:5433 weight 100 check port 8080 backup"), "{emea}");
    assert!(emea.contains("option allbackups"));
    let http = section("engine_http_APAC");
    assert!(http.contains("cookie TRIAD_ENGINE insert"));
    assert!(http.contains("server apac 10.30.0.23:8080 weight 50 cookie apac check\n"), "{http}");
    assert!(text.contains("use_backend engine_http_US if profile_US"));
    assert!(text.contains("bind 10.30.0.5:5441 transparent"), "virtual IP bound on the profile port");
    assert!(section("designer").contains("http-check expect status 200"));
    assert!(text.contains("prometheus-exporter"));
}

#[test]
fn host_choice_errors_name_the_candidates() {
    let c = example("board-cluster.toml");
    let e = render(&c, Which::External, None).unwrap_err().to_string();
    assert!(e.contains("2 host(s) with role \"balancer\" (lb1, lb2)"), "{e}");
    let e = render(&c, Which::Internal, None).unwrap_err().to_string();
    assert!(e.contains("(load, emea, us, apac)"), "{e}");
    let e = render(&c, Which::Internal, Some("lb1")).unwrap_err().to_string();
    assert!(e.contains("host \"lb1\" has no \"app\" role"), "{e}");
    let e = render(&c, Which::Internal, Some("nope")).unwrap_err().to_string();
    assert!(e.contains("no host named \"nope\""), "{e}");
}

#[test]
fn cli_renders_to_a_file_and_rejects_a_broken_cluster_file() {
    let bin = env!("CARGO_BIN_EXE_triadctl");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("internal.cfg");
    let st = Command::new(bin)
        .args(["haproxy-config", "--role", "internal", "--host", "app2", "-o"])
        .arg(&out)
        .arg(root().join("docs/examples/cluster.toml"))
        .status()
        .unwrap();
    assert!(st.success());
    assert!(std::fs::read_to_string(&out).unwrap().contains("bind 10.20.0.12:5000"));
    let broken = root().join("components/config/tests/broken/duplicates.toml");
    let o = Command::new(bin).args(["haproxy-config", "--role", "external"]).arg(&broken).output().unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("duplicates.toml:18:1: hosts[2].name"));
}

// ---- Real routing through HAProxy with the generated internal config ----

/// A keeper stand-in: answers GET /primary with 200 while `primary` is set, else 503.
fn keeper_api(listener: TcpListener, primary: Arc<AtomicBool>, stop: Arc<AtomicBool>) {
    listener.set_nonblocking(true).unwrap();
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((mut s, _)) => {
                s.set_nonblocking(false).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(2))).ok();
                let mut buf = [0u8; 1024];
                let n = s.read(&mut buf).unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]);
                let is_primary = primary.load(Ordering::Relaxed);
                let ok = (req.starts_with("GET /primary") && is_primary) || (req.starts_with("GET /replica") && !is_primary);
                let status = if ok { "200 OK" } else { "503 Service Unavailable" };
                let _ = write!(s, "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// A database stand-in: sends its name to every connection.
fn db(listener: TcpListener, name: &'static str, stop: Arc<AtomicBool>) {
    listener.set_nonblocking(true).unwrap();
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((mut s, _)) => {
                let _ = s.write_all(name.as_bytes());
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

struct KillOnDrop(Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port(ip: &str) -> u16 {
    TcpListener::bind((ip, 0)).unwrap().local_addr().unwrap().port()
}

fn read_name(addr: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_secs(1)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(1))).ok();
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    (!out.is_empty()).then_some(out)
}

fn wait_for(addr: &str, want: &str, deadline: Duration) -> Result<(), String> {
    let start = Instant::now();
    let mut last = None;
    while start.elapsed() < deadline {
        last = read_name(addr);
        if last.as_deref() == Some(want) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("{addr} never reached {want} (last answer {last:?})"))
}

#[test]
fn internal_config_follows_the_primary_through_real_haproxy() {
    // Two app hosts on their own loopback addresses; ports picked free for this test.
    let (a1, a2) = ("127.0.77.1", "127.0.77.2");
    let pg = free_port(a1);
    let api = free_port(a1);
    let (rw, ro) = (free_port(a1), free_port(a1));
    let text = format!(
        "[cluster]\nname = \"routing\"\n\
         [[hosts]]\nname = \"app1\"\nfqdn = \"app1.test\"\naddress = \"{a1}\"\nroles = [\"app\", \"coordinator\", \"balancer\"]\n\
         [[hosts]]\nname = \"app2\"\nfqdn = \"app2.test\"\naddress = \"{a2}\"\nroles = [\"app\", \"coordinator\"]\n\
         [[hosts]]\nname = \"coord\"\nfqdn = \"coord.test\"\naddress = \"127.0.77.3\"\nroles = [\"coordinator\"]\n\
         [ports]\npostgres = {pg}\nkeeper_api = {api}\ndb_primary = {rw}\ndb_replicas = {ro}\n\
         [timings]\nhealth_check_interval = \"200ms\"\n"
    );
    let cluster = Cluster::parse("routing.toml", &text).unwrap_or_else(|e| panic!("{e}"));
    let stop = Arc::new(AtomicBool::new(false));
    let p1 = Arc::new(AtomicBool::new(true));
    let p2 = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for (ip, flag, name) in [(a1, p1.clone(), "app1"), (a2, p2.clone(), "app2")] {
        let (l_api, l_db) = (TcpListener::bind((ip, api)).unwrap(), TcpListener::bind((ip, pg)).unwrap());
        let s = stop.clone();
        threads.push(std::thread::spawn(move || keeper_api(l_api, flag, s)));
        let s = stop.clone();
        threads.push(std::thread::spawn(move || db(l_db, name, s)));
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("internal.cfg");
    std::fs::write(&cfg, render(&cluster, Which::Internal, Some("app1")).unwrap()).unwrap();
    let _haproxy = KillOnDrop(
        Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("haproxy"),
    );
    let (rw_addr, ro_addr) = (format!("{a1}:{rw}"), format!("{a1}:{ro}"));
    let result = (|| {
        wait_for(&rw_addr, "app1", Duration::from_secs(20))?;
        wait_for(&ro_addr, "app2", Duration::from_secs(20))?;
        // Failover: app2 becomes primary, app1 a standby; both ports follow.
        p1.store(false, Ordering::Relaxed);
        p2.store(true, Ordering::Relaxed);
        wait_for(&rw_addr, "app2", Duration::from_secs(20))?;
        wait_for(&ro_addr, "app1", Duration::from_secs(20))?;
        // No primary at all: the read-write port must not route anywhere.
        p2.store(false, Ordering::Relaxed);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) && read_name(&rw_addr).is_some() {
            std::thread::sleep(Duration::from_millis(100));
        }
        match read_name(&rw_addr) {
            None => Ok(()),
            Some(n) => Err(format!("read-write port still routes to {n} with no primary")),
        }
    })();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    result.unwrap();
}
