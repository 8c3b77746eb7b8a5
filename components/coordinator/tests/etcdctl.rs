//! etcdctl (Debian's etcd-client, API v3) against a three-member cluster: the wire
//! compatibility check with etcd's own client.

mod common;
use common::*;
use std::process::{Command, Stdio};
use std::io::Write;
use std::time::Duration;

fn ok(out: &std::process::Output) -> String {
    assert!(out.status.success(), "etcdctl failed: {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn etcdctl_speaks_to_a_three_member_cluster() {
    let c = TestCluster::start(3);
    c.wait_ready().await;
    let all = [0, 1, 2];

    // Every member shows up healthy, with its name and URLs.
    let health = eventually(30, "all endpoints healthy", || async {
        let out = c.etcdctl(&all, &["endpoint", "health"]);
        out.status.success().then(|| String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout))
    })
    .await;
    assert_eq!(health.matches("is healthy").count(), 3, "{health}");
    let members = ok(&c.etcdctl(&all, &["member", "list"]));
    for h in &c.hosts {
        assert!(members.contains(&format!(", started, {}, http://{}:2380, http://{}:2379, false", h.name, h.ip, h.ip)), "{members}");
    }
    let status = ok(&c.etcdctl(&all, &["endpoint", "status"]));
    assert_eq!(status.lines().count(), 3, "{status}");
    assert_eq!(status.matches(", true, false,").count(), 1, "exactly one leader: {status}");

    // put / get / del on different members.
    assert_eq!(ok(&c.etcdctl(&[0], &["put", "/k/a", "1"])).trim(), "OK");
    assert_eq!(ok(&c.etcdctl(&[1], &["put", "/k/b", "2"])).trim(), "OK");
    assert_eq!(ok(&c.etcdctl(&[2], &["get", "/k/", "--prefix"])), "/k/a\n1\n/k/b\n2\n");
    let json = ok(&c.etcdctl(&[2], &["get", "/k/a", "-w", "json"]));
    assert!(json.contains("\"create_revision\":1,\"mod_revision\":1,\"version\":1"), "{json}");
    assert_eq!(ok(&c.etcdctl(&[1], &["del", "/k/a"])).trim(), "1");
    assert_eq!(ok(&c.etcdctl(&[0], &["get", "/k/a"])), "");

    // txn: compare on value, success and failure branches.
    let txn = |input: &str| {
        let mut child = Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &c.etcdctl_endpoints(&all), "txn"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        ok(&child.wait_with_output().unwrap())
    };
    assert_eq!(txn("value(\"/k/b\") = \"2\"\n\nput /k/b 3\n\nput /k/b fail\n\n"), "SUCCESS\n\nOK\n");
    assert_eq!(txn("value(\"/k/b\") = \"2\"\n\nput /k/b 4\n\nget /k/b\n\n"), "FAILURE\n\n/k/b\n3\n");

    // Leases: grant, attach, time-to-live, keep-alive, revoke deletes the key.
    let grant = ok(&c.etcdctl(&all, &["lease", "grant", "30"]));
    let id = grant.split_whitespace().nth(1).unwrap().to_string();
    ok(&c.etcdctl(&all, &["put", "--lease", &id, "/k/leased", "v"]));
    let ttl = ok(&c.etcdctl(&all, &["lease", "timetolive", &id, "--keys"]));
    assert!(ttl.contains("granted with TTL(30s)") && ttl.contains("attached keys([/k/leased])"), "{ttl}");
    let keep = Command::new("timeout")
        .args(["3", "etcdctl", "--endpoints", &c.etcdctl_endpoints(&all), "lease", "keep-alive", &id])
        .env("ETCDCTL_API", "3")
        .output()
        .unwrap();
    let keep = String::from_utf8_lossy(&keep.stdout);
    assert!(keep.contains(&format!("lease {id} keepalived with TTL(30)")), "{keep}");
    let leases = ok(&c.etcdctl(&all, &["lease", "list"]));
    assert!(leases.contains(&id), "{leases}");
    ok(&c.etcdctl(&all, &["lease", "revoke", &id]));
    assert_eq!(ok(&c.etcdctl(&all, &["get", "/k/leased"])), "");

    // watch: sees later puts and deletes with their previous values.
    let mut watch = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args(["--endpoints", &c.etcdctl_endpoints(&[1]), "watch", "/w/", "--prefix", "--prev-kv"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    ok(&c.etcdctl(&[0], &["put", "/w/x", "one"]));
    ok(&c.etcdctl(&[2], &["put", "/w/x", "two"]));
    ok(&c.etcdctl(&[0], &["del", "/w/x"]));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let _ = watch.kill();
    let out = String::from_utf8_lossy(&watch.wait_with_output().unwrap().stdout).into_owned();
    assert_eq!(out, "PUT\n/w/x\none\nPUT\n/w/x\none\n/w/x\ntwo\nDELETE\n/w/x\ntwo\n/w/x\n\n", "watch output");

    // watch from an old revision replays history; compaction makes old revisions unreadable.
    let rev_json = ok(&c.etcdctl(&all, &["get", "/k/b", "-w", "json"]));
    let rev: i64 = rev_json.split("\"revision\":").nth(1).unwrap().split(',').next().unwrap().parse().unwrap();
    let hist = Command::new("timeout")
        .args(["3", "etcdctl", "--endpoints", &c.etcdctl_endpoints(&all), "watch", "/w/x", "--rev", "1"])
        .env("ETCDCTL_API", "3")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&hist.stdout).starts_with("PUT\n/w/x\none\nPUT\n/w/x\ntwo\nDELETE\n"), "{hist:?}");
    assert!(ok(&c.etcdctl(&all, &["compact", &rev.to_string()])).contains(&format!("compacted revision {rev}")));
    let old = c.etcdctl(&all, &["get", "/k/b", "--rev", "2"]);
    assert!(!old.status.success());
    assert!(String::from_utf8_lossy(&old.stderr).contains("etcdserver: mvcc: required revision has been compacted"));
}
