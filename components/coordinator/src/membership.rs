//! Membership rules as pure functions: validating and applying member changes (deterministic,
//! run by every member while applying), the safety checks the leader makes before proposing
//! one, and the reconciliation of the member list with the cluster file.

use crate::core::PeerProgress;
use crate::errors::EtcdError;
use crate::pb::etcdserverpb::Member;
use raft::prelude::ConfChangeType;
use std::collections::{BTreeMap, BTreeSet};

/// Whether a member change can be applied to `members`. Decided while applying, so every
/// member reaches the same verdict.
pub fn check_change(members: &BTreeMap<u64, Member>, t: ConfChangeType, id: u64, m: &Member) -> Result<(), EtcdError> {
    match t {
        ConfChangeType::AddNode | ConfChangeType::AddLearnerNode => {
            if let Some(existing) = members.get(&id) {
                // AddNode on a learner is a promotion.
                return if t == ConfChangeType::AddNode && existing.is_learner { Ok(()) } else { Err(EtcdError::MemberExist) };
            }
            if m.peer_ur_ls.is_empty() {
                return Err(EtcdError::MemberBadUrls);
            }
            let taken = members.values().any(|o| o.peer_ur_ls.iter().any(|u| m.peer_ur_ls.contains(u)));
            if taken { Err(EtcdError::PeerUrlExist) } else { Ok(()) }
        }
        ConfChangeType::RemoveNode => {
            if members.contains_key(&id) { Ok(()) } else { Err(EtcdError::MemberNotFound) }
        }
    }
}

pub fn apply_change(members: &mut BTreeMap<u64, Member>, t: ConfChangeType, id: u64, m: Member) {
    match t {
        ConfChangeType::AddNode => match members.get_mut(&id) {
            Some(existing) => existing.is_learner = false,
            None => {
                members.insert(id, Member { id, is_learner: false, ..m });
            }
        },
        ConfChangeType::AddLearnerNode => {
            members.insert(id, Member { id, is_learner: true, ..m });
        }
        ConfChangeType::RemoveNode => {
            members.remove(&id);
        }
    }
}

fn quorum(voters: usize) -> usize {
    voters / 2 + 1
}

/// Leader-side check before removing a voter: the voters left must still hold a quorum of
/// members the leader hears from (etcd's strict reconfiguration check).
pub fn check_remove_keeps_quorum(
    members: &BTreeMap<u64, Member>,
    progress: &BTreeMap<u64, PeerProgress>,
    id: u64,
) -> Result<(), EtcdError> {
    let m = members.get(&id).ok_or(EtcdError::MemberNotFound)?;
    if m.is_learner {
        return Ok(());
    }
    let voters: Vec<u64> = members.values().filter(|m| !m.is_learner && m.id != id).map(|m| m.id).collect();
    let active = voters.iter().filter(|v| progress.get(v).is_some_and(|p| p.recent_active)).count();
    if voters.is_empty() || active < quorum(voters.len()) {
        return Err(EtcdError::MemberNotEnoughStarted);
    }
    Ok(())
}

/// Leader-side check before adding a voter: with the new (not yet started) voter counted, the
/// active voters must still be a quorum.
pub fn check_add_voter_keeps_quorum(members: &BTreeMap<u64, Member>, progress: &BTreeMap<u64, PeerProgress>) -> Result<(), EtcdError> {
    let voters: Vec<u64> = members.values().filter(|m| !m.is_learner).map(|m| m.id).collect();
    let active = voters.iter().filter(|v| progress.get(v).is_some_and(|p| p.recent_active)).count();
    if active < quorum(voters.len() + 1) {
        return Err(EtcdError::MemberNotEnoughStarted);
    }
    Ok(())
}

/// A learner may be promoted once it has at least 90% of the leader's log (etcd's rule).
pub fn learner_ready(progress: &BTreeMap<u64, PeerProgress>, leader_id: u64, id: u64) -> bool {
    let leader = progress.get(&leader_id).map(|p| p.matched).unwrap_or(0);
    let learner = progress.get(&id).map(|p| p.matched).unwrap_or(0);
    learner > 0 && learner as f64 >= leader as f64 * 0.9
}

/// One step towards the member list the cluster file describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Remove(u64),
    Promote(u64),
}

/// The next step, if any: first drop members the file no longer names once they are down
/// (and only when that keeps a healthy quorum), then promote caught-up learners it does name.
///
/// A member that is up is never removed automatically: during a rolling change of the cluster
/// file the leader may still run with the old file, and must not throw out the new host that
/// just joined. Nor is a `young` member (a learner this leader has known only briefly): a host that has just joined is not "up" until it has answered the leader, and a
/// leader still running the old file once removed one 95 ms after adding it. Members without
/// a name were added by hand and are still starting; they are left alone. The leader is
/// always up, so it never removes itself.
pub fn reconcile(
    members: &BTreeMap<u64, Member>,
    progress: &BTreeMap<u64, PeerProgress>,
    leader_id: u64,
    wanted: &BTreeSet<String>,
    young: &BTreeSet<u64>,
) -> Option<Action> {
    for m in members.values() {
        let up = progress.get(&m.id).is_some_and(|p| p.recent_active);
        if m.name.is_empty() || wanted.contains(&m.name) || m.id == leader_id || up || young.contains(&m.id) {
            continue;
        }
        if check_remove_keeps_quorum(members, progress, m.id).is_ok() {
            return Some(Action::Remove(m.id));
        }
    }
    members
        .values()
        .find(|m| m.is_learner && wanted.contains(&m.name) && learner_ready(progress, leader_id, m.id))
        .map(|m| Action::Promote(m.id))
}

/// FNV-1a: a stable hash for ids every initial member must compute identically.
fn fnv1a(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0)) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Member id of an initial (bootstrap) member: the same on every host of the cluster file.
pub fn initial_member_id(cluster: &str, host: &str, peer_url: &str) -> u64 {
    fnv1a(&[cluster, host, peer_url]).max(1)
}

/// Cluster id from the initial member ids, as etcd derives it.
pub fn cluster_id(member_ids: &[u64]) -> u64 {
    let mut ids = member_ids.to_vec();
    ids.sort_unstable();
    let s: Vec<String> = ids.iter().map(|i| format!("{i:x}")).collect();
    fnv1a(&s.iter().map(String::as_str).collect::<Vec<_>>()).max(1)
}

/// A fresh member id for a joining member: random, non-zero, unused.
pub fn new_member_id(members: &BTreeMap<u64, Member>) -> u64 {
    loop {
        let id: u64 = rand::random();
        if id != 0 && !members.contains_key(&id) {
            return id;
        }
    }
}

/// What a member that finds its data directory empty does, from its peers' answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartDecision {
    /// Nobody has data and enough initial members are present: create the cluster.
    Bootstrap,
    /// Some member has data: ask the cluster to add us as a learner with a new id.
    Join,
    /// Not enough answers yet: probe again.
    Wait,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeAnswer {
    Uninitialized,
    /// Bootstrapped but still at term 1: no election was ever held, so nobody ever voted and
    /// nothing was committed. Joining it with our initial id is the same as a late start —
    /// and necessary when it waits for us to reach a quorum.
    Fresh,
    Initialized,
    Unreachable,
}

/// `initial` is the number of coordinator hosts in the cluster file (we are one of them);
/// `answers` are the other hosts' replies.
pub fn decide_start(initial: usize, answers: &[ProbeAnswer]) -> StartDecision {
    if answers.contains(&ProbeAnswer::Initialized) {
        return StartDecision::Join;
    }
    let ready = 1 + answers.iter().filter(|a| matches!(a, ProbeAnswer::Uninitialized | ProbeAnswer::Fresh)).count();
    if ready >= quorum(initial) { StartDecision::Bootstrap } else { StartDecision::Wait }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProbeAnswer::*;

    fn member(id: u64, name: &str, learner: bool) -> Member {
        Member { id, name: name.into(), peer_ur_ls: vec![format!("http://{name}:2380")], client_ur_ls: vec![], is_learner: learner }
    }

    fn members(ms: &[Member]) -> BTreeMap<u64, Member> {
        ms.iter().map(|m| (m.id, m.clone())).collect()
    }

    fn progress(entries: &[(u64, u64, bool)]) -> BTreeMap<u64, PeerProgress> {
        entries.iter().map(|(id, matched, active)| (*id, PeerProgress { matched: *matched, recent_active: *active, is_learner: false })).collect()
    }

    fn names(n: &[&str]) -> BTreeSet<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn start_decision() {
        assert_eq!(decide_start(3, &[Uninitialized, Unreachable]), StartDecision::Bootstrap);
        assert_eq!(decide_start(3, &[Unreachable, Unreachable]), StartDecision::Wait);
        assert_eq!(decide_start(3, &[Initialized, Unreachable]), StartDecision::Join);
        assert_eq!(decide_start(3, &[Uninitialized, Initialized]), StartDecision::Join);
        assert_eq!(decide_start(1, &[]), StartDecision::Bootstrap);
        assert_eq!(decide_start(5, &[Uninitialized, Unreachable, Unreachable, Unreachable]), StartDecision::Wait);
        // A peer that bootstrapped without us and never elected a leader waits for us.
        assert_eq!(decide_start(3, &[Fresh, Unreachable]), StartDecision::Bootstrap);
        assert_eq!(decide_start(3, &[Fresh, Initialized]), StartDecision::Join);
    }

    #[test]
    fn initial_ids_are_stable_and_distinct() {
        let a = initial_member_id("c", "h1", "http://10.0.0.1:2380");
        assert_eq!(a, initial_member_id("c", "h1", "http://10.0.0.1:2380"));
        assert_ne!(a, initial_member_id("c", "h2", "http://10.0.0.2:2380"));
        assert_ne!(a, initial_member_id("other", "h1", "http://10.0.0.1:2380"));
        assert_eq!(cluster_id(&[3, 1, 2]), cluster_id(&[1, 2, 3]));
    }

    #[test]
    fn changes_are_validated_like_etcd() {
        let ms = members(&[member(1, "a", false), member(2, "b", true)]);
        assert_eq!(check_change(&ms, ConfChangeType::AddNode, 2, &Member::default()), Ok(()), "promotion");
        assert_eq!(check_change(&ms, ConfChangeType::AddNode, 1, &Member::default()), Err(EtcdError::MemberExist));
        assert_eq!(check_change(&ms, ConfChangeType::AddLearnerNode, 9, &member(9, "a", true)), Err(EtcdError::PeerUrlExist));
        assert_eq!(check_change(&ms, ConfChangeType::AddLearnerNode, 9, &Member::default()), Err(EtcdError::MemberBadUrls));
        assert_eq!(check_change(&ms, ConfChangeType::RemoveNode, 7, &Member::default()), Err(EtcdError::MemberNotFound));
        let mut ms = ms;
        apply_change(&mut ms, ConfChangeType::AddNode, 2, Member::default());
        assert!(!ms[&2].is_learner);
        assert_eq!(ms[&2].name, "b");
    }

    #[test]
    fn removing_a_voter_needs_a_healthy_quorum_left() {
        let ms = members(&[member(1, "a", false), member(2, "b", false), member(3, "c", false)]);
        // c is dead: removing it leaves a and b, both active.
        let p = progress(&[(1, 10, true), (2, 10, true), (3, 0, false)]);
        assert_eq!(check_remove_keeps_quorum(&ms, &p, 3), Ok(()));
        // b is dead too: removing c would leave a alone of {a, b}.
        let p = progress(&[(1, 10, true), (2, 0, false), (3, 0, false)]);
        assert_eq!(check_remove_keeps_quorum(&ms, &p, 3), Err(EtcdError::MemberNotEnoughStarted));
        assert_eq!(check_add_voter_keeps_quorum(&ms, &p), Err(EtcdError::MemberNotEnoughStarted));
    }

    #[test]
    fn reconcile_replaces_a_renamed_host_step_by_step() {
        // c was replaced by d in the file; d joined as a learner and caught up; c is gone.
        let ms = members(&[member(1, "a", false), member(2, "b", false), member(3, "c", false), member(4, "d", true)]);
        let p = progress(&[(1, 100, true), (2, 100, true), (3, 40, false), (4, 95, true)]);
        let wanted = names(&["a", "b", "d"]);
        assert_eq!(reconcile(&ms, &p, 1, &wanted, &BTreeSet::new()), Some(Action::Remove(3)));
        let mut ms = ms;
        ms.remove(&3);
        assert_eq!(reconcile(&ms, &p, 1, &wanted, &BTreeSet::new()), Some(Action::Promote(4)));
        apply_change(&mut ms, ConfChangeType::AddNode, 4, Member::default());
        assert_eq!(reconcile(&ms, &p, 1, &wanted, &BTreeSet::new()), None);
    }

    #[test]
    fn reconcile_waits_for_learners_and_never_breaks_quorum() {
        let ms = members(&[member(1, "a", false), member(2, "b", false), member(3, "c", false), member(4, "d", true)]);
        // d is far behind: no promotion yet. c unwanted but b is down: removing c would leave
        // only a active of {a, b}.
        let p = progress(&[(1, 100, true), (2, 100, false), (3, 100, true), (4, 10, true)]);
        assert_eq!(reconcile(&ms, &p, 1, &names(&["a", "b", "d"]), &BTreeSet::new()), None);
        // Unnamed members (added by hand, not started yet) are left alone.
        let ms = members(&[member(1, "a", false), member(5, "", true)]);
        assert_eq!(reconcile(&ms, &progress(&[(1, 5, true)]), 1, &names(&["a"]), &BTreeSet::new()), None);
        // A member that is up is not removed even if this (possibly stale) file omits it: a
        // leader still running the old file must not remove the new host that just joined.
        let ms = members(&[member(1, "a", false), member(2, "b", false), member(3, "c", false), member(4, "d", true)]);
        let p = progress(&[(1, 9, true), (2, 9, true), (3, 0, false), (4, 9, true)]);
        assert_eq!(reconcile(&ms, &p, 1, &names(&["a", "b", "c"]), &BTreeSet::new()), None);
    }

    #[test]
    fn a_member_that_just_joined_is_not_removed_by_a_leader_with_the_old_file() {
        // d just joined (a learner, not yet active); the leader's file still names a, b, c.
        let ms = members(&[member(1, "a", false), member(2, "b", false), member(3, "c", false), member(4, "d", true)]);
        let p = progress(&[(1, 100, true), (2, 100, true), (3, 100, true), (4, 0, false)]);
        let wanted = names(&["a", "b", "c"]);
        assert_eq!(reconcile(&ms, &p, 1, &wanted, &BTreeSet::from([4])), None, "young: kept");
        // Known for longer than the grace and still down: it is removed.
        assert_eq!(reconcile(&ms, &p, 1, &wanted, &BTreeSet::new()), Some(Action::Remove(4)));
    }
}
