//! Mutual TLS on the coordinator's client port (`[tls] coordinator = true`, issue 19), checked
//! with etcd's own client (Debian's etcdctl) and the daemons' client (triad-dcs, triadctl's too):
//! a certificate of the cluster CA gets in; no certificate, one of another CA, an expired
//! one and plain text are refused, and so is a switchover request without credentials.

mod common;
use common::*;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// etcdctl over TLS against member `i`, showing `cert`/`key` when given.
fn etcdctl_tls(c: &TestCluster, i: usize, ca: &Path, identity: Option<(&Path, &Path)>, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new("etcdctl");
    cmd.env("ETCDCTL_API", "3").arg("--endpoints").arg(c.etcdctl_endpoints(&[i])).arg("--command-timeout=5s").arg("--dial-timeout=3s").arg("--cacert").arg(ca);
    if let Some((cert, key)) = identity {
        cmd.arg("--cert").arg(cert).arg("--key").arg(key);
    }
    cmd.args(args).output().expect("run etcdctl (Debian package etcd-client)")
}

fn text(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_client_port_takes_only_certificates_of_the_cluster_ca() {
    let mut c = TestCluster::new(3);
    let tls = c.dir.path().join("tls");
    fs::create_dir(&tls).unwrap();
    let now = time::OffsetDateTime::now_utc();
    let ca = triad_ctl::ca::new_ca("coordinator-test", now, 30).unwrap();
    fs::write(tls.join("ca.crt"), &ca.cert).unwrap();
    let write = |name: &str, pem: triad_ctl::ca::Pem| {
        fs::write(tls.join(format!("{name}.crt")), pem.cert).unwrap();
        fs::write(tls.join(format!("{name}.key")), pem.key).unwrap();
    };
    let identity = |name: &str, ip: &str| triad_ctl::ca::Identity { name: name.into(), fqdn: format!("{name}.test"), address: ip.parse().unwrap(), via_names: vec![], via_addresses: vec![] };
    for h in &c.hosts {
        write(&h.name, triad_ctl::ca::issue(&ca, &identity(&h.name, &h.ip), now, 30).unwrap());
    }
    // An operator's certificate, an expired one of the same CA, and one of another CA.
    write("operator", triad_ctl::ca::issue(&ca, &identity("operator", "127.0.0.1"), now, 30).unwrap());
    write("expired", triad_ctl::ca::issue(&ca, &identity("expired", "127.0.0.1"), now, -1).unwrap());
    let other = triad_ctl::ca::new_ca("other", now, 30).unwrap();
    write("foreign", triad_ctl::ca::issue(&other, &identity("foreign", "127.0.0.1"), now, 30).unwrap());
    c.extra_toml = format!("\n[tls]\nca = \"{0}/ca.crt\"\ncert = \"{0}/{{host}}.crt\"\nkey = \"{0}/{{host}}.key\"\ncoordinator = true\n", tls.display());
    c.write_config();
    for i in 0..3 {
        c.spawn(i);
    }
    let pair = |name: &str| (tls.join(format!("{name}.crt")), tls.join(format!("{name}.key")));
    let cacert = tls.join("ca.crt");

    // With a certificate of the cluster CA: etcd's client works as against etcd.
    let (cert, key) = pair("operator");
    eventually(60, "etcdctl with the operator's certificate", || async {
        let out = etcdctl_tls(&c, 0, &cacert, Some((&cert, &key)), &["put", "/k/a", "1"]);
        out.status.success().then_some(())
    })
    .await;
    let got = etcdctl_tls(&c, 1, &cacert, Some((&cert, &key)), &["get", "/k/a", "--print-value-only"]);
    assert_eq!(text(&got).trim(), "1");
    let members = text(&etcdctl_tls(&c, 2, &cacert, Some((&cert, &key)), &["member", "list"]));
    assert_eq!(members.matches(":2379, false").count(), 3, "{members}");
    assert!(members.contains(&format!("https://{}:2379", c.hosts[0].ip)), "the members advertise https client URLs: {members}");

    // Refused: no client certificate, another CA's, an expired one, plain text.
    let refused = |out: std::process::Output, what: &str| {
        assert!(!out.status.success(), "{what} got in: {}", text(&out));
        text(&out)
    };
    let (fcert, fkey) = pair("foreign");
    let (ecert, ekey) = pair("expired");
    let none = refused(etcdctl_tls(&c, 0, &cacert, None, &["put", "/k/b", "x"]), "no certificate");
    let foreign = refused(etcdctl_tls(&c, 0, &cacert, Some((&fcert, &fkey)), &["put", "/k/b", "x"]), "another CA's certificate");
    let expired = refused(etcdctl_tls(&c, 0, &cacert, Some((&ecert, &ekey)), &["put", "/k/b", "x"]), "an expired certificate");
    let plain = refused(c.etcdctl(&[0], &["put", "/k/b", "x"]), "plain text");
    println!("no certificate: {none}\nanother CA: {foreign}\nexpired: {expired}\nplain text: {plain}");
    // etcdctl only says "context deadline exceeded"; the member logs why it refused each.
    let refusals = eventually(10, "the member logs the refusals", || async {
        let log = fs::read_to_string(&c.hosts[0].log).unwrap();
        let lines: Vec<String> = log.lines().filter(|l| l.contains("refused a client of the coordinator")).map(String::from).collect();
        (lines.len() >= 4).then_some(lines.join("\n"))
    })
    .await;
    println!("{refusals}");
    for why in ["peer sent no certificates", "UnknownIssuer", "expired", "corrupt message"] {
        assert!(refusals.contains(why), "no refusal saying {why:?}:\n{refusals}");
    }
    assert_eq!(text(&etcdctl_tls(&c, 0, &cacert, Some((&cert, &key)), &["get", "/k/b"])).trim(), "", "nothing of the refused writes was kept");

    // A switchover request without credentials is refused; triadctl with the operator's
    // certificate asks it. Every daemon reaches the members with its host's certificate.
    let prefix = format!("/triad/t{}/", c.prefix.replace('.', "-"));
    let plain = refused(c.etcdctl(&[1], &["put", &format!("{prefix}switchover"), "{}"]), "a switchover request in plain text");
    assert!(!plain.is_empty());
    // triadctl (switchover, list) connects as below with no host: without a certificate it
    // says what to set, before it sends anything.
    assert!(std::env::var_os("TRIAD_TLS_CERT").is_none());
    let cluster = triad_config::Cluster::load(&c.config).unwrap();
    let without = triad_dcs::Dcs::connect(&cluster, None).await.err().expect("no certificate, no connection").to_string();
    assert!(without.contains("set TRIAD_TLS_CERT and TRIAD_TLS_KEY"), "{without}");
    let dcs = triad_dcs::Dcs::connect(&cluster, Some("c2")).await.expect("a daemon's connection");
    let mut last = String::new();
    for _ in 0..50 {
        match dcs.put("tls-probe", "from c2", None).await {
            Ok(_) => break,
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(dcs.get("tls-probe").await.map(|kv| kv.map(|kv| kv.value)).map_err(|e| e.to_string()), Ok(Some(b"from c2".to_vec())), "c2's daemons reach the members with c2's certificate (last error: {last})");
    let seen = text(&etcdctl_tls(&c, 2, &cacert, Some((&cert, &key)), &["get", &format!("{prefix}tls-probe"), "--print-value-only"]));
    assert_eq!(seen.trim(), "from c2");
}
