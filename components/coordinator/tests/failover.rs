//! Crashes: SIGKILL of the leader, then of every member. Acknowledged writes survive, a new
//! leader serves writes, restarted members catch up.

mod common;
use common::*;
use triad_coordinator::pb::etcdserverpb::*;

#[tokio::test(flavor = "multi_thread")]
async fn killed_leader_is_replaced_and_catches_up_and_nothing_acknowledged_is_lost() {
    let mut c = TestCluster::start(3);
    let leader = c.wait_ready().await;
    let mut acked = Vec::new();
    for i in 0..20 {
        put_retrying(&c, &format!("/f/{i}"), &format!("v{i}")).await;
        acked.push(i);
    }

    // SIGKILL the leader: the other two elect a new one which serves writes.
    c.kill(leader);
    let rest: Vec<usize> = (0..3).filter(|i| *i != leader).collect();
    let new_leader = c.wait_leader(&rest).await;
    assert_ne!(new_leader, leader);
    for i in 20..40 {
        put_retrying(&c, &format!("/f/{i}"), &format!("v{i}")).await;
        acked.push(i);
    }

    // The killed member restarts and catches up (its local, serializable read sees the
    // newest write).
    c.spawn(leader);
    eventually(60, "restarted member caught up", || async { (get_serializable(&c, leader, "/f/39").await.as_deref() == Some("v39")).then_some(()) }).await;

    // Every member SIGKILLed at once, then restarted: every acknowledged put is there.
    for i in 0..3 {
        c.kill(i);
    }
    for i in 0..3 {
        c.spawn(i);
    }
    let l = c.wait_leader(&[0, 1, 2]).await;
    let mut kv = c.kv(l).await;
    let r = eventually(60, "linearizable range after restart", || {
        let mut kv = kv.clone();
        async move { kv.range(RangeRequest { key: b("/f/"), range_end: b("/f0"), ..Default::default() }).await.ok() }
    })
    .await
    .into_inner();
    assert_eq!(r.count as usize, acked.len(), "every acknowledged put survives");
    for i in &acked {
        let got = r.kvs.iter().find(|kv| kv.key == format!("/f/{i}").as_bytes());
        assert_eq!(got.map(|kv| kv.value.clone()), Some(b(&format!("v{i}"))));
    }
    // And the cluster still takes writes.
    kv.put(PutRequest { key: b("/f/after"), value: b("x"), ..Default::default() }).await.expect("write after full restart");
}
