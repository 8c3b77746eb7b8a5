//! etcd's KV service: reads served locally after a ReadIndex barrier (or directly when
//! `serializable`), writes replicated through Raft.

use super::validate;
use crate::handle::NodeHandle;
use crate::pb::etcdserverpb::{kv_server::Kv, *};
use crate::pb::internal::command::Op;
use crate::state::Output;
use tonic::{Request, Response, Status};

pub struct KvService {
    pub node: NodeHandle,
}

fn unexpected() -> Status {
    Status::internal("unexpected apply result")
}

#[tonic::async_trait]
impl Kv for KvService {
    async fn range(&self, req: Request<RangeRequest>) -> Result<Response<RangeResponse>, Status> {
        let r = req.into_inner();
        validate::range(&r)?;
        if !r.serializable {
            self.node.read_barrier().await?;
        }
        let core = self.node.core.read();
        let mut resp = core.sm.range(&r, false)?;
        let rev = core.sm.mvcc.revision();
        drop(core);
        resp.header = self.node.header(rev);
        Ok(Response::new(resp))
    }

    async fn put(&self, req: Request<PutRequest>) -> Result<Response<PutResponse>, Status> {
        let p = req.into_inner();
        validate::size(&p)?;
        validate::put(&p)?;
        match self.node.propose(Op::Put(p)).await? {
            (Output::Put(mut r), rev) => {
                r.header = self.node.header(rev);
                Ok(Response::new(r))
            }
            _ => Err(unexpected()),
        }
    }

    async fn delete_range(&self, req: Request<DeleteRangeRequest>) -> Result<Response<DeleteRangeResponse>, Status> {
        let d = req.into_inner();
        validate::delete_range(&d)?;
        match self.node.propose(Op::DeleteRange(d)).await? {
            (Output::DeleteRange(mut r), rev) => {
                r.header = self.node.header(rev);
                Ok(Response::new(r))
            }
            _ => Err(unexpected()),
        }
    }

    async fn txn(&self, req: Request<TxnRequest>) -> Result<Response<TxnResponse>, Status> {
        let t = req.into_inner();
        validate::size(&t)?;
        validate::txn(&t)?;
        match self.node.propose(Op::Txn(t)).await? {
            (Output::Txn(mut r), rev) => {
                r.header = self.node.header(rev);
                let h = r.header;
                fill_headers(&mut r, &h);
                Ok(Response::new(r))
            }
            _ => Err(unexpected()),
        }
    }

    async fn compact(&self, req: Request<CompactionRequest>) -> Result<Response<CompactionResponse>, Status> {
        let (_, rev) = self.node.propose(Op::Compact(req.into_inner())).await?;
        Ok(Response::new(CompactionResponse { header: self.node.header(rev) }))
    }
}

/// etcd gives every response inside a txn the txn's header.
fn fill_headers(r: &mut TxnResponse, h: &Option<ResponseHeader>) {
    use response_op::Response as R;
    for op in &mut r.responses {
        match &mut op.response {
            Some(R::ResponseRange(x)) => x.header = *h,
            Some(R::ResponsePut(x)) => x.header = *h,
            Some(R::ResponseDeleteRange(x)) => x.header = *h,
            Some(R::ResponseTxn(x)) => {
                x.header = *h;
                fill_headers(x, h);
            }
            None => {}
        }
    }
}
