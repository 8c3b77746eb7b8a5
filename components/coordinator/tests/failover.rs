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

#[tokio::test(flavor = "multi_thread")]
async fn leases_survive_a_leader_change_and_expire_without_keep_alives() {
    let mut c = TestCluster::start(3);
    let leader = c.wait_ready().await;
    let other = (0..3).find(|i| *i != leader).unwrap();
    let mut lease = c.lease(other).await;
    let g = lease.lease_grant(LeaseGrantRequest { ttl: 8, id: 0 }).await.unwrap().into_inner();
    let mut kv = c.kv(other).await;
    kv.put(PutRequest { key: b("/lease/k"), value: b("v"), lease: g.id, ..Default::default() }).await.unwrap();

    // Kill the leader halfway through the TTL: the new leader keeps the deadline of the last
    // renewal it applied (the grant), it does not restart the clock.
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    c.kill(leader);
    let rest: Vec<usize> = (0..3).filter(|i| *i != leader).collect();
    c.wait_leader(&rest).await;
    let ttl = lease.lease_time_to_live(LeaseTimeToLiveRequest { id: g.id, keys: true }).await.unwrap().into_inner();
    assert!(ttl.ttl > 0 && ttl.ttl <= 5 && ttl.granted_ttl == 8 && ttl.keys == vec![b("/lease/k")], "the lease survived the leader change on its own clock: {ttl:?}");

    // Without keep-alives it expires: the leader revokes it and its key goes.
    eventually(30, "lease expired and its key deleted", || {
        let mut kv = kv.clone();
        async move {
            let r = kv.range(RangeRequest { key: b("/lease/k"), ..Default::default() }).await.ok()?.into_inner();
            (r.count == 0).then_some(())
        }
    })
    .await;
    let ttl = lease.lease_time_to_live(LeaseTimeToLiveRequest { id: g.id, keys: false }).await.unwrap().into_inner();
    assert_eq!(ttl.ttl, -1, "an expired lease is unknown (etcd reports TTL -1)");
}
