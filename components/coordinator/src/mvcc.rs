//! The multi-version key-value store: every key keeps its versions by revision until a
//! compaction drops the ones no reader can ask for any more. Revisions, versions, create and
//! mod revisions and tombstones follow etcd's mvcc package, so answers are the ones etcd gives.

use crate::errors::EtcdError;
use crate::pb::internal::{KeyHistory, Version};
use crate::pb::mvccpb::{Event, KeyValue, event::EventType};
use bytes::Bytes;
use std::collections::BTreeMap;
use std::ops::Bound;

/// A revision: `main` is bumped once per write transaction, `sub` orders changes inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rev {
    pub main: i64,
    pub sub: i64,
}

#[derive(Debug, Clone)]
struct Ver {
    rev: Rev,
    /// `None` is a tombstone: the key was deleted at `rev`.
    kv: Option<KeyValue>,
}

/// Changes made by one write transaction, in order; they all share one main revision.
#[derive(Debug, Default)]
pub struct WriteTx {
    pub main: i64,
    sub: i64,
    pub events: Vec<Event>,
}

impl WriteTx {
    pub fn changed(&self) -> bool {
        self.sub > 0
    }
}

#[derive(Debug, Default, Clone)]
pub struct Mvcc {
    keys: BTreeMap<Bytes, Vec<Ver>>,
    revision: i64,
    compact_revision: i64,
}

/// The keys a request names: one key, a half-open range, or every key from `key` on
/// (etcd's `range_end = "\0"`).
pub fn key_bounds<'a>(key: &'a [u8], range_end: &'a [u8]) -> (Bound<&'a [u8]>, Bound<&'a [u8]>) {
    if range_end.is_empty() {
        (Bound::Included(key), Bound::Included(key))
    } else if range_end == [0] {
        (Bound::Included(key), Bound::Unbounded)
    } else {
        (Bound::Included(key), Bound::Excluded(range_end))
    }
}

/// Whether `k` lies in the range a request names.
pub fn in_range(k: &[u8], key: &[u8], range_end: &[u8]) -> bool {
    if range_end.is_empty() {
        k == key
    } else if range_end == [0] {
        k >= key
    } else {
        k >= key && k < range_end
    }
}

impl Mvcc {
    pub fn revision(&self) -> i64 {
        self.revision
    }

    pub fn compact_revision(&self) -> i64 {
        self.compact_revision
    }

    /// Number of keys with any stored version (live or historical).
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// Bytes held by keys and values of every stored version (the "db size" of Status).
    pub fn approximate_bytes(&self) -> usize {
        self.keys
            .iter()
            .map(|(k, vers)| k.len() + vers.iter().map(|v| 32 + v.kv.as_ref().map_or(0, |kv| kv.value.len())).sum::<usize>())
            .sum()
    }

    /// Checks that `rev` (0 = latest) can be read.
    pub fn check_rev(&self, rev: i64) -> Result<i64, EtcdError> {
        if rev <= 0 {
            return Ok(self.revision);
        }
        if rev > self.revision {
            return Err(EtcdError::FutureRev);
        }
        if rev < self.compact_revision {
            return Err(EtcdError::Compacted);
        }
        Ok(rev)
    }

    fn iter_range<'a>(&'a self, key: &'a [u8], range_end: &'a [u8]) -> impl Iterator<Item = (&'a Bytes, &'a Vec<Ver>)> + 'a {
        // An end at or before the start names no key (and would make BTreeMap::range panic).
        let empty = !range_end.is_empty() && range_end != [0] && range_end <= key;
        let bounds = key_bounds(key, range_end);
        let iter = if empty { None } else { Some(self.keys.range::<[u8], _>(bounds)) };
        iter.into_iter().flatten()
    }

    /// Live key-values in the range as of main revision `rev` (already checked), in key order.
    pub fn range_at<'a>(&'a self, key: &'a [u8], range_end: &'a [u8], rev: i64) -> impl Iterator<Item = &'a KeyValue> + 'a {
        self.iter_range(key, range_end).filter_map(move |(_, vers)| visible(vers, rev))
    }

    /// The live value of one key at the latest revision (including writes of `tx` so far).
    pub fn get(&self, key: &[u8]) -> Option<&KeyValue> {
        self.keys.get(key).and_then(|v| v.last()).and_then(|v| v.kv.as_ref())
    }

    pub fn begin(&self) -> WriteTx {
        WriteTx { main: self.revision + 1, sub: 0, events: Vec::new() }
    }

    /// Ends a write transaction: the store's revision moves only if something changed.
    pub fn commit(&mut self, tx: &WriteTx) {
        if tx.changed() {
            self.revision = tx.main;
        }
    }

    /// Writes `key`; returns the previous live value.
    pub fn put(&mut self, tx: &mut WriteTx, key: Bytes, value: Bytes, lease: i64) -> Option<KeyValue> {
        let vers = self.keys.entry(key.clone()).or_default();
        let prev = vers.last().and_then(|v| v.kv.clone());
        let (create_revision, version) = match &prev {
            Some(p) => (p.create_revision, p.version + 1),
            None => (tx.main, 1),
        };
        let kv = KeyValue { key, create_revision, mod_revision: tx.main, version, value, lease };
        vers.push(Ver { rev: Rev { main: tx.main, sub: tx.sub }, kv: Some(kv.clone()) });
        tx.sub += 1;
        tx.events.push(Event { r#type: EventType::Put as i32, kv: Some(kv), prev_kv: prev.clone() });
        prev
    }

    /// Deletes every live key in the range; returns the deleted key-values in key order.
    pub fn delete_range(&mut self, tx: &mut WriteTx, key: &[u8], range_end: &[u8]) -> Vec<KeyValue> {
        let live: Vec<Bytes> = self
            .iter_range(key, range_end)
            .filter(|(_, vers)| vers.last().is_some_and(|v| v.kv.is_some()))
            .map(|(k, _)| k.clone())
            .collect();
        let mut deleted = Vec::with_capacity(live.len());
        for k in live {
            let vers = self.keys.get_mut(&k).expect("key listed above");
            let prev = vers.last().and_then(|v| v.kv.clone()).expect("live key");
            vers.push(Ver { rev: Rev { main: tx.main, sub: tx.sub }, kv: None });
            tx.sub += 1;
            let tomb = KeyValue { key: k, mod_revision: tx.main, ..Default::default() };
            tx.events.push(Event { r#type: EventType::Delete as i32, kv: Some(tomb), prev_kv: Some(prev.clone()) });
            deleted.push(prev);
        }
        deleted
    }

    /// Drops every version that no read at `rev` or later can see. Errors as etcd does for a
    /// revision already compacted or not yet written.
    pub fn compact(&mut self, rev: i64) -> Result<(), EtcdError> {
        if rev <= self.compact_revision {
            return Err(EtcdError::Compacted);
        }
        if rev > self.revision {
            return Err(EtcdError::FutureRev);
        }
        self.keys.retain(|_, vers| {
            // The newest version at or below `rev` is still visible at `rev`; older ones are not.
            let keep_from = vers.iter().rposition(|v| v.rev.main <= rev);
            if let Some(i) = keep_from {
                let drop_to = if vers[i].kv.is_none() { i + 1 } else { i };
                vers.drain(..drop_to);
            }
            !vers.is_empty()
        });
        self.compact_revision = rev;
        Ok(())
    }

    /// Events on keys in the range with main revision at least `start`, oldest first, each
    /// with its previous value.
    pub fn events_since(&self, key: &[u8], range_end: &[u8], start: i64) -> Vec<Event> {
        let mut out: Vec<(Rev, Event)> = Vec::new();
        for (k, vers) in self.iter_range(key, range_end) {
            let first = vers.partition_point(|v| v.rev.main < start);
            for i in first..vers.len() {
                let prev = if i > 0 { vers[i - 1].kv.clone() } else { None };
                let ev = match &vers[i].kv {
                    Some(kv) => Event { r#type: EventType::Put as i32, kv: Some(kv.clone()), prev_kv: prev },
                    None => Event {
                        r#type: EventType::Delete as i32,
                        kv: Some(KeyValue { key: k.clone(), mod_revision: vers[i].rev.main, ..Default::default() }),
                        prev_kv: prev,
                    },
                };
                out.push((vers[i].rev, ev));
            }
        }
        out.sort_by_key(|(r, _)| *r);
        out.into_iter().map(|(_, e)| e).collect()
    }

    pub fn to_records(&self) -> (i64, i64, Vec<KeyHistory>) {
        let keys = self
            .keys
            .iter()
            .map(|(k, vers)| KeyHistory {
                key: k.clone(),
                versions: vers
                    .iter()
                    .map(|v| Version { main: v.rev.main, sub: v.rev.sub, tombstone: v.kv.is_none(), kv: v.kv.clone() })
                    .collect(),
            })
            .collect();
        (self.revision, self.compact_revision, keys)
    }

    pub fn from_records(revision: i64, compact_revision: i64, keys: Vec<KeyHistory>) -> Mvcc {
        let keys = keys
            .into_iter()
            .map(|h| {
                let vers = h
                    .versions
                    .into_iter()
                    .map(|v| Ver { rev: Rev { main: v.main, sub: v.sub }, kv: if v.tombstone { None } else { v.kv } })
                    .collect();
                (h.key, vers)
            })
            .collect();
        Mvcc { keys, revision, compact_revision }
    }
}

fn visible(vers: &[Ver], rev: i64) -> Option<&KeyValue> {
    let i = vers.partition_point(|v| v.rev.main <= rev);
    if i == 0 { None } else { vers[i - 1].kv.as_ref() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    fn put(m: &mut Mvcc, k: &str, v: &str) -> i64 {
        let mut tx = m.begin();
        m.put(&mut tx, b(k), b(v), 0);
        m.commit(&tx);
        tx.main
    }

    fn del(m: &mut Mvcc, k: &str, end: &str) -> usize {
        let mut tx = m.begin();
        let n = m.delete_range(&mut tx, k.as_bytes(), end.as_bytes()).len();
        m.commit(&tx);
        n
    }

    fn keys_at(m: &Mvcc, k: &str, end: &[u8], rev: i64) -> Vec<(String, String)> {
        m.range_at(k.as_bytes(), end, rev)
            .map(|kv| (String::from_utf8_lossy(&kv.key).into(), String::from_utf8_lossy(&kv.value).into()))
            .collect()
    }

    #[test]
    fn revisions_versions_and_create_revisions_follow_etcd() {
        let mut m = Mvcc::default();
        assert_eq!(put(&mut m, "a", "1"), 1);
        assert_eq!(put(&mut m, "a", "2"), 2);
        let kv = m.get(b"a").unwrap();
        assert_eq!((kv.create_revision, kv.mod_revision, kv.version), (1, 2, 2));
        assert_eq!(del(&mut m, "a", ""), 1);
        assert_eq!(m.revision(), 3);
        // Deleting nothing writes nothing: the revision stays.
        assert_eq!(del(&mut m, "a", ""), 0);
        assert_eq!(m.revision(), 3);
        put(&mut m, "a", "3");
        let kv = m.get(b"a").unwrap();
        assert_eq!((kv.create_revision, kv.mod_revision, kv.version), (4, 4, 1));
    }

    #[test]
    fn reads_at_old_revisions_see_old_values() {
        let mut m = Mvcc::default();
        put(&mut m, "a", "1");
        put(&mut m, "b", "1");
        put(&mut m, "a", "2");
        del(&mut m, "b", "");
        assert_eq!(keys_at(&m, "a", b"\0", 2), vec![("a".into(), "1".into()), ("b".into(), "1".into())]);
        assert_eq!(keys_at(&m, "a", b"\0", 4), vec![("a".into(), "2".into())]);
        assert_eq!(keys_at(&m, "a", b"b", 3), vec![("a".into(), "2".into())]);
    }

    #[test]
    fn compaction_drops_history_and_refuses_old_reads() {
        let mut m = Mvcc::default();
        put(&mut m, "a", "1");
        put(&mut m, "a", "2");
        put(&mut m, "b", "1");
        del(&mut m, "b", "");
        m.compact(4).unwrap();
        assert_eq!(m.check_rev(3), Err(EtcdError::Compacted));
        assert_eq!(m.check_rev(4), Ok(4));
        assert_eq!(m.check_rev(5), Err(EtcdError::FutureRev));
        assert_eq!(m.compact(4), Err(EtcdError::Compacted));
        assert_eq!(m.compact(9), Err(EtcdError::FutureRev));
        // The deleted key's tombstone is gone entirely; the live key keeps its newest version.
        assert_eq!(m.key_count(), 1);
        assert_eq!(keys_at(&m, "", b"\0", 4), vec![("a".into(), "2".into())]);
    }

    #[test]
    fn events_since_lists_puts_and_deletes_in_revision_order_with_prev() {
        let mut m = Mvcc::default();
        put(&mut m, "b", "1");
        put(&mut m, "a", "1");
        put(&mut m, "b", "2");
        del(&mut m, "a", "");
        let ev = m.events_since(b"a", b"c", 2);
        let summary: Vec<(i32, String, i64)> = ev
            .iter()
            .map(|e| (e.r#type, String::from_utf8_lossy(&e.kv.as_ref().unwrap().key).into(), e.kv.as_ref().unwrap().mod_revision))
            .collect();
        assert_eq!(summary, vec![(0, "a".into(), 2), (0, "b".into(), 3), (1, "a".into(), 4)]);
        assert_eq!(ev[1].prev_kv.as_ref().unwrap().value, b("1"));
        assert_eq!(ev[2].prev_kv.as_ref().unwrap().value, b("1"));
    }

    #[test]
    fn records_round_trip() {
        let mut m = Mvcc::default();
        put(&mut m, "a", "1");
        del(&mut m, "a", "");
        put(&mut m, "b", "2");
        let (r, c, keys) = m.to_records();
        let back = Mvcc::from_records(r, c, keys);
        assert_eq!(back.revision(), 3);
        assert_eq!(keys_at(&back, "", b"\0", 1), vec![("a".into(), "1".into())]);
        assert_eq!(keys_at(&back, "", b"\0", 3), vec![("b".into(), "2".into())]);
    }
}
