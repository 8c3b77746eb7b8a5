//! Lease table: replicated TTLs and attached keys, plus each member's local deadlines. Only
//! the leader acts on deadlines (it proposes revokes); every member keeps them so a new leader
//! starts from the last keep-alive it applied.
//!
//! Keep-alives go through Raft, so every member applies each renewal and its local deadline
//! (its apply time + TTL) is never earlier than the old leader's (receipt + TTL), nor than the
//! holder's own belief (send + TTL − margin). A new leader therefore keeps those deadlines and
//! only grants a grace of one election timeout ([`Leases::extend_all`]) to holders that could
//! not renew while there was no leader. etcd refreshes every lease to its full TTL instead
//! (its keep-alives are the leader's memory only); that would let a crashed host's lease
//! outlive it by a whole TTL when that host also ran the Raft leader — a full TTL more before a
//! standby may take over.

use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Lease {
    pub ttl: i64,
    pub keys: BTreeSet<Bytes>,
    /// Local, not replicated: when this member would consider the lease expired.
    pub deadline: Instant,
}

#[derive(Debug, Default, Clone)]
pub struct Leases {
    table: BTreeMap<i64, Lease>,
}

impl Leases {
    pub fn get(&self, id: i64) -> Option<&Lease> {
        self.table.get(&id)
    }

    pub fn contains(&self, id: i64) -> bool {
        self.table.contains_key(&id)
    }

    pub fn ids(&self) -> impl Iterator<Item = i64> + '_ {
        self.table.keys().copied()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&i64, &Lease)> {
        self.table.iter()
    }

    pub fn grant(&mut self, id: i64, ttl: i64, now: Instant) {
        self.table.insert(id, Lease { ttl, keys: BTreeSet::new(), deadline: now + secs(ttl) });
    }

    pub fn renew(&mut self, id: i64, now: Instant) -> Option<i64> {
        let l = self.table.get_mut(&id)?;
        l.deadline = now + secs(l.ttl);
        Some(l.ttl)
    }

    pub fn remove(&mut self, id: i64) -> Option<Lease> {
        self.table.remove(&id)
    }

    pub fn attach(&mut self, id: i64, key: &Bytes) {
        if let Some(l) = self.table.get_mut(&id) {
            l.keys.insert(key.clone());
        }
    }

    pub fn detach(&mut self, id: i64, key: &[u8]) {
        if let Some(l) = self.table.get_mut(&id) {
            l.keys.remove(key);
        }
    }

    /// A new leader: every lease lasts at least `grace` (at most its TTL) from now, so a
    /// holder that could not renew during the election keeps it; a lease whose holder is gone
    /// still expires on the schedule of its last renewal, or at the end of the grace.
    pub fn extend_all(&mut self, now: Instant, grace: Duration) {
        for l in self.table.values_mut() {
            l.deadline = l.deadline.max(now + grace.min(secs(l.ttl)));
        }
    }

    /// Leases whose deadline has passed.
    pub fn expired(&self, now: Instant) -> Vec<i64> {
        self.table.iter().filter(|(_, l)| l.deadline <= now).map(|(id, _)| *id).collect()
    }

    /// Seconds left before the local deadline (at least 0).
    pub fn remaining(&self, id: i64, now: Instant) -> Option<i64> {
        let l = self.table.get(&id)?;
        let left = l.deadline.saturating_duration_since(now);
        // Round up as etcd does, so a fresh lease reports its full TTL.
        Some(left.as_millis().div_ceil(1000) as i64)
    }
}

fn secs(ttl: i64) -> Duration {
    Duration::from_secs(ttl.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_expire_and_refresh() {
        let t0 = Instant::now();
        let mut l = Leases::default();
        l.grant(1, 5, t0);
        l.grant(2, 10, t0);
        assert!(l.expired(t0 + Duration::from_secs(4)).is_empty());
        assert_eq!(l.expired(t0 + Duration::from_secs(6)), vec![1]);
        // A leader change at 6 s with a 1 s grace: lease 1 (already past) gets the grace only,
        // lease 2 keeps its own deadline (10 s), nothing restarts at the full TTL.
        l.extend_all(t0 + Duration::from_secs(6), Duration::from_secs(1));
        assert!(l.expired(t0 + Duration::from_millis(6900)).is_empty());
        assert_eq!(l.expired(t0 + Duration::from_secs(7)), vec![1]);
        assert_eq!(l.remaining(2, t0 + Duration::from_secs(6)), Some(4));
        assert_eq!(l.expired(t0 + Duration::from_secs(10)), vec![1, 2]);
        assert_eq!(l.renew(3, t0), None);
    }
}
