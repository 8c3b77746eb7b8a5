//! The peer service between members: Raft messages, the start-up probe, joins and forwarded
//! member changes. It runs before this member has joined a cluster (probes must be answered
//! while everyone decides whether to bootstrap), so it serves from a slot filled once the
//! Raft node is up.

use crate::handle::NodeHandle;
use crate::member_ops::MemberOps;
use crate::node::Inbox;
use crate::pb::etcdserverpb::*;
use crate::pb::internal::{peer_server::Peer, *};
use protobuf::Message as _;
use std::sync::{Arc, OnceLock};
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};

pub struct Running {
    pub node: NodeHandle,
    pub ops: Arc<MemberOps>,
    pub book: crate::transport::AddressBook,
}

#[derive(Clone)]
pub struct PeerService {
    /// Set as soon as this member has an identity (before its Raft node runs), so a starting
    /// member with data never looks empty to a probing one.
    pub identity: Arc<OnceLock<crate::identity::Identity>>,
    pub running: Arc<OnceLock<Running>>,
    pub name: String,
}

impl PeerService {
    fn running(&self) -> Result<&Running, Status> {
        self.running.get().ok_or_else(|| Status::unavailable("etcdserver: member not started"))
    }
}

#[tonic::async_trait]
impl Peer for PeerService {
    async fn raft(&self, req: Request<Streaming<RaftMessage>>) -> Result<Response<Empty>, Status> {
        let mut input = req.into_inner();
        while let Some(m) = input.next().await {
            let m = m?;
            // Messages that arrive before we run are dropped: Raft resends.
            let Some(r) = self.running.get() else { continue };
            let mut msg = raft::prelude::Message::default();
            if msg.merge_from_bytes(&m.data).is_err() {
                return Err(Status::invalid_argument("undecodable raft message"));
            }
            crate::transport::learn_address(&r.book, msg.from, &m.from_url);
            if r.node.send(Inbox::Raft(Box::new(msg))).is_err() {
                return Err(Status::unavailable("etcdserver: server stopped"));
            }
        }
        Ok(Response::new(Empty {}))
    }

    async fn probe(&self, _req: Request<ProbeRequest>) -> Result<Response<ProbeResponse>, Status> {
        let (leader_id, term) = self.running.get().map_or((0, 0), |r| {
            let st = r.node.status.get();
            (st.leader_id, st.term)
        });
        Ok(Response::new(match self.identity.get() {
            None => ProbeResponse { initialized: false, name: self.name.clone(), ..Default::default() },
            Some(id) => ProbeResponse {
                initialized: true,
                cluster_id: id.cluster_id,
                member_id: id.member_id,
                leader_id,
                name: self.name.clone(),
                term,
            },
        }))
    }

    async fn join(&self, req: Request<JoinRequest>) -> Result<Response<JoinResponse>, Status> {
        Ok(Response::new(self.running()?.ops.join(req.into_inner()).await?))
    }

    async fn member_add(&self, req: Request<MemberAddRequest>) -> Result<Response<MemberAddResponse>, Status> {
        Ok(Response::new(self.running()?.ops.add(req.into_inner()).await?))
    }

    async fn member_remove(&self, req: Request<MemberRemoveRequest>) -> Result<Response<MemberRemoveResponse>, Status> {
        Ok(Response::new(self.running()?.ops.remove(req.into_inner()).await?))
    }

    async fn member_promote(&self, req: Request<MemberPromoteRequest>) -> Result<Response<MemberPromoteResponse>, Status> {
        Ok(Response::new(self.running()?.ops.promote(req.into_inner()).await?))
    }
}
