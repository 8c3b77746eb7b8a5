//! etcd's Lease service. Grants, revokes and keep-alives go through Raft; the leader expires
//! leases (see the Raft thread).

use crate::errors::{EtcdError, MAX_LEASE_TTL};
use crate::handle::NodeHandle;
use crate::pb::etcdserverpb::{lease_server::Lease, *};
use crate::pb::internal::command::Op;
use crate::state::Output;
use std::pin::Pin;
use std::time::Instant;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

pub struct LeaseService {
    pub node: NodeHandle,
}

type KeepAliveStream = Pin<Box<dyn Stream<Item = Result<LeaseKeepAliveResponse, Status>> + Send>>;

impl LeaseService {
    fn fresh_id(&self) -> i64 {
        let core = self.node.core.read();
        loop {
            let id = (rand::random::<u64>() >> 1) as i64;
            if id > 0 && !core.sm.leases.contains(id) {
                return id;
            }
        }
    }
}

#[tonic::async_trait]
impl Lease for LeaseService {
    async fn lease_grant(&self, req: Request<LeaseGrantRequest>) -> Result<Response<LeaseGrantResponse>, Status> {
        let mut g = req.into_inner();
        if g.ttl > MAX_LEASE_TTL {
            return Err(EtcdError::LeaseTtlTooLarge.into());
        }
        if g.id == 0 {
            g.id = self.fresh_id();
        }
        match self.node.propose(Op::LeaseGrant(g)).await? {
            (Output::LeaseGrant { id, ttl }, rev) => {
                Ok(Response::new(LeaseGrantResponse { header: self.node.header(rev), id, ttl, error: String::new() }))
            }
            _ => Err(Status::internal("unexpected apply result")),
        }
    }

    async fn lease_revoke(&self, req: Request<LeaseRevokeRequest>) -> Result<Response<LeaseRevokeResponse>, Status> {
        let (_, rev) = self.node.propose(Op::LeaseRevoke(req.into_inner())).await?;
        Ok(Response::new(LeaseRevokeResponse { header: self.node.header(rev) }))
    }

    type LeaseKeepAliveStream = KeepAliveStream;

    async fn lease_keep_alive(
        &self,
        req: Request<Streaming<LeaseKeepAliveRequest>>,
    ) -> Result<Response<Self::LeaseKeepAliveStream>, Status> {
        let mut input = req.into_inner();
        let node = self.node.clone();
        let out = async_stream(move |tx| async move {
            while let Some(Ok(r)) = input.next().await {
                let resp = match node.propose(Op::LeaseRenew(LeaseKeepAliveRequest { id: r.id })).await {
                    Ok((Output::LeaseRenew { id, ttl }, rev)) => LeaseKeepAliveResponse { header: node.header(rev), id, ttl },
                    // etcd answers a keep-alive of an unknown lease with TTL 0.
                    Err(EtcdError::LeaseNotFound) => LeaseKeepAliveResponse { header: node.current_header(), id: r.id, ttl: 0 },
                    Err(e) => {
                        let _ = tx.send(Err(e.into())).await;
                        return;
                    }
                    Ok(_) => return,
                };
                if tx.send(Ok(resp)).await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(out))
    }

    async fn lease_time_to_live(&self, req: Request<LeaseTimeToLiveRequest>) -> Result<Response<LeaseTimeToLiveResponse>, Status> {
        let r = req.into_inner();
        self.node.read_barrier().await?;
        let core = self.node.core.read();
        let rev = core.sm.mvcc.revision();
        let resp = match core.sm.leases.get(r.id) {
            Some(l) => LeaseTimeToLiveResponse {
                header: None,
                id: r.id,
                ttl: core.sm.leases.remaining(r.id, Instant::now()).unwrap_or(0),
                granted_ttl: l.ttl,
                keys: if r.keys { l.keys.iter().cloned().collect() } else { vec![] },
            },
            // etcd reports an unknown lease as TTL -1 rather than an error.
            None => LeaseTimeToLiveResponse { header: None, id: r.id, ttl: -1, granted_ttl: 0, keys: vec![] },
        };
        drop(core);
        Ok(Response::new(LeaseTimeToLiveResponse { header: self.node.header(rev), ..resp }))
    }

    async fn lease_leases(&self, _req: Request<LeaseLeasesRequest>) -> Result<Response<LeaseLeasesResponse>, Status> {
        self.node.read_barrier().await?;
        let core = self.node.core.read();
        let leases = core.sm.leases.ids().map(|id| LeaseStatus { id }).collect();
        let rev = core.sm.mvcc.revision();
        drop(core);
        Ok(Response::new(LeaseLeasesResponse { header: self.node.header(rev), leases }))
    }
}

/// A response stream fed by a task: `f` gets the sending side.
pub fn async_stream<T, F, Fut>(f: F) -> Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>
where
    T: Send + 'static,
    F: FnOnce(tokio::sync::mpsc::Sender<Result<T, Status>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(f(tx));
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
}
