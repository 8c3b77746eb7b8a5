//! Member changes, executed by the leader one at a time (the checks need the leader's view of
//! who is alive, and Raft takes one configuration change at a time). A follower forwards the
//! request to the leader over the peer service.

use crate::errors::EtcdError;
use crate::handle::NodeHandle;
use crate::membership;
use crate::pb::etcdserverpb::*;
use crate::pb::internal::{JoinRequest, JoinResponse, peer_client::PeerClient};
use raft::prelude::ConfChangeType;
use std::net::IpAddr;
use tonic::Status;
use tonic::transport::Channel;

/// How long a learner this leader has just seen (a host that joined) is kept even though the
/// leader's cluster file omits it and it is not active yet: a learner on a loaded machine took
/// longer than the 3 s removal grace to answer, and a leader still running the old file then
/// removed it again and again during a rolling change. A host that is really gone is removed
/// this much later, which costs nothing.
const JOIN_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

pub struct MemberOps {
    node: NodeHandle,
    local_ip: IpAddr,
    serial: tokio::sync::Mutex<()>,
    /// The term this member leads and since when: Raft's `recent_active` flags mean nothing
    /// until a new leader has heard from its peers for a while.
    leading: std::sync::Mutex<Option<(u64, std::time::Instant)>>,
    /// When this member first saw each member id (as leader): the removal grace counts from it.
    first_seen: std::sync::Mutex<std::collections::BTreeMap<u64, std::time::Instant>>,
}

fn valid_url(u: &str) -> bool {
    let Some(rest) = u.strip_prefix("http://").or_else(|| u.strip_prefix("https://")) else { return false };
    let host_port = rest.trim_end_matches('/');
    host_port.rsplit_once(':').is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
}

impl MemberOps {
    pub fn new(node: NodeHandle, local_ip: IpAddr) -> MemberOps {
        MemberOps { node, local_ip, serial: tokio::sync::Mutex::new(()), leading: std::sync::Mutex::new(None), first_seen: Default::default() }
    }

    pub fn members(&self) -> Vec<Member> {
        self.node.core.read().sm.members.values().cloned().collect()
    }

    /// A client to the current leader's peer service, or None when we are the leader.
    async fn leader(&self) -> Result<Option<PeerClient<Channel>>, Status> {
        let st = self.node.status.get();
        if st.is_leader {
            return Ok(None);
        }
        if st.leader_id == 0 {
            return Err(EtcdError::NoLeader.into());
        }
        let url = self.node.core.read().sm.members.get(&st.leader_id).and_then(|m| m.peer_ur_ls.first().cloned());
        let url = url.ok_or(EtcdError::NoLeader)?;
        let client = crate::transport::connect(&url, self.local_ip).await.map_err(|_| Status::from(EtcdError::NoLeader))?;
        Ok(Some(client))
    }

    pub async fn add(&self, req: MemberAddRequest) -> Result<MemberAddResponse, Status> {
        if req.peer_ur_ls.is_empty() || !req.peer_ur_ls.iter().all(|u| valid_url(u)) {
            return Err(EtcdError::MemberBadUrls.into());
        }
        if let Some(mut leader) = self.leader().await? {
            return Ok(leader.member_add(req).await?.into_inner());
        }
        let _one_at_a_time = self.serial.lock().await;
        let st = self.node.status.get();
        let members = self.node.core.read().sm.members.clone();
        if members.values().any(|m| m.peer_ur_ls.iter().any(|u| req.peer_ur_ls.contains(u))) {
            return Err(EtcdError::PeerUrlExist.into());
        }
        if !req.is_learner {
            membership::check_add_voter_keeps_quorum(&members, &st.progress)?;
        }
        let id = membership::new_member_id(&members);
        let member = Member { id, name: String::new(), peer_ur_ls: req.peer_ur_ls, client_ur_ls: vec![], is_learner: req.is_learner };
        let change = if req.is_learner { ConfChangeType::AddLearnerNode } else { ConfChangeType::AddNode };
        self.node.conf_change(change, id, member.clone()).await?;
        Ok(MemberAddResponse { header: self.node.current_header(), member: Some(member), members: self.members() })
    }

    pub async fn remove(&self, req: MemberRemoveRequest) -> Result<MemberRemoveResponse, Status> {
        if let Some(mut leader) = self.leader().await? {
            return Ok(leader.member_remove(req).await?.into_inner());
        }
        let _one_at_a_time = self.serial.lock().await;
        self.remove_locked(req.id).await?;
        Ok(MemberRemoveResponse { header: self.node.current_header(), members: self.members() })
    }

    async fn remove_locked(&self, id: u64) -> Result<(), EtcdError> {
        let st = self.node.status.get();
        let members = self.node.core.read().sm.members.clone();
        membership::check_remove_keeps_quorum(&members, &st.progress, id)?;
        if id == self.node.id {
            // Removing the leader: hand leadership over first so the cluster never waits for an
            // election timeout; the caller retries against the new leader.
            if let Some(other) = members.values().find(|m| !m.is_learner && m.id != id && st.progress.get(&m.id).is_some_and(|p| p.recent_active)) {
                self.node.send(crate::node::Inbox::TransferLeader(other.id))?;
                return Err(EtcdError::NotLeader);
            }
        }
        self.node.conf_change(ConfChangeType::RemoveNode, id, Member::default()).await
    }

    pub async fn promote(&self, req: MemberPromoteRequest) -> Result<MemberPromoteResponse, Status> {
        if let Some(mut leader) = self.leader().await? {
            return Ok(leader.member_promote(req).await?.into_inner());
        }
        let _one_at_a_time = self.serial.lock().await;
        self.promote_locked(req.id).await?;
        Ok(MemberPromoteResponse { header: self.node.current_header(), members: self.members() })
    }

    async fn promote_locked(&self, id: u64) -> Result<(), EtcdError> {
        let st = self.node.status.get();
        let member = self.node.core.read().sm.members.get(&id).cloned().ok_or(EtcdError::MemberNotFound)?;
        if !member.is_learner {
            return Err(EtcdError::MemberNotLearner);
        }
        if !membership::learner_ready(&st.progress, self.node.id, id) {
            return Err(EtcdError::LearnerNotReady);
        }
        self.node.conf_change(ConfChangeType::AddNode, id, Member::default()).await
    }

    /// A member with an empty disk asks to (re)join: any member of the same name or peer URL
    /// is a stale identity of it and is removed first; then it is added as a learner with a
    /// fresh id, so a rebuilt host never votes with its old id.
    pub async fn join(&self, req: JoinRequest) -> Result<JoinResponse, Status> {
        if !valid_url(&req.peer_url) || req.name.is_empty() {
            return Err(EtcdError::MemberBadUrls.into());
        }
        if let Some(mut leader) = self.leader().await? {
            return Ok(leader.join(req).await?.into_inner());
        }
        let _one_at_a_time = self.serial.lock().await;
        let stale: Vec<u64> = self
            .members()
            .into_iter()
            .filter(|m| m.name == req.name || m.peer_ur_ls.contains(&req.peer_url))
            .map(|m| m.id)
            .collect();
        for id in stale {
            tracing::info!(name = %req.name, id = format!("{id:x}"), "removing the stale member before it rejoins");
            self.remove_locked(id).await?;
        }
        let members = self.node.core.read().sm.members.clone();
        let id = membership::new_member_id(&members);
        let member = Member {
            id,
            name: req.name.clone(),
            peer_ur_ls: vec![req.peer_url],
            client_ur_ls: if req.client_url.is_empty() { vec![] } else { vec![req.client_url] },
            is_learner: true,
        };
        self.node.conf_change(ConfChangeType::AddLearnerNode, id, member).await?;
        tracing::info!(name = %req.name, id = format!("{id:x}"), "added as learner");
        Ok(JoinResponse { member_id: id, cluster_id: self.node.core.read().sm.cluster_id })
    }

    /// One reconciliation step towards the cluster file's member list (leader only). A new
    /// leader removes nobody during its first `grace`: right after an election every peer
    /// looks inactive, and the host that just joined (still missing from this leader's older
    /// cluster file during a rolling change) must not be thrown out for that.
    pub async fn reconcile(&self, wanted: &std::collections::BTreeSet<String>, grace: std::time::Duration) -> Result<(), EtcdError> {
        let st = self.node.status.get();
        if !st.is_leader {
            *self.leading.lock().unwrap() = None;
            return Ok(());
        }
        let settled = {
            let mut leading = self.leading.lock().unwrap();
            let since = match *leading {
                Some((term, since)) if term == st.term => since,
                _ => {
                    let now = std::time::Instant::now();
                    *leading = Some((st.term, now));
                    now
                }
            };
            since.elapsed() >= grace
        };
        let _one_at_a_time = self.serial.lock().await;
        let members = self.node.core.read().sm.members.clone();
        let young: std::collections::BTreeSet<u64> = {
            let mut first_seen = self.first_seen.lock().unwrap();
            let now = std::time::Instant::now();
            first_seen.retain(|id, _| members.contains_key(id));
            let join_grace = grace.max(JOIN_GRACE);
            // Only learners: a host joins as one, while the host it replaces is a voter whose
            // removal must not wait.
            members.iter().filter(|(_, m)| m.is_learner).map(|(id, _)| *id).filter(|id| now.duration_since(*first_seen.entry(*id).or_insert(now)) < join_grace).collect()
        };
        match membership::reconcile(&members, &st.progress, self.node.id, wanted, &young) {
            Some(membership::Action::Remove(_)) if !settled => Ok(()),
            Some(membership::Action::Remove(id)) => {
                tracing::info!(id = format!("{id:x}"), name = %members[&id].name, "removing a member that is down and no longer named in the cluster file");
                self.node.conf_change(ConfChangeType::RemoveNode, id, Member::default()).await
            }
            Some(membership::Action::Promote(id)) => {
                tracing::info!(id = format!("{id:x}"), name = %members[&id].name, "promoting caught-up learner");
                self.node.conf_change(ConfChangeType::AddNode, id, Member::default()).await
            }
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_must_have_scheme_host_and_port() {
        assert!(super::valid_url("http://10.0.0.1:2380"));
        assert!(super::valid_url("http://[::1]:2380"));
        assert!(!super::valid_url("10.0.0.1:2380"));
        assert!(!super::valid_url("http://host"));
        assert!(!super::valid_url("http://:2380"));
    }
}
