//! Keys and values under the cluster prefix: reads, writes and conditional writes.

use etcd_client::{Compare, CompareOp, DeleteOptions, GetOptions, KeyValue, PutOptions, Txn, TxnOp, TxnOpResponse};

use crate::endpoints::Dcs;
use crate::error::{DcsError, Result};

/// A key as the coordinator stores it, with its key relative to the cluster prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kv {
    pub key: String,
    pub value: Vec<u8>,
    pub create_revision: i64,
    pub mod_revision: i64,
    pub version: i64,
    /// The lease the key is bound to (0: none).
    pub lease: i64,
}

impl Kv {
    pub(crate) fn from_etcd(dcs: &Dcs, kv: &KeyValue) -> Kv {
        Kv {
            key: dcs.rel(&String::from_utf8_lossy(kv.key())).to_string(),
            value: kv.value().to_vec(),
            create_revision: kv.create_revision(),
            mod_revision: kv.mod_revision(),
            version: kv.version(),
            lease: kv.lease(),
        }
    }

    /// The value as text (every Triad value is UTF-8: names, JSON).
    pub fn text(&self) -> Result<&str> {
        std::str::from_utf8(&self.value)
            .map_err(|e| DcsError::Malformed { key: self.key.clone(), reason: format!("value is not UTF-8: {e}") })
    }
}

/// One write of a transaction, keys relative to the cluster prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Put { key: String, value: Vec<u8>, lease: Option<i64> },
    Delete { key: String },
    DeletePrefix { prefix: String },
}

impl Op {
    pub fn put(key: impl Into<String>, value: impl Into<Vec<u8>>) -> Op {
        Op::Put { key: key.into(), value: value.into(), lease: None }
    }

    pub fn put_with_lease(key: impl Into<String>, value: impl Into<Vec<u8>>, lease: i64) -> Op {
        Op::Put { key: key.into(), value: value.into(), lease: Some(lease) }
    }

    pub fn delete(key: impl Into<String>) -> Op {
        Op::Delete { key: key.into() }
    }

    pub(crate) fn to_etcd(&self, dcs: &Dcs) -> TxnOp {
        match self {
            Op::Put { key, value, lease } => {
                TxnOp::put(dcs.key(key), value.clone(), lease.map(|l| PutOptions::new().with_lease(l)))
            }
            Op::Delete { key } => TxnOp::delete(dcs.key(key), None),
            Op::DeletePrefix { prefix } => TxnOp::delete(dcs.key(prefix), Some(DeleteOptions::new().with_prefix())),
        }
    }
}

/// The outcome of a conditional write: done at `revision`, or not done because the condition
/// failed, with the key as it was found (if it existed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CondResult {
    Done { revision: i64 },
    Failed { current: Option<Kv> },
}

impl CondResult {
    pub fn done(&self) -> bool {
        matches!(self, CondResult::Done { .. })
    }
}

impl Dcs {
    /// One key, linearizably read.
    pub async fn get(&self, rel: &str) -> Result<Option<Kv>> {
        let key = self.key(rel);
        let resp = self.call("get", |mut c| {
            let key = key.clone();
            async move { c.get(key, None).await }
        }).await?;
        Ok(resp.kvs().first().map(|kv| Kv::from_etcd(self, kv)))
    }

    /// Every key under a relative prefix, sorted by key, and the revision they were read at
    /// (watch from `revision + 1` to follow them without missing a change).
    pub async fn list(&self, rel_prefix: &str) -> Result<(Vec<Kv>, i64)> {
        let key = self.key(rel_prefix);
        let resp = self.call("list", |mut c| {
            let key = key.clone();
            async move { c.get(key, Some(GetOptions::new().with_prefix())).await }
        }).await?;
        let revision = resp.header().map(|h| h.revision()).unwrap_or(0);
        Ok((resp.kvs().iter().map(|kv| Kv::from_etcd(self, kv)).collect(), revision))
    }

    /// Writes a key, bound to `lease` if given; returns the revision of the write.
    pub async fn put(&self, rel: &str, value: impl Into<Vec<u8>>, lease: Option<i64>) -> Result<i64> {
        let key = self.key(rel);
        let value = value.into();
        let resp = self.call("put", |mut c| {
            let (key, value) = (key.clone(), value.clone());
            async move { c.put(key, value, lease.map(|l| PutOptions::new().with_lease(l))).await }
        }).await?;
        Ok(resp.header().map(|h| h.revision()).unwrap_or(0))
    }

    /// Deletes a key; returns whether it existed.
    pub async fn delete(&self, rel: &str) -> Result<bool> {
        let key = self.key(rel);
        let resp = self.call("delete", |mut c| {
            let key = key.clone();
            async move { c.delete(key, None).await }
        }).await?;
        Ok(resp.deleted() > 0)
    }

    /// Creates a key only if it does not exist.
    pub async fn put_if_absent(&self, rel: &str, value: impl Into<Vec<u8>>, lease: Option<i64>) -> Result<CondResult> {
        let compare = Compare::create_revision(self.key(rel), CompareOp::Equal, 0);
        let op = Op::Put { key: rel.to_string(), value: value.into(), lease };
        self.cond(rel, vec![compare], &[op]).await
    }

    /// Replaces a key only if it was last modified at `mod_revision` (0: only if absent).
    pub async fn put_if_unchanged(&self, rel: &str, mod_revision: i64, value: impl Into<Vec<u8>>) -> Result<CondResult> {
        let compare = Compare::mod_revision(self.key(rel), CompareOp::Equal, mod_revision);
        let op = Op::Put { key: rel.to_string(), value: value.into(), lease: None };
        self.cond(rel, vec![compare], &[op]).await
    }

    /// Runs `ops` if every compare holds; otherwise reads `watched` to say what was found.
    pub(crate) async fn cond(&self, watched: &str, compares: Vec<Compare>, ops: &[Op]) -> Result<CondResult> {
        let key = self.key(watched);
        let then: Vec<TxnOp> = ops.iter().map(|o| o.to_etcd(self)).collect();
        let resp = self.call("transaction", |mut c| {
            let txn = Txn::new().when(compares.clone()).and_then(then.clone()).or_else(vec![TxnOp::get(key.clone(), None)]);
            async move { c.txn(txn).await }
        }).await?;
        if resp.succeeded() {
            return Ok(CondResult::Done { revision: resp.header().map(|h| h.revision()).unwrap_or(0) });
        }
        let current = resp.op_responses().into_iter().find_map(|r| match r {
            TxnOpResponse::Get(g) => g.kvs().first().map(|kv| Kv::from_etcd(self, kv)),
            _ => None,
        });
        Ok(CondResult::Failed { current })
    }
}
