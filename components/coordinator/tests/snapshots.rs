//! Snapshots and log compaction: with the smallest `coordinator.snapshot_entries` (100), the log is
//! compacted many times; a member that was down catches up from a snapshot (the entries it
//! misses are gone), and a full restart recovers from snapshot file plus log tail.

mod common;
use common::*;
use triad_coordinator::pb::etcdserverpb::*;

#[tokio::test(flavor = "multi_thread")]
async fn lagging_member_catches_up_from_a_snapshot_and_restarts_recover_from_snapshot_and_log() {
    let mut c = TestCluster::new(3);
    c.extra_toml = "\n[coordinator]\nsnapshot_entries = 100\n".into();
    c.write_config();
    for i in 0..3 {
        c.spawn(i);
    }
    let leader = c.wait_ready().await;
    let lagging = (0..3).find(|i| *i != leader).unwrap();
    c.kill(lagging);
    let mut kv = c.kv(leader).await;
    // Keys with history (overwrites and deletes) and a lease, so the snapshot carries all kinds.
    let lease = c.lease(leader).await.lease_grant(LeaseGrantRequest { ttl: 600, id: 0 }).await.unwrap().into_inner().id;
    for i in 0..400 {
        let lease = if i % 10 == 0 { lease } else { 0 };
        kv.put(PutRequest { key: b(&format!("/s/{:03}", i % 60)), value: b(&format!("v{i}")), lease, ..Default::default() }).await.unwrap();
        if i % 7 == 0 {
            kv.delete_range(DeleteRangeRequest { key: b(&format!("/s/{:03}", (i + 3) % 60)), ..Default::default() }).await.unwrap();
        }
    }
    let want = kv.range(RangeRequest { key: b("/s/"), range_end: b("/s0"), ..Default::default() }).await.unwrap().into_inner();
    let rev = want.header.as_ref().unwrap().revision;
    let log = std::fs::read_to_string(&c.hosts[leader].log).unwrap();
    assert!(log.contains("snapshot written, log compacted"), "the leader compacted its log");

    // The lagging member needs entries the leader no longer has: it gets a snapshot.
    c.spawn(lagging);
    eventually(60, "lagging member caught up", || async {
        let mut kv = c.kv(lagging).await;
        let r = kv.range(RangeRequest { key: b("/s/"), range_end: b("/s0"), serializable: true, ..Default::default() }).await.ok()?.into_inner();
        (r.header.as_ref()?.revision >= rev).then_some(())
    })
    .await;
    assert!(std::fs::read_to_string(&c.hosts[lagging].log).unwrap().contains("installed snapshot from leader"));
    let mut lkv = c.kv(lagging).await;
    let got = lkv.range(RangeRequest { key: b("/s/"), range_end: b("/s0"), serializable: true, revision: rev, ..Default::default() }).await.unwrap().into_inner();
    assert_eq!(got.kvs, want.kvs, "the snapshot carries every key with its revisions and versions");
    let ttl = c.lease(lagging).await.lease_time_to_live(LeaseTimeToLiveRequest { id: lease, keys: true }).await.unwrap().into_inner();
    assert_eq!(ttl.granted_ttl, 600);
    assert_eq!(ttl.keys.len(), want.kvs.iter().filter(|kv| kv.lease == lease).count());

    // Everyone SIGKILLed and restarted: state comes back from snapshot file + log tail.
    for i in 0..3 {
        c.kill(i);
    }
    for i in 0..3 {
        c.spawn(i);
    }
    let l = c.wait_leader(&[0, 1, 2]).await;
    let mut kv = c.kv(l).await;
    let after = eventually(60, "range after restart", || {
        let mut kv = kv.clone();
        async move { kv.range(RangeRequest { key: b("/s/"), range_end: b("/s0"), ..Default::default() }).await.ok() }
    })
    .await
    .into_inner();
    assert_eq!(after.kvs, want.kvs);
    kv.put(PutRequest { key: b("/s/after"), value: b("x"), ..Default::default() }).await.unwrap();
}
