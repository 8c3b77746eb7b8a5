//! Member replacement under write load: a host rebuilt with an empty disk under the same
//! name, a host replaced by one with another name and address (one changed entry in the
//! cluster file, rolled out host by host), and the manual Cluster API. Writers only ever see
//! retries, and every acknowledged write survives.

mod common;
use common::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::RwLock;
use triad_coordinator::pb::etcdserverpb::*;

/// Writes /load/<n> in a loop with retries; returns the acknowledged count and the number of
/// failed attempts (retries).
fn writer(c: Arc<RwLock<TestCluster>>, stop: Arc<AtomicBool>, acked: Arc<AtomicUsize>, retries: Arc<AtomicUsize>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut n = 0usize;
        let mut member = 0usize;
        while !stop.load(Ordering::Relaxed) {
            let (kv, running) = {
                let c = c.read().await;
                (c.kv(member).await, c.hosts[member].child.is_some())
            };
            let mut kv = kv;
            let put = PutRequest { key: b(&format!("/load/{n:06}")), value: b("v"), ..Default::default() };
            let ok = running && matches!(tokio::time::timeout(Duration::from_secs(5), kv.put(put)).await, Ok(Ok(_)));
            if ok {
                n += 1;
                acked.store(n, Ordering::Relaxed);
            } else {
                retries.fetch_add(1, Ordering::Relaxed);
                member = (member + 1) % c.read().await.hosts.len();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    })
}

async fn check_all_acked(c: &TestCluster, among: &[usize], acked: usize) {
    let l = c.wait_leader(among).await;
    let mut kv = c.kv(l).await;
    let r = kv.range(RangeRequest { key: b("/load/"), range_end: b("/load0"), count_only: true, ..Default::default() }).await.unwrap().into_inner();
    assert!(r.count as usize >= acked, "acknowledged {acked} writes but only {} are stored", r.count);
}

fn ids(ms: &[Member]) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = ms.iter().map(|m| (m.name.clone(), m.id)).collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn a_host_rebuilt_with_an_empty_disk_rejoins_with_a_new_id() {
    let c = TestCluster::start(3);
    let l = c.wait_ready().await;
    let before = ids(&c.wait_voters(l, &["c1", "c2", "c3"]).await);
    let c = Arc::new(RwLock::new(c));
    let (stop, acked, retries) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let w = writer(c.clone(), stop.clone(), acked.clone(), retries.clone());
    tokio::time::sleep(Duration::from_secs(1)).await;

    // c3 loses its disk and comes back empty under the same name.
    let victim = {
        let c = c.read().await;
        let l = c.wait_leader(&[0, 1, 2]).await;
        (0..3).find(|i| *i != l).unwrap()
    };
    c.write().await.wipe(victim);
    tokio::time::sleep(Duration::from_secs(1)).await;
    c.write().await.spawn(victim);
    let names = ["c1", "c2", "c3"];
    let after = {
        let c = c.read().await;
        let l = c.wait_leader(&[0, 1, 2]).await;
        eventually(90, "rebuilt member rejoined as a voter with a new id", || async {
            let ms = c.wait_voters(l, &names).await;
            let now = ids(&ms);
            (now != before).then_some(now)
        })
        .await
    };
    let name = format!("c{}", victim + 1);
    let old_id = before.iter().find(|(n, _)| *n == name).unwrap().1;
    let new_id = after.iter().find(|(n, _)| *n == name).unwrap().1;
    assert_ne!(old_id, new_id, "a member that lost its disk never comes back with its old id");
    assert!(after.iter().all(|(_, id)| *id != old_id));
    for (n, id) in &before {
        if *n != name {
            assert!(after.contains(&(n.clone(), *id)), "other members keep their ids");
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    w.await.unwrap();
    let acked = acked.load(Ordering::Relaxed);
    assert!(acked > 10, "writes continued during the replacement ({acked} acknowledged)");
    eprintln!("{acked} writes acknowledged, {} retries", retries.load(Ordering::Relaxed));
    let c = c.read().await;
    check_all_acked(&c, &[0, 1, 2], acked).await;
    // The rebuilt member serves the data.
    eventually(60, "rebuilt member caught up", || async { get_serializable(&c, victim, &format!("/load/{:06}", acked - 1)).await.map(|_| ()) }).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_host_replaced_under_another_name_converges_after_a_rolling_restart() {
    let c = TestCluster::start(3);
    c.wait_ready().await;
    let c = Arc::new(RwLock::new(c));
    let (stop, acked, retries) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let w = writer(c.clone(), stop.clone(), acked.clone(), retries.clone());
    tokio::time::sleep(Duration::from_secs(1)).await;

    // c3's host is gone for good; the cluster file now names c4 (another name and address).
    {
        let mut c = c.write().await;
        c.kill(2);
        let c4 = c.add_host("c4");
        c.write_config_with(&[0, 1, c4]);
        c.spawn(c4);
    }
    // Roll the new file out to the remaining hosts, one at a time.
    for i in [0, 1] {
        tokio::time::sleep(Duration::from_secs(2)).await;
        c.write().await.restart(i);
        let c = c.read().await;
        eventually(60, "restarted member serving", || async { c.status(i).await.filter(|s| s.leader != 0).map(|_| ()) }).await;
    }
    {
        let c = c.read().await;
        let l = c.wait_leader(&[0, 1, 3]).await;
        let ms = c.wait_voters(l, &["c1", "c2", "c4"]).await;
        assert!(ms.iter().all(|m| m.name != "c3"), "the replaced host was removed");
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    w.await.unwrap();
    let acked = acked.load(Ordering::Relaxed);
    eprintln!("{acked} writes acknowledged, {} retries", retries.load(Ordering::Relaxed));
    assert!(acked > 10, "writes continued during the replacement ({acked} acknowledged)");
    check_all_acked(&*c.read().await, &[0, 1, 3], acked).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn manual_member_add_promote_and_remove_follow_etcds_rules() {
    let c = TestCluster::start(3);
    let l = c.wait_ready().await;
    // etcdctl adds a learner (not started anywhere).
    let url = format!("http://{}.40:2380", c.prefix);
    let out = c.etcdctl(&[0, 1, 2], &["member", "add", "spare", "--learner", &format!("--peer-urls={url}")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let id_hex = stdout.split_whitespace().nth(1).unwrap().to_string();
    let id = u64::from_str_radix(&id_hex, 16).unwrap();
    let list = String::from_utf8_lossy(&c.etcdctl(&[0], &["member", "list"]).stdout).into_owned();
    assert!(list.contains(&format!("{id_hex}, unstarted, , {url}, , true")), "{list}");

    let mut cl = c.cluster(l).await;
    let e = cl.member_add(MemberAddRequest { peer_ur_ls: vec![url.clone()], is_learner: true }).await.unwrap_err();
    assert_eq!(e.message(), "etcdserver: Peer URLs already exists");
    let e = cl.member_add(MemberAddRequest { peer_ur_ls: vec!["not a url".into()], is_learner: true }).await.unwrap_err();
    assert_eq!(e.message(), "etcdserver: given member URLs are invalid");
    // A learner that never started cannot be promoted; a voter is not a learner.
    let e = cl.member_promote(MemberPromoteRequest { id }).await.unwrap_err();
    assert_eq!(e.message(), "etcdserver: can only promote a learner member which is in sync with leader");
    let voter = c.status(0).await.unwrap().header.unwrap().member_id;
    let e = cl.member_promote(MemberPromoteRequest { id: voter }).await.unwrap_err();
    assert_eq!(e.message(), "etcdserver: can only promote a learner member");
    // Adding a voter that is not running would leave 3 of 4 voters: allowed; but not while
    // another member is down (3 voters, 2 active, new size 4 needs 3).
    // Removing: a follower forwards to the leader.
    let follower = (0..3).find(|i| *i != l).unwrap();
    let mut fcl = c.cluster(follower).await;
    let r = fcl.member_remove(MemberRemoveRequest { id }).await.unwrap().into_inner();
    assert!(r.members.iter().all(|m| m.id != id));
    let e = fcl.member_remove(MemberRemoveRequest { id }).await.unwrap_err();
    assert_eq!(e.message(), "etcdserver: member not found");
}
