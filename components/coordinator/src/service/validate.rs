//! Request checks made before anything is proposed, with etcd's errors: a bad request is
//! refused whole and never reaches the log.

use crate::errors::{EtcdError, MAX_REQUEST_BYTES, MAX_TXN_OPS};
use crate::mvcc::in_range;
use crate::pb::etcdserverpb::{request_op::Request, *};
use prost::Message;

pub fn size(m: &impl Message) -> Result<(), EtcdError> {
    if m.encoded_len() > MAX_REQUEST_BYTES { Err(EtcdError::RequestTooLarge) } else { Ok(()) }
}

pub fn range(r: &RangeRequest) -> Result<(), EtcdError> {
    if r.key.is_empty() { Err(EtcdError::EmptyKey) } else { Ok(()) }
}

pub fn put(p: &PutRequest) -> Result<(), EtcdError> {
    if p.key.is_empty() {
        return Err(EtcdError::EmptyKey);
    }
    if p.ignore_value && !p.value.is_empty() {
        return Err(EtcdError::ValueProvided);
    }
    if p.ignore_lease && p.lease != 0 {
        return Err(EtcdError::LeaseProvided);
    }
    Ok(())
}

pub fn delete_range(d: &DeleteRangeRequest) -> Result<(), EtcdError> {
    if d.key.is_empty() { Err(EtcdError::EmptyKey) } else { Ok(()) }
}

pub fn txn(t: &TxnRequest) -> Result<(), EtcdError> {
    if t.compare.len() > MAX_TXN_OPS || t.success.len() > MAX_TXN_OPS || t.failure.len() > MAX_TXN_OPS {
        return Err(EtcdError::TooManyOps);
    }
    if t.compare.iter().any(|c| c.key.is_empty()) {
        return Err(EtcdError::EmptyKey);
    }
    for branch in [&t.success, &t.failure] {
        branch_ops(branch)?;
    }
    Ok(())
}

fn branch_ops(ops: &[RequestOp]) -> Result<(), EtcdError> {
    let mut puts: Vec<&[u8]> = Vec::new();
    let mut deletes: Vec<(&[u8], &[u8])> = Vec::new();
    for op in ops {
        match &op.request {
            Some(Request::RequestRange(r)) => range(r)?,
            Some(Request::RequestPut(p)) => {
                put(p)?;
                if puts.contains(&p.key.as_ref()) {
                    return Err(EtcdError::DuplicateKey);
                }
                puts.push(&p.key);
            }
            Some(Request::RequestDeleteRange(d)) => {
                delete_range(d)?;
                deletes.push((&d.key, &d.range_end));
            }
            Some(Request::RequestTxn(inner)) => txn(inner)?,
            None => {}
        }
    }
    // A key both written and deleted in one branch is ambiguous: etcd refuses it.
    if puts.iter().any(|k| deletes.iter().any(|(s, e)| in_range(k, s, e))) {
        return Err(EtcdError::DuplicateKey);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn put_op(k: &str) -> RequestOp {
        RequestOp { request: Some(Request::RequestPut(PutRequest { key: Bytes::copy_from_slice(k.as_bytes()), ..Default::default() })) }
    }

    #[test]
    fn bad_requests_get_etcds_errors() {
        assert_eq!(put(&PutRequest::default()), Err(EtcdError::EmptyKey));
        assert_eq!(
            put(&PutRequest { key: "k".into(), value: "v".into(), ignore_value: true, ..Default::default() }),
            Err(EtcdError::ValueProvided)
        );
        assert_eq!(put(&PutRequest { key: "k".into(), lease: 5, ignore_lease: true, ..Default::default() }), Err(EtcdError::LeaseProvided));
        assert_eq!(range(&RangeRequest::default()), Err(EtcdError::EmptyKey));
        let big = PutRequest { key: "k".into(), value: vec![0u8; MAX_REQUEST_BYTES + 1].into(), ..Default::default() };
        assert_eq!(size(&big), Err(EtcdError::RequestTooLarge));
        let dup = TxnRequest { success: vec![put_op("a"), put_op("a")], ..Default::default() };
        assert_eq!(txn(&dup), Err(EtcdError::DuplicateKey));
        let many = TxnRequest { success: (0..129).map(|i| put_op(&i.to_string())).collect(), ..Default::default() };
        assert_eq!(txn(&many), Err(EtcdError::TooManyOps));
        let put_and_delete = TxnRequest {
            failure: vec![
                put_op("b"),
                RequestOp { request: Some(Request::RequestDeleteRange(DeleteRangeRequest { key: "a".into(), range_end: "c".into(), prev_kv: false })) },
            ],
            ..Default::default()
        };
        assert_eq!(txn(&put_and_delete), Err(EtcdError::DuplicateKey));
        assert_eq!(txn(&TxnRequest { success: vec![put_op("a"), put_op("b")], ..Default::default() }), Ok(()));
    }
}
