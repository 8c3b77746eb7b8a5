//! Triad's own coordinator client (`triad-dcs`, built on `etcd-client`) against a
//! three-member triad-coordinator cluster: the operations every daemon relies on — fenced
//! leadership, lease expiry, failover between members and watches that resume — behave here
//! as they do against etcd (components/dcs/tests/against_etcd.rs runs the same checks there).

mod common;

use std::time::Duration;

use common::{TestCluster, eventually};
use triad_dcs::{Dcs, WatchEvent};

async fn client(c: &TestCluster) -> Dcs {
    let endpoints: Vec<String> = (0..c.hosts.len()).map(|i| c.url(i)).collect();
    Dcs::connect_to(&endpoints, "/triad/test/", Duration::from_secs(3)).await.unwrap()
}

#[tokio::test]
async fn fenced_leadership_leases_failover_and_watches() {
    let mut c = TestCluster::start(3);
    c.wait_ready().await;
    let dcs = client(&c).await;

    // Fenced leadership: the loser cannot take the key, the deposed holder cannot write.
    let lease_a = eventually(30, "lease grant", || async { dcs.grant(Duration::from_secs(30)).await.ok() }).await;
    let lease_b = dcs.grant(Duration::from_secs(30)).await.unwrap();
    let a = dcs.try_acquire("keeper/leader", "app1", lease_a).await.unwrap().expect("free key");
    assert!(dcs.try_acquire("keeper/leader", "app2", lease_b).await.unwrap().is_none());
    assert!(a.fenced_put("keeper/sync", "app2", None).await.unwrap());
    dcs.revoke(lease_a).await.unwrap();
    let b = dcs.try_acquire("keeper/leader", "app2", lease_b).await.unwrap().expect("released key");
    assert!(b.create_revision > a.create_revision);
    assert!(!a.fenced_put("keeper/sync", "stale", None).await.unwrap(), "deposed leader's write refused");
    assert_eq!(dcs.get("keeper/sync").await.unwrap().unwrap().text().unwrap(), "app2");

    // A key bound to a lease nobody renews disappears.
    let short = dcs.grant(Duration::from_secs(2)).await.unwrap();
    dcs.put("engine/members/app1", "up", Some(short)).await.unwrap();
    assert!(dcs.keep_alive_once(short).await.unwrap().is_some());
    eventually(30, "lease expiry", || async { dcs.get("engine/members/app1").await.unwrap().is_none().then_some(()) }).await;
    assert_eq!(dcs.keep_alive_once(short).await.unwrap(), None);

    // Lose the member in use: requests and the watch carry on through the others.
    let (_, rev) = dcs.list("engine/").await.unwrap();
    let mut watch = dcs.watch_prefix("engine/", rev + 1);
    dcs.put("engine/members/app2", "up", None).await.unwrap();
    let first = watch.next().await.unwrap();
    assert!(matches!(&first[..], [WatchEvent::Put(kv)] if kv.key == "engine/members/app2"));
    let used = dcs.current_endpoint().to_string();
    let idx = (0..3).find(|i| c.url(*i) == used).unwrap();
    c.kill(idx);
    eventually(60, "write after losing a member", || async { dcs.put("engine/members/app3", "up", None).await.ok() }).await;
    let next = tokio::time::timeout(Duration::from_secs(30), watch.next()).await.expect("watch resumed").unwrap();
    assert!(matches!(&next[..], [WatchEvent::Put(kv)] if kv.key == "engine/members/app3"), "{next:?}");
    assert!(b.fenced_put("keeper/sync", "app1", None).await.unwrap(), "leadership holds across the member loss");
}
