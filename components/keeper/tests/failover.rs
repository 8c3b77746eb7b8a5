//! Two keepers, two PostgreSQL, a three-member etcd: bootstrap, failover after the primary's
//! host dies without losing an acknowledged commit, the old primary's return as a standby, and
//! synchronous mode's handling of a lost standby.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{TestCluster, eventually};

#[test]
fn primary_loss_promotes_the_sync_standby_without_losing_an_acknowledged_commit() {
    let mut c = TestCluster::start("on");
    let p = c.wait_primary(90);
    let s = 1 - p;
    c.wait_replica(s, 120);
    let cluster = eventually(30, "the standby recorded as synchronous", || {
        let j = c.http_json(p, "/cluster");
        (j["sync_standby"] == c.nodes[s].name.as_str()).then_some(j)
    });
    assert_eq!(cluster["leader"], c.nodes[p].name.as_str());

    c.psql(p, "CREATE TABLE acked (n int PRIMARY KEY)").unwrap();
    // A client writes numbered rows to whichever host is primary; records what was acknowledged.
    let acked = Arc::new(Mutex::new(Vec::<i32>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let ips: Vec<String> = c.nodes.iter().map(|n| n.ip.clone()).collect();
    let writer = {
        let (acked, stop) = (acked.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                for ip in &ips {
                    if common::http_get(ip, "/primary").map(|r| r.0) != Some(200) {
                        continue;
                    }
                    let ok = std::process::Command::new("psql")
                        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", ip, "-U", "postgres", "-d", "triad", "-c", &format!("INSERT INTO acked VALUES ({n})")])
                        .env("PGCONNECT_TIMEOUT", "2")
                        .output()
                        .map(|o| o.status.success())
                        .unwrap_or(false);
                    if ok {
                        acked.lock().unwrap().push(n);
                    }
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    eventually(30, "writes acknowledged", || (acked.lock().unwrap().len() >= 20).then_some(()));

    c.crash(p);
    let new = c.wait_primary(60);
    assert_eq!(new, s, "the synchronous standby is promoted");
    let before = acked.lock().unwrap().len();
    eventually(30, "writes acknowledged by the new primary", || (acked.lock().unwrap().len() >= before + 10).then_some(()));
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();

    let present: Vec<i32> = c.psql(s, "SELECT n FROM acked ORDER BY n").unwrap().lines().map(|l| l.parse().unwrap()).collect();
    let lost: Vec<i32> = acked.lock().unwrap().iter().copied().filter(|n| !present.contains(n)).collect();
    assert!(lost.is_empty(), "acknowledged commits lost in the failover: {lost:?}");

    let history = c.http_json(s, "/history");
    assert_eq!(history.as_array().unwrap().len(), 1, "one promotion recorded: {history}");
    assert_eq!(history[0][4], c.nodes[s].name.as_str());
    assert_eq!(c.psql(s, "SELECT timeline_id FROM pg_control_checkpoint()").map(|t| t.parse::<u32>().unwrap() >= 2), Ok(true));

    // The old primary comes back: it rejoins as a standby of the new one (pg_rewind).
    c.spawn(p);
    c.wait_replica(p, 120);
    assert_eq!(c.wait_primary(10), s);
    let on_old = c.psql(p, "SELECT count(*) FROM acked").unwrap();
    assert_eq!(on_old, present.len().to_string(), "the rejoined standby has every row");

    // A switchover back to the first host: clean, and `triadctl list`'s table shows it.
    c.wait_replica(p, 60);
    eventually(30, "the rejoined host recorded as synchronous", || (c.http_json(s, "/cluster")["sync_standby"] == c.nodes[p].name.as_str()).then_some(()));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let state = rt.block_on(async {
        let endpoints: Vec<String> = c.etcd.iter().map(|e| e.endpoint()).collect();
        let dcs = triad_dcs::Dcs::connect_to(&endpoints, "/triad/kt/", Duration::from_secs(3)).await.unwrap();
        triad_keeper::client::request_leader(&dcs, "kt", None, false, Duration::from_secs(60)).await
    });
    let state = state.expect("switchover");
    assert_eq!(state.leader.as_deref(), Some(c.nodes[p].name.as_str()));
    assert_eq!(c.wait_primary(30), p);
    let table = triad_keeper::client::render(&state);
    assert!(table.lines().any(|l| l.contains(&c.nodes[p].name) && l.contains("| Leader ")), "{table}");
    c.wait_replica(s, 120);
    assert_eq!(c.psql(p, "SELECT count(*) FROM acked").unwrap(), present.len().to_string());

    // The leader's keeper is restarted (a configuration rollout): it stops PostgreSQL, keeps
    // the key, and the restarted keeper takes the key back: no failover, no new timeline.
    let timeline = c.psql(p, "SELECT timeline_id FROM pg_control_checkpoint()").unwrap();
    c.stop(p);
    assert!(postmaster_gone(&c, p), "a stopped keeper leaves no unfenced primary behind");
    c.spawn(p);
    assert_eq!(c.wait_primary(30), p, "the restarted keeper is primary again");
    assert_eq!(c.http_json(p, "/history").as_array().unwrap().len(), 2, "no promotion beyond the failover and the switchover");
    assert_eq!(c.psql(p, "SELECT timeline_id FROM pg_control_checkpoint()").unwrap(), timeline);
    c.psql(p, "INSERT INTO acked VALUES (-1)").unwrap();
}

fn postmaster_gone(c: &TestCluster, i: usize) -> bool {
    std::net::TcpStream::connect((c.nodes[i].ip.as_str(), 5432)).is_err()
}

#[test]
fn losing_the_sync_standby_is_recorded_before_writes_go_on_without_it() {
    let mut c = TestCluster::start("on");
    let p = c.wait_primary(90);
    let s = 1 - p;
    c.wait_replica(s, 120);
    eventually(30, "sync standby recorded", || (c.http_json(p, "/cluster")["sync_standby"] == c.nodes[s].name.as_str()).then_some(()));
    c.psql(p, "CREATE TABLE t (n int)").unwrap();
    c.crash(s);
    // Writes block while the requirement stands, then go on once the keeper has recorded the
    // loss in the coordinator and dropped the requirement.
    // (Not with statement_timeout: a cancelled synchronous-commit wait returns success with a
    // warning, the very acknowledgement without replication this mode exists to prevent.)
    eventually(60, "a write succeeds without the standby", || c.psql_within(p, "INSERT INTO t VALUES (1)", 3).ok());
    eventually(10, "the sync key no longer names the lost standby", || c.http_json(p, "/cluster")["sync_standby"].is_null().then_some(()));
    // The standby can no longer take over: it may lack commits made since.
    assert_eq!(c.psql(p, "SHOW synchronous_standby_names").unwrap(), "");
}
