//! Watchers and the delivery of change events. The hub lives under the same lock as the state
//! machine, so registering a watcher (with its replay of history) and applying new writes never
//! interleave: a watcher sees every event exactly once, in revision order.

use crate::mvcc::in_range;
use crate::pb::etcdserverpb::{WatchResponse, watch_create_request::FilterType};
use crate::pb::mvccpb::{Event, event::EventType};
use bytes::Bytes;
use std::collections::HashMap;
use tokio::sync::mpsc::UnboundedSender;

/// Where a watcher's responses go, tagged with the watch id; the stream adds headers.
pub type Outbox = UnboundedSender<WatchResponse>;

#[derive(Debug, Clone)]
pub struct Watcher {
    pub watch_id: i64,
    pub key: Bytes,
    pub range_end: Bytes,
    pub prev_kv: bool,
    pub no_put: bool,
    pub no_delete: bool,
    pub out: Outbox,
}

impl Watcher {
    pub fn new(req: &crate::pb::etcdserverpb::WatchCreateRequest, watch_id: i64, out: Outbox) -> Watcher {
        Watcher {
            watch_id,
            key: req.key.clone(),
            range_end: req.range_end.clone(),
            prev_kv: req.prev_kv,
            no_put: req.filters.contains(&(FilterType::Noput as i32)),
            no_delete: req.filters.contains(&(FilterType::Nodelete as i32)),
            out,
        }
    }

    /// The events this watcher wants, shaped as it asked (prev_kv only on request).
    pub fn select(&self, events: &[Event]) -> Vec<Event> {
        events
            .iter()
            .filter(|e| {
                let kv = e.kv.as_ref().expect("events carry a key");
                let is_put = e.r#type == EventType::Put as i32;
                in_range(&kv.key, &self.key, &self.range_end) && !(is_put && self.no_put) && (is_put || !self.no_delete)
            })
            .map(|e| if self.prev_kv { e.clone() } else { Event { prev_kv: None, ..e.clone() } })
            .collect()
    }
}

#[derive(Default)]
pub struct WatchHub {
    next_stream: u64,
    /// Per watch stream, its watchers.
    streams: HashMap<u64, Vec<Watcher>>,
}

impl WatchHub {
    pub fn open_stream(&mut self) -> u64 {
        self.next_stream += 1;
        self.streams.insert(self.next_stream, Vec::new());
        self.next_stream
    }

    pub fn close_stream(&mut self, stream: u64) {
        self.streams.remove(&stream);
    }

    pub fn add(&mut self, stream: u64, w: Watcher) {
        self.streams.entry(stream).or_default().push(w);
    }

    pub fn has(&self, stream: u64, watch_id: i64) -> bool {
        self.streams.get(&stream).is_some_and(|ws| ws.iter().any(|w| w.watch_id == watch_id))
    }

    pub fn cancel(&mut self, stream: u64, watch_id: i64) -> bool {
        let Some(ws) = self.streams.get_mut(&stream) else { return false };
        let before = ws.len();
        ws.retain(|w| w.watch_id != watch_id);
        ws.len() != before
    }

    /// Delivers the events of one applied batch; watchers whose stream is gone are dropped.
    pub fn dispatch(&mut self, events: &[Event]) {
        if events.is_empty() {
            return;
        }
        for ws in self.streams.values_mut() {
            ws.retain(|w| {
                let mine = w.select(events);
                if mine.is_empty() {
                    return true;
                }
                w.out.send(WatchResponse { watch_id: w.watch_id, events: mine, ..Default::default() }).is_ok()
            });
        }
    }
}
