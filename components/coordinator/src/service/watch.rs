//! etcd's Watch service: one bidirectional stream carries many watchers. A watcher created
//! with a past start revision first gets the history since then, then live events; one whose
//! start revision was compacted is cancelled with the compact revision, as etcd does.

use crate::errors::EtcdError;
use crate::handle::NodeHandle;
use crate::pb::etcdserverpb::{watch_request::RequestUnion, watch_server::Watch, *};
use crate::watch::Watcher;
use std::collections::BTreeSet;
use std::pin::Pin;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

/// etcd's default interval for progress notifications on watchers that asked for them.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(600);

pub struct WatchService {
    pub node: NodeHandle,
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<WatchResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Watch for WatchService {
    type WatchStream = WatchStream;

    async fn watch(&self, req: Request<Streaming<WatchRequest>>) -> Result<Response<WatchStream>, Status> {
        let mut input = req.into_inner();
        let node = self.node.clone();
        let stream_id = node.core.write().hub.open_stream();
        let (tx, rx) = mpsc::unbounded_channel::<WatchResponse>();
        let reader_node = node.clone();
        tokio::spawn(async move {
            let node = reader_node;
            let mut next_id: i64 = 0;
            let mut progress: BTreeSet<i64> = BTreeSet::new();
            let mut ticker = tokio::time::interval(PROGRESS_INTERVAL);
            ticker.tick().await;
            loop {
                tokio::select! {
                    msg = input.next() => {
                        let Some(Ok(msg)) = msg else { break };
                        match msg.request_union {
                            Some(RequestUnion::CreateRequest(c)) => {
                                let id = if c.watch_id != 0 { c.watch_id } else {
                                    while node.core.read().hub.has(stream_id, next_id) { next_id += 1; }
                                    next_id += 1;
                                    next_id - 1
                                };
                                if c.progress_notify { progress.insert(id); }
                                create(&node, stream_id, id, &c, &tx);
                            }
                            Some(RequestUnion::CancelRequest(c)) => {
                                node.core.write().hub.cancel(stream_id, c.watch_id);
                                progress.remove(&c.watch_id);
                                let _ = tx.send(WatchResponse { header: node.current_header(), watch_id: c.watch_id, canceled: true, ..Default::default() });
                            }
                            Some(RequestUnion::ProgressRequest(_)) => {
                                let _ = tx.send(WatchResponse { header: node.current_header(), watch_id: -1, ..Default::default() });
                            }
                            None => {}
                        }
                    }
                    _ = ticker.tick() => {
                        for id in &progress {
                            let _ = tx.send(WatchResponse { header: node.current_header(), watch_id: *id, ..Default::default() });
                        }
                    }
                }
            }
            node.core.write().hub.close_stream(stream_id);
        });
        let out = tokio_stream::wrappers::UnboundedReceiverStream::new(rx).map(move |mut r| {
            if r.header.is_none() {
                let rev = r.events.last().and_then(|e| e.kv.as_ref()).map(|kv| kv.mod_revision);
                r.header = match rev {
                    Some(rev) => node.header(rev),
                    None => node.current_header(),
                };
            }
            Ok(r)
        });
        Ok(Response::new(Box::pin(out)))
    }
}

fn create(node: &NodeHandle, stream_id: u64, id: i64, c: &WatchCreateRequest, tx: &mpsc::UnboundedSender<WatchResponse>) {
    // Under the write lock: no write can be applied between the history replay and the
    // registration, so no event is lost or repeated.
    let mut core = node.core.write();
    let rev = core.sm.mvcc.revision();
    let compact = core.sm.mvcc.compact_revision();
    let header = node.header_in(core.sm.cluster_id, rev);
    let created = WatchResponse { header, watch_id: id, created: true, ..Default::default() };
    if core.hub.has(stream_id, id) {
        let _ = tx.send(WatchResponse { canceled: true, cancel_reason: "etcdserver: duplicate watch ID".into(), ..created });
        return;
    }
    if c.key.is_empty() {
        let _ = tx.send(WatchResponse { canceled: true, cancel_reason: EtcdError::EmptyKey.to_string(), ..created });
        return;
    }
    if c.start_revision > 0 && c.start_revision < compact {
        let _ = tx.send(created.clone());
        let _ = tx.send(WatchResponse {
            header,
            watch_id: id,
            canceled: true,
            compact_revision: compact,
            cancel_reason: EtcdError::Compacted.to_string(),
            ..Default::default()
        });
        return;
    }
    let w = Watcher::new(c, id, tx.clone());
    let _ = tx.send(created);
    if c.start_revision > 0 && c.start_revision <= rev {
        let history = w.select(&core.sm.mvcc.events_since(&c.key, &c.range_end, c.start_revision));
        if !history.is_empty() {
            let _ = tx.send(WatchResponse { header, watch_id: id, events: history, ..Default::default() });
        }
    }
    core.hub.add(stream_id, w);
}
