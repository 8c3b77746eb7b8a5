//! A minority cut off from the others (iptables DROP between member addresses) cannot
//! commit; the majority can; after healing the minority catches up.

mod common;
use common::*;
use std::time::Duration;
use triad_coordinator::pb::etcdserverpb::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_cut_off_minority_cannot_commit_and_the_majority_can() {
    let mut c = TestCluster::start(3);
    let leader = c.wait_ready().await;
    put_retrying(&c, "/p/before", "1").await;

    // Cut the leader off: it must stop being able to commit (check_quorum makes it step
    // down), while the other two elect a leader and commit.
    c.isolate(leader);
    let majority: Vec<usize> = (0..3).filter(|i| *i != leader).collect();
    let new_leader = c.wait_leader(&majority).await;
    let mut kv = c.kv(new_leader).await;
    kv.put(PutRequest { key: b("/p/majority"), value: b("yes"), ..Default::default() }).await.expect("majority commits");

    let mut minority = c.kv(leader).await;
    let write = tokio::time::timeout(
        Duration::from_secs(20),
        minority.put(PutRequest { key: b("/p/minority"), value: b("no"), ..Default::default() }),
    )
    .await;
    assert!(!matches!(write, Ok(Ok(_))), "a write through the cut-off member must not be acknowledged: {write:?}");
    let read = tokio::time::timeout(Duration::from_secs(20), minority.range(RangeRequest { key: b("/p/majority"), ..Default::default() })).await;
    assert!(!matches!(read, Ok(Ok(_))), "a linearizable read on the cut-off member must not be served: {read:?}");
    let status = c.status(leader).await.expect("status of the isolated member");
    assert_ne!(status.leader, status.header.unwrap().member_id, "the isolated old leader stepped down");

    // Heal: the old leader rejoins, sees the majority's write, and its refused write never
    // happened anywhere.
    c.heal();
    eventually(60, "minority caught up", || async { (get_serializable(&c, leader, "/p/majority").await.as_deref() == Some("yes")).then_some(()) }).await;
    let mut kv = c.kv(c.wait_leader(&[0, 1, 2]).await).await;
    let r = kv.range(RangeRequest { key: b("/p/minority"), ..Default::default() }).await.unwrap().into_inner();
    // The refused proposal may still commit later only if it reached a leader; it was never
    // acknowledged, so either outcome is allowed — but the majority's write must be intact.
    let _ = r;
    let r = kv.range(RangeRequest { key: b("/p/before"), ..Default::default() }).await.unwrap().into_inner();
    assert_eq!(r.kvs[0].value, b("1"));

    // A follower alone cut off: the leader and the other follower keep committing.
    let l = c.wait_leader(&[0, 1, 2]).await;
    let follower = (0..3).find(|i| *i != l).unwrap();
    c.isolate(follower);
    let mut kv = c.kv(l).await;
    eventually(30, "leader commits without the cut-off follower", || {
        let mut kv = kv.clone();
        async move { kv.put(PutRequest { key: b("/p/two"), value: b("ok"), ..Default::default() }).await.ok().map(|_| ()) }
    })
    .await;
    c.heal();
    kv.range(RangeRequest { key: b("/p/two"), ..Default::default() }).await.unwrap();
}
