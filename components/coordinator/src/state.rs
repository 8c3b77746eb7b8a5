//! The replicated state machine: applies committed commands to the MVCC store, the lease table
//! and the member list. Applying is deterministic (every member reaches the same state and the
//! same result); a request that fails does so before changing anything.

use crate::errors::EtcdError;
use crate::lease::Leases;
use crate::mvcc::{Mvcc, WriteTx, in_range};
use crate::pb::etcdserverpb::{
    compare::{CompareResult, CompareTarget, TargetUnion},
    range_request::{SortOrder, SortTarget},
    request_op::Request,
    response_op::Response,
    *,
};
use crate::pb::internal::{Command, LeaseRecord, StateSnapshot, command::Op};
use crate::pb::mvccpb::{Event, KeyValue};
use bytes::Bytes;
use prost::Message as _;
use protobuf::Message as _;
use raft::prelude::ConfState;
use std::collections::BTreeMap;
use std::time::Instant;

/// Result of one applied command, without the response header (the server adds it).
#[derive(Debug, Clone)]
pub enum Output {
    Put(PutResponse),
    DeleteRange(DeleteRangeResponse),
    Txn(TxnResponse),
    Compact,
    LeaseGrant { id: i64, ttl: i64 },
    LeaseRevoke,
    LeaseRenew { id: i64, ttl: i64 },
}

/// A command's outcome plus the store revision it produced (for the response header).
#[derive(Debug, Clone)]
pub struct Applied {
    pub result: Result<Output, EtcdError>,
    pub revision: i64,
}

#[derive(Debug, Clone)]
pub struct StateMachine {
    pub mvcc: Mvcc,
    pub leases: Leases,
    pub members: BTreeMap<u64, Member>,
    pub cluster_id: u64,
    pub conf_state: ConfState,
    pub applied_index: u64,
    pub applied_term: u64,
    /// Shortest TTL granted (etcd: 1.5 election timeouts, rounded up to seconds).
    pub min_lease_ttl: i64,
}

impl StateMachine {
    pub fn new(min_lease_ttl: i64) -> StateMachine {
        StateMachine {
            mvcc: Mvcc::default(),
            leases: Leases::default(),
            members: BTreeMap::new(),
            cluster_id: 0,
            conf_state: ConfState::default(),
            applied_index: 0,
            applied_term: 0,
            min_lease_ttl,
        }
    }

    /// Applies one command; change events go to `events`.
    pub fn apply(&mut self, cmd: &Command, now: Instant, events: &mut Vec<Event>) -> Applied {
        let result = match &cmd.op {
            Some(Op::Put(p)) => self.apply_write(events, |sm, tx| sm.put(tx, p).map(Output::Put)),
            Some(Op::DeleteRange(d)) => {
                self.apply_write(events, |sm, tx| Ok(Output::DeleteRange(sm.delete_range(tx, d))))
            }
            Some(Op::Txn(t)) => self.apply_write(events, |sm, tx| sm.txn(tx, t).map(Output::Txn)),
            Some(Op::Compact(c)) => self.mvcc.compact(c.revision).map(|_| Output::Compact),
            Some(Op::LeaseGrant(g)) => self.grant(g, now),
            Some(Op::LeaseRevoke(r)) => self.apply_write(events, |sm, tx| sm.revoke(tx, r.id)),
            Some(Op::LeaseRenew(r)) => match self.leases.renew(r.id, now) {
                Some(ttl) => Ok(Output::LeaseRenew { id: r.id, ttl }),
                None => Err(EtcdError::LeaseNotFound),
            },
            None => Err(EtcdError::EmptyKey),
        };
        Applied { result, revision: self.mvcc.revision() }
    }

    fn apply_write(
        &mut self,
        events: &mut Vec<Event>,
        f: impl FnOnce(&mut Self, &mut WriteTx) -> Result<Output, EtcdError>,
    ) -> Result<Output, EtcdError> {
        let mut tx = self.mvcc.begin();
        let out = f(self, &mut tx);
        self.mvcc.commit(&tx);
        events.append(&mut tx.events);
        out
    }

    fn grant(&mut self, g: &LeaseGrantRequest, now: Instant) -> Result<Output, EtcdError> {
        if g.ttl > crate::errors::MAX_LEASE_TTL {
            return Err(EtcdError::LeaseTtlTooLarge);
        }
        if g.id <= 0 {
            return Err(EtcdError::LeaseNotFound);
        }
        if self.leases.contains(g.id) {
            return Err(EtcdError::LeaseExist);
        }
        let ttl = g.ttl.max(self.min_lease_ttl);
        self.leases.grant(g.id, ttl, now);
        Ok(Output::LeaseGrant { id: g.id, ttl })
    }

    fn revoke(&mut self, tx: &mut WriteTx, id: i64) -> Result<Output, EtcdError> {
        let lease = self.leases.remove(id).ok_or(EtcdError::LeaseNotFound)?;
        for k in &lease.keys {
            self.mvcc.delete_range(tx, k, &[]);
        }
        Ok(Output::LeaseRevoke)
    }

    fn check_put(&self, p: &PutRequest) -> Result<(), EtcdError> {
        if (p.ignore_value || p.ignore_lease)
            && self.mvcc.get(&p.key).is_none() {
                return Err(EtcdError::KeyNotFound);
            }
        if !p.ignore_lease && p.lease != 0 && !self.leases.contains(p.lease) {
            return Err(EtcdError::LeaseNotFound);
        }
        Ok(())
    }

    fn put(&mut self, tx: &mut WriteTx, p: &PutRequest) -> Result<PutResponse, EtcdError> {
        self.check_put(p)?;
        let current = self.mvcc.get(&p.key);
        let value = if p.ignore_value { current.map(|kv| kv.value.clone()).unwrap_or_default() } else { p.value.clone() };
        let lease = if p.ignore_lease { current.map(|kv| kv.lease).unwrap_or(0) } else { p.lease };
        let prev = self.mvcc.put(tx, p.key.clone(), value, lease);
        if let Some(prev) = &prev
            && prev.lease != 0 && prev.lease != lease {
                self.leases.detach(prev.lease, &prev.key);
            }
        if lease != 0 {
            self.leases.attach(lease, &p.key);
        }
        Ok(PutResponse { header: None, prev_kv: if p.prev_kv { prev } else { None } })
    }

    fn delete_range(&mut self, tx: &mut WriteTx, d: &DeleteRangeRequest) -> DeleteRangeResponse {
        let deleted = self.mvcc.delete_range(tx, &d.key, &d.range_end);
        for kv in &deleted {
            if kv.lease != 0 {
                self.leases.detach(kv.lease, &kv.key);
            }
        }
        DeleteRangeResponse {
            header: None,
            deleted: deleted.len() as i64,
            prev_kvs: if d.prev_kv { deleted } else { Vec::new() },
        }
    }

    /// A read: at `r.revision`, or at the latest state including `tx`'s own writes.
    pub fn range(&self, r: &RangeRequest, in_tx: bool) -> Result<RangeResponse, EtcdError> {
        let rev = if r.revision <= 0 && in_tx { i64::MAX } else { self.mvcc.check_rev(r.revision)? };
        let mut kvs: Vec<&KeyValue> = self
            .mvcc
            .range_at(&r.key, &r.range_end, rev)
            .filter(|kv| {
                (r.min_mod_revision == 0 || kv.mod_revision >= r.min_mod_revision)
                    && (r.max_mod_revision == 0 || kv.mod_revision <= r.max_mod_revision)
                    && (r.min_create_revision == 0 || kv.create_revision >= r.min_create_revision)
                    && (r.max_create_revision == 0 || kv.create_revision <= r.max_create_revision)
            })
            .collect();
        sort_kvs(&mut kvs, r.sort_order(), r.sort_target());
        let count = kvs.len() as i64;
        let more = r.limit > 0 && count > r.limit;
        if r.limit > 0 {
            kvs.truncate(r.limit as usize);
        }
        let kvs = if r.count_only {
            Vec::new()
        } else {
            kvs.into_iter()
                .map(|kv| if r.keys_only { KeyValue { value: Bytes::new(), ..kv.clone() } } else { kv.clone() })
                .collect()
        };
        Ok(RangeResponse { header: None, kvs, more, count })
    }

    fn compare(&self, c: &Compare) -> bool {
        let kvs: Vec<&KeyValue> = self.mvcc.range_at(&c.key, &c.range_end, i64::MAX).collect();
        if kvs.is_empty() {
            // A missing key has version, revisions and lease 0; it has no value to compare.
            if c.target() == CompareTarget::Value {
                return false;
            }
            return compare_kv(c, &KeyValue::default());
        }
        kvs.iter().all(|kv| compare_kv(c, kv))
    }

    /// Which branch of every (nested) txn runs, decided on the state before any write, as etcd
    /// does; then checks every request of that path so that a failing txn changes nothing.
    fn check_txn(&self, t: &TxnRequest) -> Result<bool, EtcdError> {
        let ok = t.compare.iter().all(|c| self.compare(c));
        let ops = if ok { &t.success } else { &t.failure };
        for op in ops {
            match &op.request {
                Some(Request::RequestRange(r)) => {
                    if r.revision > 0 {
                        self.mvcc.check_rev(r.revision)?;
                    }
                }
                Some(Request::RequestPut(p)) => self.check_put(p)?,
                Some(Request::RequestTxn(inner)) => {
                    self.check_txn(inner)?;
                }
                Some(Request::RequestDeleteRange(_)) | None => {}
            }
        }
        Ok(ok)
    }

    fn txn(&mut self, tx: &mut WriteTx, t: &TxnRequest) -> Result<TxnResponse, EtcdError> {
        let succeeded = self.check_txn(t)?;
        Ok(self.run_txn(tx, t, succeeded))
    }

    fn run_txn(&mut self, tx: &mut WriteTx, t: &TxnRequest, succeeded: bool) -> TxnResponse {
        let ops = if succeeded { &t.success } else { &t.failure };
        let mut responses = Vec::with_capacity(ops.len());
        for op in ops {
            let resp = match &op.request {
                Some(Request::RequestRange(r)) => {
                    Response::ResponseRange(self.range(r, tx.changed()).expect("checked before writing"))
                }
                Some(Request::RequestPut(p)) => Response::ResponsePut(self.put(tx, p).expect("checked before writing")),
                Some(Request::RequestDeleteRange(d)) => Response::ResponseDeleteRange(self.delete_range(tx, d)),
                Some(Request::RequestTxn(inner)) => {
                    // Nested compares were decided on the state before this txn wrote anything.
                    let ok = self.check_txn(inner).unwrap_or(false);
                    Response::ResponseTxn(self.run_txn(tx, inner, ok))
                }
                None => continue,
            };
            responses.push(ResponseOp { response: Some(resp) });
        }
        TxnResponse { header: None, succeeded, responses }
    }

    // ---- snapshots ----

    pub fn to_snapshot(&self) -> Vec<u8> {
        let (revision, compact_revision, keys) = self.mvcc.to_records();
        let snap = StateSnapshot {
            revision,
            compact_revision,
            cluster_id: self.cluster_id,
            keys,
            leases: self.leases.iter().map(|(id, l)| LeaseRecord { id: *id, ttl: l.ttl }).collect(),
            members: self.members.values().cloned().collect(),
            conf_state: self.conf_state.write_to_bytes().expect("ConfState encodes").into(),
            applied_index: self.applied_index,
            applied_term: self.applied_term,
        };
        snap.encode_to_vec()
    }

    pub fn from_snapshot(data: &[u8], min_lease_ttl: i64, now: Instant) -> anyhow::Result<StateMachine> {
        let s = StateSnapshot::decode(data)?;
        let mvcc = Mvcc::from_records(s.revision, s.compact_revision, s.keys);
        let mut leases = Leases::default();
        for l in &s.leases {
            leases.grant(l.id, l.ttl, now);
        }
        for kv in mvcc.range_at(&[], &[0], i64::MAX) {
            if kv.lease != 0 {
                leases.attach(kv.lease, &kv.key);
            }
        }
        let mut conf_state = ConfState::default();
        conf_state.merge_from_bytes(&s.conf_state)?;
        Ok(StateMachine {
            mvcc,
            leases,
            members: s.members.into_iter().map(|m| (m.id, m)).collect(),
            cluster_id: s.cluster_id,
            conf_state,
            applied_index: s.applied_index,
            applied_term: s.applied_term,
            min_lease_ttl,
        })
    }
}

fn compare_kv(c: &Compare, kv: &KeyValue) -> bool {
    use std::cmp::Ordering;
    let ord = match (c.target(), &c.target_union) {
        (CompareTarget::Version, Some(TargetUnion::Version(v))) => kv.version.cmp(v),
        (CompareTarget::Create, Some(TargetUnion::CreateRevision(v))) => kv.create_revision.cmp(v),
        (CompareTarget::Mod, Some(TargetUnion::ModRevision(v))) => kv.mod_revision.cmp(v),
        (CompareTarget::Value, Some(TargetUnion::Value(v))) => kv.value.as_ref().cmp(v.as_ref()),
        (CompareTarget::Lease, Some(TargetUnion::Lease(v))) => kv.lease.cmp(v),
        // A compare without a matching operand: etcd compares against the zero value.
        (CompareTarget::Version, _) => kv.version.cmp(&0),
        (CompareTarget::Create, _) => kv.create_revision.cmp(&0),
        (CompareTarget::Mod, _) => kv.mod_revision.cmp(&0),
        (CompareTarget::Value, _) => kv.value.as_ref().cmp(&[][..]),
        (CompareTarget::Lease, _) => kv.lease.cmp(&0),
    };
    match c.result() {
        CompareResult::Equal => ord == Ordering::Equal,
        CompareResult::Greater => ord == Ordering::Greater,
        CompareResult::Less => ord == Ordering::Less,
        CompareResult::NotEqual => ord != Ordering::Equal,
    }
}

fn sort_kvs(kvs: &mut [&KeyValue], order: SortOrder, target: SortTarget) {
    // etcd: a sort target other than the key with no order means ascending.
    let order = if order == SortOrder::None && target != SortTarget::Key { SortOrder::Ascend } else { order };
    if order == SortOrder::None || (order == SortOrder::Ascend && target == SortTarget::Key) {
        return; // already in key order
    }
    kvs.sort_by(|a, b| {
        let o = match target {
            SortTarget::Key => a.key.cmp(&b.key),
            SortTarget::Version => a.version.cmp(&b.version),
            SortTarget::Create => a.create_revision.cmp(&b.create_revision),
            SortTarget::Mod => a.mod_revision.cmp(&b.mod_revision),
            SortTarget::Value => a.value.cmp(&b.value),
        };
        if order == SortOrder::Descend { o.reverse() } else { o }
    });
}

/// Whether a watch or lease key set covers `k` — re-exported for the watch hub.
pub fn covers(k: &[u8], key: &[u8], range_end: &[u8]) -> bool {
    in_range(k, key, range_end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    fn cmd(op: Op) -> Command {
        Command { id: 1, origin: 1, op: Some(op) }
    }

    fn run(sm: &mut StateMachine, op: Op) -> Applied {
        let mut ev = Vec::new();
        sm.apply(&cmd(op), Instant::now(), &mut ev)
    }

    fn put(k: &str, v: &str, lease: i64) -> PutRequest {
        PutRequest { key: b(k), value: b(v), lease, ..Default::default() }
    }

    fn get(sm: &StateMachine, k: &str) -> Option<KeyValue> {
        sm.range(&RangeRequest { key: b(k), ..Default::default() }, false).unwrap().kvs.into_iter().next()
    }

    fn cas(k: &str, mod_rev: i64, v: &str) -> TxnRequest {
        TxnRequest {
            compare: vec![Compare {
                result: CompareResult::Equal as i32,
                target: CompareTarget::Mod as i32,
                key: b(k),
                target_union: Some(TargetUnion::ModRevision(mod_rev)),
                range_end: Bytes::new(),
            }],
            success: vec![RequestOp { request: Some(Request::RequestPut(put(k, v, 0))) }],
            failure: vec![RequestOp { request: Some(Request::RequestRange(RangeRequest { key: b(k), ..Default::default() })) }],
        }
    }

    #[test]
    fn txn_compare_and_swap_on_mod_revision() {
        let mut sm = StateMachine::new(2);
        run(&mut sm, Op::Put(put("k", "a", 0)));
        let Output::Txn(r) = run(&mut sm, Op::Txn(cas("k", 1, "b"))).result.unwrap() else { panic!() };
        assert!(r.succeeded);
        let Output::Txn(r) = run(&mut sm, Op::Txn(cas("k", 1, "c"))).result.unwrap() else { panic!() };
        assert!(!r.succeeded);
        let Some(Response::ResponseRange(rr)) = &r.responses[0].response else { panic!() };
        assert_eq!(rr.kvs[0].value, b("b"));
        assert_eq!(sm.mvcc.revision(), 2, "a failed read-only branch writes nothing");
    }

    #[test]
    fn missing_key_compares_as_zero_but_never_equals_a_value() {
        let mut sm = StateMachine::new(2);
        let create_if_absent = TxnRequest {
            compare: vec![Compare {
                target: CompareTarget::Create as i32,
                key: b("x"),
                target_union: Some(TargetUnion::CreateRevision(0)),
                ..Default::default()
            }],
            success: vec![RequestOp { request: Some(Request::RequestPut(put("x", "1", 0))) }],
            failure: vec![],
        };
        let Output::Txn(r) = run(&mut sm, Op::Txn(create_if_absent.clone())).result.unwrap() else { panic!() };
        assert!(r.succeeded);
        let Output::Txn(r) = run(&mut sm, Op::Txn(create_if_absent)).result.unwrap() else { panic!() };
        assert!(!r.succeeded);
        let value_eq = Compare { target: CompareTarget::Value as i32, key: b("nope"), target_union: Some(TargetUnion::Value(Bytes::new())), ..Default::default() };
        assert!(!sm.compare(&value_eq));
    }

    #[test]
    fn a_txn_with_an_unknown_lease_changes_nothing() {
        let mut sm = StateMachine::new(2);
        let t = TxnRequest {
            compare: vec![],
            success: vec![
                RequestOp { request: Some(Request::RequestPut(put("a", "1", 0))) },
                RequestOp { request: Some(Request::RequestPut(put("b", "1", 77))) },
            ],
            failure: vec![],
        };
        assert_eq!(run(&mut sm, Op::Txn(t)).result.unwrap_err(), EtcdError::LeaseNotFound);
        assert_eq!(sm.mvcc.revision(), 0);
        assert!(get(&sm, "a").is_none());
    }

    #[test]
    fn txn_ops_share_one_revision_and_see_their_own_writes() {
        let mut sm = StateMachine::new(2);
        let t = TxnRequest {
            compare: vec![],
            success: vec![
                RequestOp { request: Some(Request::RequestPut(put("a", "1", 0))) },
                RequestOp { request: Some(Request::RequestPut(put("b", "2", 0))) },
                RequestOp { request: Some(Request::RequestRange(RangeRequest { key: b("a"), range_end: b("c"), ..Default::default() })) },
            ],
            failure: vec![],
        };
        let Output::Txn(r) = run(&mut sm, Op::Txn(t)).result.unwrap() else { panic!() };
        let Some(Response::ResponseRange(rr)) = &r.responses[2].response else { panic!() };
        assert_eq!(rr.count, 2);
        assert_eq!(sm.mvcc.revision(), 1);
        assert_eq!(get(&sm, "b").unwrap().mod_revision, 1);
    }

    #[test]
    fn revoking_a_lease_deletes_its_keys_in_one_revision() {
        let mut sm = StateMachine::new(2);
        let Output::LeaseGrant { ttl, .. } = run(&mut sm, Op::LeaseGrant(LeaseGrantRequest { ttl: 1, id: 9 })).result.unwrap() else { panic!() };
        assert_eq!(ttl, 2, "raised to the minimum TTL");
        assert_eq!(run(&mut sm, Op::LeaseGrant(LeaseGrantRequest { ttl: 5, id: 9 })).result.unwrap_err(), EtcdError::LeaseExist);
        run(&mut sm, Op::Put(put("a", "1", 9)));
        run(&mut sm, Op::Put(put("b", "1", 9)));
        run(&mut sm, Op::Put(put("c", "1", 0)));
        // Re-putting without the lease detaches the key.
        run(&mut sm, Op::Put(put("b", "2", 0)));
        run(&mut sm, Op::LeaseRevoke(LeaseRevokeRequest { id: 9 }));
        assert!(get(&sm, "a").is_none());
        assert!(get(&sm, "b").is_some());
        assert_eq!(sm.mvcc.revision(), 5);
        assert_eq!(run(&mut sm, Op::LeaseRevoke(LeaseRevokeRequest { id: 9 })).result.unwrap_err(), EtcdError::LeaseNotFound);
    }

    #[test]
    fn ignore_value_and_ignore_lease_keep_the_current_ones() {
        let mut sm = StateMachine::new(2);
        assert_eq!(
            run(&mut sm, Op::Put(PutRequest { key: b("k"), ignore_value: true, ..Default::default() })).result.unwrap_err(),
            EtcdError::KeyNotFound
        );
        run(&mut sm, Op::LeaseGrant(LeaseGrantRequest { ttl: 10, id: 3 }));
        run(&mut sm, Op::Put(put("k", "v", 3)));
        run(&mut sm, Op::Put(PutRequest { key: b("k"), ignore_value: true, ..Default::default() }));
        let kv = get(&sm, "k").unwrap();
        assert_eq!((kv.value, kv.lease, kv.version), (b("v"), 0, 2));
        run(&mut sm, Op::Put(PutRequest { key: b("k"), value: b("w"), ignore_lease: true, ..Default::default() }));
        assert_eq!(get(&sm, "k").unwrap().lease, 0);
    }

    #[test]
    fn range_limit_count_sort_and_keys_only() {
        let mut sm = StateMachine::new(2);
        for (k, v) in [("a", "3"), ("b", "1"), ("c", "2")] {
            run(&mut sm, Op::Put(put(k, v, 0)));
        }
        let r = sm
            .range(&RangeRequest { key: b("a"), range_end: b("d"), limit: 2, sort_order: SortOrder::Descend as i32, sort_target: SortTarget::Value as i32, keys_only: true, ..Default::default() }, false)
            .unwrap();
        assert_eq!((r.count, r.more), (3, true));
        assert_eq!(r.kvs.iter().map(|kv| kv.key.clone()).collect::<Vec<_>>(), vec![b("a"), b("c")]);
        assert!(r.kvs[0].value.is_empty());
        let r = sm.range(&RangeRequest { key: b("a"), range_end: b("d"), count_only: true, ..Default::default() }, false).unwrap();
        assert_eq!((r.count, r.kvs.len()), (3, 0));
    }

    #[test]
    fn snapshot_round_trip_keeps_everything_replicated() {
        let mut sm = StateMachine::new(2);
        run(&mut sm, Op::LeaseGrant(LeaseGrantRequest { ttl: 10, id: 3 }));
        run(&mut sm, Op::Put(put("k", "v", 3)));
        run(&mut sm, Op::Put(put("k", "w", 3)));
        sm.members.insert(5, Member { id: 5, name: "h".into(), ..Default::default() });
        sm.cluster_id = 77;
        sm.applied_index = 12;
        let back = StateMachine::from_snapshot(&sm.to_snapshot(), 2, Instant::now()).unwrap();
        assert_eq!(back.mvcc.revision(), 2);
        assert_eq!(back.leases.get(3).unwrap().keys.len(), 1);
        assert_eq!(back.members[&5].name, "h");
        assert_eq!((back.cluster_id, back.applied_index), (77, 12));
        assert_eq!(back.range(&RangeRequest { key: b("k"), revision: 1, ..Default::default() }, false).unwrap().kvs[0].value, b("v"));
    }
}
