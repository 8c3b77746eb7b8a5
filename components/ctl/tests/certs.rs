//! `triadctl certs`, checked by what did not make the certificates: OpenSSL verifies them, and
//! a mutual-TLS handshake between `openssl s_server` (asking for a client certificate) and
//! `openssl s_client` succeeds with the cluster's certificates and fails without one, with
//! another CA's, and with an expired one.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

fn cluster_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../vm-tests/scenarios/cluster.toml")
}

fn triadctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_triadctl")).args(args).output().unwrap()
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "failed: {}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn openssl(args: &[&str]) -> Output {
    Command::new("openssl").args(args).output().expect("openssl is installed (scripts/setup)")
}

/// A CA in `dir/NAME` and certificates for app1 and app2 in `dir/NAME/hosts` (`days` each).
fn pki(dir: &Path, name: &str, days: &str) -> PathBuf {
    let ca = dir.join(name);
    let config = cluster_file();
    let c = config.to_str().unwrap();
    ok(triadctl(&["certs", "init", "--config", c, "--dir", ca.to_str().unwrap()]));
    for host in ["app1", "app2"] {
        ok(triadctl(&["certs", "issue", host, "--config", c, "--dir", ca.to_str().unwrap(), "--out", ca.join("hosts").to_str().unwrap(), "--days", days]));
    }
    ca
}

#[test]
fn host_certificates_name_the_host_and_verify_against_their_ca_only() {
    let dir = tempfile::tempdir().unwrap();
    let ca = pki(dir.path(), "ca", "365");
    let other = pki(dir.path(), "other", "365");
    let s = |p: PathBuf| p.to_str().unwrap().to_string();
    let app1 = s(ca.join("hosts/app1.crt"));

    ok(openssl(&["verify", "-CAfile", &s(ca.join("ca.crt")), "-verify_hostname", "app1.triad.test", "-purpose", "sslserver", &app1]));
    ok(openssl(&["verify", "-CAfile", &s(ca.join("ca.crt")), "-verify_ip", "192.168.1.1", "-purpose", "sslclient", &app1]));
    let text = ok(openssl(&["x509", "-in", &app1, "-noout", "-ext", "subjectAltName"]));
    for name in ["DNS:app1.triad.test", "DNS:app1", "IP Address:192.168.1.1", "DNS:balancer.triad.test", "DNS:balancer", "IP Address:192.168.1.4"] {
        assert!(text.contains(name), "{name} missing: {text}");
    }
    // Through the balancer (SQL passes through it as TCP), verify-full holds too.
    ok(openssl(&["verify", "-CAfile", &s(ca.join("ca.crt")), "-verify_hostname", "balancer.triad.test", "-purpose", "sslserver", &app1]));

    let wrong_name = openssl(&["verify", "-CAfile", &s(ca.join("ca.crt")), "-verify_hostname", "app2.triad.test", &app1]);
    assert!(!wrong_name.status.success(), "app1's certificate passed as app2's");
    let foreign = openssl(&["verify", "-CAfile", &s(ca.join("ca.crt")), &s(other.join("hosts/app1.crt"))]);
    assert!(!foreign.status.success() && String::from_utf8_lossy(&foreign.stderr).contains("unable to get local issuer certificate"), "{foreign:?}");

    let key_mode = std::fs::metadata(ca.join("hosts/app1.key")).unwrap();
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&key_mode.permissions()) & 0o777, 0o600);
    let again = triadctl(&["certs", "issue", "app1", "--config", cluster_file().to_str().unwrap(), "--dir", &s(ca.clone()), "--out", &s(ca.join("hosts"))]);
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("exists (use --renew"), "{again:?}");
    let before = std::fs::read_to_string(ca.join("hosts/app1.crt")).unwrap();
    ok(triadctl(&["certs", "issue", "app1", "--config", cluster_file().to_str().unwrap(), "--dir", &s(ca.clone()), "--out", &s(ca.join("hosts")), "--renew"]));
    assert_ne!(before, std::fs::read_to_string(ca.join("hosts/app1.crt")).unwrap(), "--renew issued a new certificate");
    let second_ca = triadctl(&["certs", "init", "--config", cluster_file().to_str().unwrap(), "--dir", &s(ca.clone())]);
    assert!(!second_ca.status.success(), "a second CA overwrote the first");
}

/// `openssl s_server` with `ca`'s app1 certificate, requiring a client certificate from
/// `ca`, for one connection; it answers an HTTP GET with `HTTP/1.0 200 ok` (`-www`).
fn server(ca: &Path) -> (Child, u16) {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let s = |p: PathBuf| p.to_str().unwrap().to_string();
    let mut child = Command::new("openssl")
        .args(["s_server", "-accept", &format!("127.0.0.1:{port}"), "-www", "-naccept", "1", "-Verify", "1", "-verify_return_error"])
        .args(["-cert", &s(ca.join("hosts/app1.crt")), "-key", &s(ca.join("hosts/app1.key")), "-CAfile", &s(ca.join("ca.crt"))])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // It prints ACCEPT once it listens.
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    assert!(lines.any(|l| l.is_ok_and(|l| l.contains("ACCEPT"))), "openssl s_server did not start");
    std::thread::spawn(move || lines.for_each(drop));
    (child, port)
}

/// Connects as `client` (a host's certificate and key, or none) trusting `trust`; whether
/// the mutual handshake and a round trip succeeded, and what s_client said.
fn handshake(trust: &Path, client: Option<(PathBuf, PathBuf)>, server_ca: &Path) -> (bool, String) {
    let (mut srv, port) = server(server_ca);
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-connect", &format!("127.0.0.1:{port}"), "-verify_return_error", "-verify_hostname", "app1.triad.test", "-CAfile", trust.to_str().unwrap(), "-quiet"]);
    if let Some((cert, key)) = &client {
        cmd.args(["-cert", cert.to_str().unwrap(), "-key", key.to_str().unwrap()]);
    }
    let mut c = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    // TLS 1.3 reports a refused client certificate only after the handshake: a request and
    // its answer show whether the server took the client.
    std::io::Write::write_all(c.stdin.as_mut().unwrap(), b"GET / HTTP/1.0\r\n\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    drop(c.stdin.take());
    let out = c.wait_with_output().unwrap();
    let _ = srv.kill();
    let _ = srv.wait();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (said.contains("HTTP/1.0 200 ok"), said)
}

#[test]
fn mutual_tls_takes_the_clusters_certificates_and_refuses_others() {
    let dir = tempfile::tempdir().unwrap();
    let ca = pki(dir.path(), "ca", "365");
    let other = pki(dir.path(), "other", "365");
    let expired = {
        let e = dir.path().join("expired");
        std::fs::create_dir_all(e.join("hosts")).unwrap();
        for f in ["ca.crt", "ca.key"] {
            std::fs::copy(ca.join(f), e.join(f)).unwrap();
        }
        let c = cluster_file();
        ok(triadctl(&["certs", "issue", "app2", "--config", c.to_str().unwrap(), "--dir", e.to_str().unwrap(), "--out", e.join("hosts").to_str().unwrap(), "--days=-1"]));
        e
    };
    let host = |d: &Path, h: &str| Some((d.join(format!("hosts/{h}.crt")), d.join(format!("hosts/{h}.key"))));
    let trust = ca.join("ca.crt");

    let (accepted, said) = handshake(&trust, host(&ca, "app2"), &ca);
    assert!(accepted, "app2 was refused by app1: {said}");
    // The server's alert names the reason.
    for (why, client, alert) in [
        ("no client certificate", None, "certificate required"),
        ("another CA's certificate", host(&other, "app2"), "unknown ca"),
        ("an expired certificate", host(&expired, "app2"), "certificate expired"),
    ] {
        let (accepted, said) = handshake(&trust, client, &ca);
        assert!(!accepted && said.contains(alert), "a client with {why} was not refused with {alert:?}: {said}");
    }
    // And the client refuses a server whose certificate comes from another CA.
    let (accepted, said) = handshake(&trust, host(&ca, "app2"), &other);
    assert!(!accepted && said.contains("verify error"), "a server with another CA's certificate was trusted: {said}");
}
