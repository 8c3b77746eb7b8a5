//! etcd's Cluster service. Changes are made by the leader (forwarded there by followers).

use crate::handle::NodeHandle;
use crate::member_ops::MemberOps;
use crate::pb::etcdserverpb::{cluster_server::Cluster, *};
use std::sync::Arc;
use tonic::{Request, Response, Status};

pub struct ClusterService {
    pub node: NodeHandle,
    pub ops: Arc<MemberOps>,
}

#[tonic::async_trait]
impl Cluster for ClusterService {
    async fn member_add(&self, req: Request<MemberAddRequest>) -> Result<Response<MemberAddResponse>, Status> {
        Ok(Response::new(self.ops.add(req.into_inner()).await?))
    }

    async fn member_remove(&self, req: Request<MemberRemoveRequest>) -> Result<Response<MemberRemoveResponse>, Status> {
        Ok(Response::new(self.ops.remove(req.into_inner()).await?))
    }

    async fn member_list(&self, req: Request<MemberListRequest>) -> Result<Response<MemberListResponse>, Status> {
        if req.into_inner().linearizable {
            self.node.read_barrier().await?;
        }
        Ok(Response::new(MemberListResponse { header: self.node.current_header(), members: self.ops.members() }))
    }

    async fn member_promote(&self, req: Request<MemberPromoteRequest>) -> Result<Response<MemberPromoteResponse>, Status> {
        Ok(Response::new(self.ops.promote(req.into_inner()).await?))
    }
}
