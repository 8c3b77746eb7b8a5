//! The client against a real etcd cluster: conditional writes, fenced leadership, leases,
//! endpoint failover and watches that resume on another member.

use std::time::{Duration, Instant};

use triad_testkit::etcd as common;
use triad_dcs::{Dcs, DcsError, Op, WatchEvent};

async fn client(members: &[common::Etcd]) -> Dcs {
    let endpoints: Vec<String> = members.iter().map(|m| m.endpoint()).collect();
    Dcs::connect_to(&endpoints, "/triad/test/", Duration::from_secs(3)).await.unwrap()
}

/// Polls `f` until it returns true, at most `limit` (a bound on a wait, not a timed assertion).
async fn eventually<F: AsyncFnMut() -> bool>(limit: Duration, mut f: F) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn keys_live_under_the_cluster_prefix_and_conditional_writes_hold() {
    let members = common::etcd_cluster(1);
    let dcs = client(&members).await;
    let rev = dcs.put("keeper/members/app1", "{\"role\":\"replica\"}", None).await.unwrap();
    assert!(rev > 0);
    let kv = dcs.get("keeper/members/app1").await.unwrap().unwrap();
    assert_eq!(kv.key, "keeper/members/app1");
    assert_eq!(kv.text().unwrap(), "{\"role\":\"replica\"}");
    assert_eq!(kv.mod_revision, rev);

    dcs.put("keeper/members/app2", "b", None).await.unwrap();
    dcs.put("keeperx", "outside", None).await.unwrap();
    let (listed, at) = dcs.list("keeper/members/").await.unwrap();
    assert_eq!(listed.iter().map(|k| k.key.as_str()).collect::<Vec<_>>(), ["keeper/members/app1", "keeper/members/app2"]);
    assert!(at >= rev);

    assert!(dcs.put_if_absent("keeper/initialize", "7001", None).await.unwrap().done());
    let again = dcs.put_if_absent("keeper/initialize", "7002", None).await.unwrap();
    assert!(!again.done());
    assert_eq!(dcs.get("keeper/initialize").await.unwrap().unwrap().text().unwrap(), "7001");

    let cur = dcs.get("keeper/initialize").await.unwrap().unwrap();
    assert!(!dcs.put_if_unchanged("keeper/initialize", cur.mod_revision - 1, "x").await.unwrap().done());
    assert!(dcs.put_if_unchanged("keeper/initialize", cur.mod_revision, "7003").await.unwrap().done());

    assert!(dcs.delete("keeper/members/app2").await.unwrap());
    assert!(!dcs.delete("keeper/members/app2").await.unwrap());
    assert!(dcs.get("keeper/members/app2").await.unwrap().is_none());
}

#[tokio::test]
async fn a_deposed_leader_cannot_write() {
    let members = common::etcd_cluster(1);
    let dcs = client(&members).await;
    let lease_a = dcs.grant(Duration::from_secs(10)).await.unwrap();
    let lease_b = dcs.grant(Duration::from_secs(10)).await.unwrap();

    let a = dcs.try_acquire("keeper/leader", "app1", lease_a).await.unwrap().expect("free key is taken");
    assert!(dcs.try_acquire("keeper/leader", "app2", lease_b).await.unwrap().is_none(), "held key cannot be taken");
    // A retry of a winning attempt whose answer was lost finds its own key: still the leader.
    let a_retry = dcs.try_acquire("keeper/leader", "app1", lease_a).await.unwrap().expect("own key");
    assert_eq!(a_retry.create_revision, a.create_revision);
    assert!(a.fenced_put("keeper/sync", "app2", None).await.unwrap());
    assert!(a.update_value("app1").await.unwrap(), "rewriting the value keeps the token");
    assert!(a.still_held().await.unwrap());

    // A's lease ends (as if it stopped renewing): its key goes, B takes over.
    dcs.revoke(lease_a).await.unwrap();
    let b = dcs.try_acquire("keeper/leader", "app2", lease_b).await.unwrap().expect("released key is taken");
    assert!(b.create_revision > a.create_revision);

    // A's late writes are refused and change nothing.
    assert!(!a.fenced_put("keeper/sync", "stale", None).await.unwrap());
    assert!(!a.fenced(&[Op::delete("keeper/sync"), Op::put("keeper/history", "stale")]).await.unwrap());
    assert!(!a.still_held().await.unwrap());
    assert!(!a.resign().await.unwrap(), "a deposed leader cannot delete its successor's key");
    assert_eq!(dcs.get("keeper/sync").await.unwrap().unwrap().text().unwrap(), "app2");
    assert!(dcs.get("keeper/history").await.unwrap().is_none());

    assert!(b.fenced_put("keeper/sync", "app1", None).await.unwrap());
    assert!(b.resign().await.unwrap());
    assert!(dcs.holder("keeper/leader").await.unwrap().is_none());
}

#[tokio::test]
async fn a_restarted_holder_reclaims_its_key_with_a_new_lease() {
    let members = common::etcd_cluster(1);
    let dcs = client(&members).await;
    let old = dcs.grant(Duration::from_secs(30)).await.unwrap();
    let first = dcs.try_acquire("designer/leader", "app1", old).await.unwrap().unwrap();
    let new = dcs.grant(Duration::from_secs(30)).await.unwrap();
    assert!(dcs.reclaim("designer/leader", "app2", new).await.unwrap().is_none(), "only its own key");
    let again = dcs.reclaim("designer/leader", "app1", new).await.unwrap().expect("own key");
    assert_eq!(again.create_revision, first.create_revision);
    assert_eq!(dcs.get("designer/leader").await.unwrap().unwrap().lease, new);
    // The key now lives on the new lease only.
    dcs.revoke(old).await.unwrap();
    assert!(again.still_held().await.unwrap());
}

#[tokio::test]
async fn keys_of_an_unrenewed_lease_expire() {
    let members = common::etcd_cluster(1);
    let dcs = client(&members).await;
    let lease = dcs.grant(Duration::from_secs(2)).await.unwrap();
    dcs.put("engine/members/app1", "up", Some(lease)).await.unwrap();
    let ttl = dcs.keep_alive_once(lease).await.unwrap().expect("live lease renews");
    assert!(ttl >= Duration::from_secs(1));
    assert!(eventually(Duration::from_secs(20), async || dcs.get("engine/members/app1").await.unwrap().is_none()).await, "key outlived its lease");
    assert_eq!(dcs.keep_alive_once(lease).await.unwrap(), None, "an expired lease does not renew");
    assert_eq!(dcs.lease_ttl(lease).await.unwrap(), None);
    dcs.revoke(lease).await.unwrap();
}

#[tokio::test]
async fn requests_fail_over_to_live_members_and_fail_cleanly_without_quorum() {
    let mut members = common::etcd_cluster(3);
    let dcs = client(&members).await;
    dcs.put("k", "1", None).await.unwrap();
    let first = dcs.current_endpoint().to_string();
    let idx = members.iter().position(|m| m.endpoint() == first).unwrap();
    members[idx].kill();
    assert!(
        eventually(Duration::from_secs(20), async || dcs.put("k", "2", None).await.is_ok()).await,
        "writes go on with two of three members"
    );
    assert_ne!(dcs.current_endpoint(), first);
    assert_eq!(dcs.get("k").await.unwrap().unwrap().text().unwrap(), "2");

    let second = members.iter().position(|m| m.endpoint() != first).unwrap();
    members[second].kill();
    let started = Instant::now();
    let err = dcs.put("k", "3", None).await.unwrap_err();
    assert!(err.is_unavailable(), "without quorum: {err}");
    assert!(started.elapsed() < Duration::from_secs(15), "a request is bounded by its timeout");
}

#[tokio::test]
async fn a_watch_resumes_on_another_member_without_losing_or_repeating_events() {
    let mut members = common::etcd_cluster(3);
    let dcs = client(&members).await;
    let (_, rev) = dcs.list("engine/").await.unwrap();
    let mut watch = dcs.watch_prefix("engine/", rev + 1);
    dcs.put("engine/members/app1", "a", None).await.unwrap();
    dcs.put("elsewhere", "x", None).await.unwrap();
    let got = watch.next().await.unwrap();
    assert!(matches!(&got[..], [WatchEvent::Put(kv)] if kv.key == "engine/members/app1" && kv.version == 1));

    // Lose the member the client (and its watch) uses; changes made meanwhile still arrive.
    let used = dcs.current_endpoint().to_string();
    members.iter_mut().find(|m| m.endpoint() == used).unwrap().kill();
    assert!(eventually(Duration::from_secs(20), async || dcs.put("engine/members/app2", "b", None).await.is_ok()).await);
    dcs.delete("engine/members/app1").await.unwrap();

    let mut seen = Vec::new();
    while seen.len() < 2 {
        let batch = tokio::time::timeout(Duration::from_secs(20), watch.next()).await.expect("watch resumed").unwrap();
        seen.extend(batch);
    }
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(matches!(&seen[0], WatchEvent::Put(kv) if kv.key == "engine/members/app2"));
    assert!(matches!(&seen[1], WatchEvent::Delete { key, prev: Some(p), .. } if key == "engine/members/app1" && p.value == b"a"));
}

#[tokio::test]
async fn a_refusal_is_not_mistaken_for_unavailability() {
    let members = common::etcd_cluster(1);
    let dcs = client(&members).await;
    let err = dcs.put("k", "v", Some(0x7fff_0000)).await.unwrap_err();
    assert!(matches!(err, DcsError::Refused(ref why) if why.contains("lease not found")), "{err}");
}
