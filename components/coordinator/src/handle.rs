//! The gRPC side's view of the Raft thread: propose a command and wait for its result, wait
//! for a linearizable read point, request a member change; plus response headers.

use crate::core::{SharedCore, SharedStatus};
use crate::errors::EtcdError;
use crate::node::{ConfRequest, Inbox};
use crate::pb::etcdserverpb::{Member, ResponseHeader};
use crate::pb::internal::{Command, command::Op};
use crate::state::{Applied, Output};
use raft::prelude::ConfChangeType;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::time::Duration;
use tokio::sync::oneshot;

#[derive(Clone)]
pub struct NodeHandle {
    pub id: u64,
    pub core: SharedCore,
    pub status: SharedStatus,
    inbox: Sender<Inbox>,
    seq: Arc<AtomicU64>,
    /// How long a client request may wait for Raft (etcd: 5 s plus two election timeouts).
    pub request_timeout: Duration,
}

impl NodeHandle {
    pub fn new(id: u64, core: SharedCore, status: SharedStatus, inbox: Sender<Inbox>, request_timeout: Duration) -> NodeHandle {
        NodeHandle { id, core, status, inbox, seq: Arc::new(AtomicU64::new(1)), request_timeout }
    }

    pub fn send(&self, m: Inbox) -> Result<(), EtcdError> {
        self.inbox.send(m).map_err(|_| EtcdError::Stopped)
    }

    async fn wait<T>(&self, rx: oneshot::Receiver<T>) -> Result<T, EtcdError> {
        match tokio::time::timeout(self.request_timeout, rx).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(_)) => Err(EtcdError::Stopped),
            Err(_) => Err(if self.status.get().leader_id == 0 { EtcdError::NoLeader } else { EtcdError::Timeout }),
        }
    }

    /// Replicates `op` and returns what applying it produced.
    pub async fn propose(&self, op: Op) -> Result<(Output, i64), EtcdError> {
        let (tx, rx) = oneshot::channel();
        let id = self.seq.fetch_add(1, Ordering::Relaxed);
        self.send(Inbox::Propose(Command { id, origin: self.id, op: Some(op) }, Some(tx)))?;
        let Applied { result, revision } = self.wait(rx).await?;
        result.map(|o| (o, revision))
    }

    /// Returns once this member has applied everything committed before the call: a read made
    /// after it is linearizable (ReadIndex).
    pub async fn read_barrier(&self) -> Result<(), EtcdError> {
        let (tx, rx) = oneshot::channel();
        self.send(Inbox::Read(tx))?;
        self.wait(rx).await
    }

    pub async fn conf_change(&self, change: ConfChangeType, node_id: u64, member: Member) -> Result<(), EtcdError> {
        let (tx, rx) = oneshot::channel();
        self.send(Inbox::Conf(ConfRequest { change, node_id, member, reply: tx }))?;
        self.wait(rx).await?
    }

    pub fn header(&self, revision: i64) -> Option<ResponseHeader> {
        let cluster_id = self.core.read().sm.cluster_id;
        self.header_in(cluster_id, revision)
    }

    /// A header for callers already holding the core lock (which `header` would take again).
    pub fn header_in(&self, cluster_id: u64, revision: i64) -> Option<ResponseHeader> {
        Some(ResponseHeader { cluster_id, member_id: self.id, revision, raft_term: self.status.term() })
    }

    pub fn current_header(&self) -> Option<ResponseHeader> {
        let rev = self.core.read().sm.mvcc.revision();
        self.header(rev)
    }
}
