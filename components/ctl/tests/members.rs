//! `triadctl members` and `triadctl coordinator status` as an operator runs them, against a
//! real three-member etcd (the same etcd v3 API triad-coordinator serves).

use std::process::{Command, Output};
use std::time::{Duration, Instant};
use triad_testkit::etcd::{Etcd, etcd_cluster};

fn triadctl(args: &[&str], members: &[Etcd]) -> Output {
    let eps: Vec<String> = members.iter().map(Etcd::endpoint).collect();
    Command::new(env!("CARGO_BIN_EXE_triadctl"))
        .args(args)
        .args(["--endpoints", &eps.join(",")])
        .env_remove("TRIAD_CONFIG")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    assert!(o.status.success(), "triadctl failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// etcd refuses membership changes ("unhealthy cluster") until every member has been
/// connected for a few seconds, as it is just after start.
fn until_accepted(mut f: impl FnMut() -> Output) -> Output {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let o = f();
        if o.status.success() || Instant::now() > deadline || !String::from_utf8_lossy(&o.stderr).contains("unhealthy cluster") {
            return o;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn list_add_promote_remove_and_status() {
    let mut etcd = etcd_cluster(3);

    let status = stdout(&triadctl(&["coordinator", "status"], &etcd));
    assert!(status.starts_with("Endpoint  "), "{status}");
    assert_eq!(status.matches(" yes ").count(), 1, "exactly one leader: {status}");

    let list = stdout(&triadctl(&["members", "list"], &etcd));
    let rows: Vec<Vec<&str>> = list.lines().skip(1).map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows.iter().map(|r| r[1]).collect::<Vec<_>>(), ["e0", "e1", "e2"], "{list}");
    assert_eq!(rows.iter().filter(|r| r[2] == "leader").count(), 1, "{list}");

    // A learner that never starts: listed as unstarted, cannot be promoted, can be removed.
    let peer = format!("http://{}:2390", etcd[0].ip);
    let added = stdout(&until_accepted(|| triadctl(&["members", "add", "--learner", "--peer-url", &peer], &etcd)));
    assert!(added.starts_with("added member ") && added.contains(&format!("(learner) with peer URL {peer}")), "{added}");
    let id = added.split_whitespace().nth(2).unwrap().to_string();
    let list = stdout(&triadctl(&["members", "list"], &etcd));
    assert!(list.lines().any(|l| l.starts_with(&id) && l.contains("(unstarted)") && l.contains("learner")), "{list}");

    let promote = triadctl(&["members", "promote", &id], &etcd);
    assert!(!promote.status.success());
    let err = String::from_utf8_lossy(&promote.stderr);
    assert!(err.starts_with("triadctl: http://") && err.contains("learner"), "a refusal names the endpoint: {err}");

    let unknown = triadctl(&["members", "remove", "nosuch"], &etcd);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no member \"nosuch\"; members are: "));

    assert_eq!(stdout(&triadctl(&["members", "remove", &id], &etcd)), format!("removed member {id}\n"));
    assert!(!stdout(&triadctl(&["members", "list"], &etcd)).contains(&id));

    // Without a quorum the list is refused rather than read from a stale view, and the
    // status command reports the lost members and exits 1.
    etcd[1].kill();
    etcd[2].kill();
    let list = triadctl(&["members", "list"], &etcd);
    assert!(!list.status.success(), "{}", String::from_utf8_lossy(&list.stdout));
    assert!(String::from_utf8_lossy(&list.stderr).contains("no coordinator endpoint answered"), "{}", String::from_utf8_lossy(&list.stderr));
    let status = triadctl(&["coordinator", "status"], &etcd);
    assert_eq!(status.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&status.stdout).matches("unreachable").count(), 2);
}

#[test]
fn an_unreachable_endpoint_is_skipped() {
    let etcd = etcd_cluster(1);
    let eps = format!("http://127.0.0.1:9,{}", etcd[0].endpoint());
    let o = Command::new(env!("CARGO_BIN_EXE_triadctl")).args(["members", "list", "--endpoints", &eps]).output().unwrap();
    let list = stdout(&o);
    assert!(list.lines().nth(1).is_some_and(|l| l.contains(" e0 ") && l.contains("leader")), "{list}");
}
