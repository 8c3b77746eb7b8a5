//! The part of etcd's Maintenance service that `etcdctl endpoint status/health` use.

use crate::handle::NodeHandle;
use crate::pb::etcdserverpb::{maintenance_server::Maintenance, *};
use tonic::{Request, Response, Status};

/// The etcd API version we speak (what `etcdctl endpoint status` shows).
pub const API_VERSION: &str = "3.4.0";

pub struct MaintenanceService {
    pub node: NodeHandle,
}

#[tonic::async_trait]
impl Maintenance for MaintenanceService {
    async fn alarm(&self, _req: Request<AlarmRequest>) -> Result<Response<AlarmResponse>, Status> {
        // No space quota, no corruption checks: there is never an alarm to report.
        Ok(Response::new(AlarmResponse { header: self.node.current_header(), alarms: vec![] }))
    }

    async fn status(&self, _req: Request<StatusRequest>) -> Result<Response<StatusResponse>, Status> {
        let st = self.node.status.get();
        let core = self.node.core.read();
        let size = core.sm.mvcc.approximate_bytes() as i64;
        let is_learner = core.sm.members.get(&self.node.id).is_some_and(|m| m.is_learner);
        drop(core);
        let mut errors = vec![];
        if st.leader_id == 0 {
            errors.push("etcdserver: no leader".to_string());
        }
        Ok(Response::new(StatusResponse {
            header: self.node.current_header(),
            version: API_VERSION.into(),
            db_size: size,
            leader: st.leader_id,
            raft_index: st.commit,
            raft_term: st.term,
            raft_applied_index: st.applied,
            errors,
            db_size_in_use: size,
            is_learner,
        }))
    }
}
