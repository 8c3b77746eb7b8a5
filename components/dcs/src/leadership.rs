//! Fenced leadership: a leader key created only when absent and bound to the holder's lease.
//!
//! The holder is identified by the key's `create_revision`: it stays the same while the key
//! exists (renewing the lease or rewriting the value does not change it) and a successor's key,
//! created after this one expired or was deleted, always has a larger one. Every write made as
//! leader is a transaction that first compares that revision, so a holder that was deposed
//! while it was paused, partitioned or slow cannot overwrite what its successor wrote.

use etcd_client::{Compare, CompareOp};

use crate::endpoints::Dcs;
use crate::error::Result;
use crate::kv::{CondResult, Kv, Op};

/// The proof of holding a leader key.
#[derive(Debug, Clone)]
pub struct Leadership {
    dcs: Dcs,
    /// The leader key, relative to the cluster prefix.
    pub key: String,
    /// The leader key's create revision when it was won: the fencing token.
    pub create_revision: i64,
    /// The lease the key is bound to.
    pub lease: i64,
}

impl Dcs {
    /// Takes the leader key `rel` if nobody holds it, binding it to `lease`. `Ok(None)`: held by
    /// someone else (see [`Dcs::holder`]). Safe to retry: a retry that finds the key already
    /// carrying this value and lease (an earlier attempt succeeded but its answer was lost)
    /// returns that leadership.
    pub async fn try_acquire(&self, rel: &str, value: impl Into<Vec<u8>>, lease: i64) -> Result<Option<Leadership>> {
        let value = value.into();
        match self.put_if_absent(rel, value.clone(), Some(lease)).await? {
            CondResult::Done { revision } => Ok(Some(self.leadership(rel, revision, lease))),
            CondResult::Failed { current: Some(kv) } if kv.value == value && kv.lease == lease => {
                Ok(Some(self.leadership(rel, kv.create_revision, lease)))
            }
            CondResult::Failed { .. } => Ok(None),
        }
    }

    /// Takes back a leader key this holder still owns under its name after a restart (its old
    /// lease may still be alive): rebinds it to `lease` if its value is `value`. The fencing
    /// token stays the key's create revision: nobody else held the key in between.
    pub async fn reclaim(&self, rel: &str, value: impl Into<Vec<u8>>, lease: i64) -> Result<Option<Leadership>> {
        let value = value.into();
        let compare = Compare::value(self.key(rel), CompareOp::Equal, value.clone());
        let op = Op::Put { key: rel.to_string(), value, lease: Some(lease) };
        match self.cond(rel, vec![compare], &[op]).await? {
            CondResult::Done { .. } => Ok(self.get(rel).await?.map(|kv| self.leadership(rel, kv.create_revision, lease))),
            CondResult::Failed { .. } => Ok(None),
        }
    }

    /// Who holds a leader key now (`None`: nobody; the key expired or was released).
    pub async fn holder(&self, rel: &str) -> Result<Option<Kv>> {
        self.get(rel).await
    }

    fn leadership(&self, rel: &str, create_revision: i64, lease: i64) -> Leadership {
        Leadership { dcs: self.clone(), key: rel.to_string(), create_revision, lease }
    }
}

impl Leadership {
    /// Applies `ops` atomically, only while this leadership holds. `Ok(false)`: deposed, and
    /// nothing was written.
    pub async fn fenced(&self, ops: &[Op]) -> Result<bool> {
        Ok(self.dcs.cond(&self.key, vec![self.fence()], ops).await?.done())
    }

    /// A fenced put.
    pub async fn fenced_put(&self, rel: &str, value: impl Into<Vec<u8>>, lease: Option<i64>) -> Result<bool> {
        self.fenced(&[Op::Put { key: rel.to_string(), value: value.into(), lease }]).await
    }

    /// A fenced delete.
    pub async fn fenced_delete(&self, rel: &str) -> Result<bool> {
        self.fenced(&[Op::delete(rel)]).await
    }

    /// Rewrites the leader key's own value (keeps its lease and the fencing token).
    pub async fn update_value(&self, value: impl Into<Vec<u8>>) -> Result<bool> {
        self.fenced_put(&self.key.clone(), value, Some(self.lease)).await
    }

    /// Whether the leader key still carries this leadership's token (a linearizable read).
    pub async fn still_held(&self) -> Result<bool> {
        Ok(self.dcs.get(&self.key).await?.is_some_and(|kv| kv.create_revision == self.create_revision))
    }

    /// Gives the key up (only if still held), so a successor need not wait for the lease.
    pub async fn resign(&self) -> Result<bool> {
        self.fenced_delete(&self.key.clone()).await
    }

    fn fence(&self) -> Compare {
        Compare::create_revision(self.dcs.key(&self.key), CompareOp::Equal, self.create_revision)
    }
}
