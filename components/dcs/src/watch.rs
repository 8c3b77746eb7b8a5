//! Watches that survive the loss of a member: each resumes on another member from the first
//! revision it has not delivered, so events are neither lost nor repeated.

use std::time::Duration;

use etcd_client::{EventType, WatchOptions, WatchStream};

use crate::endpoints::Dcs;
use crate::error::{DcsError, Result};
use crate::kv::Kv;

/// One change under a watched prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    /// Created or modified (`kv.version == 1`: created).
    Put(Kv),
    /// Deleted or expired with its lease; carries the key as it was before when known.
    Delete { key: String, revision: i64, prev: Option<Kv> },
}

impl WatchEvent {
    pub fn key(&self) -> &str {
        match self {
            WatchEvent::Put(kv) => &kv.key,
            WatchEvent::Delete { key, .. } => key,
        }
    }

    pub fn revision(&self) -> i64 {
        match self {
            WatchEvent::Put(kv) => kv.mod_revision,
            WatchEvent::Delete { revision, .. } => *revision,
        }
    }
}

/// A watch of every key under a relative prefix.
pub struct Watch {
    dcs: Dcs,
    prefix: String,
    next_revision: i64,
    stream: Option<WatchStream>,
}

impl Dcs {
    /// Watches `rel_prefix` from `from_revision` (typically the revision of a [`Dcs::list`]
    /// plus one; 0 for "from now").
    pub fn watch_prefix(&self, rel_prefix: &str, from_revision: i64) -> Watch {
        Watch { dcs: self.clone(), prefix: self.key(rel_prefix), next_revision: from_revision, stream: None }
    }
}

impl Watch {
    /// The next batch of events (all of one revision or more). Reconnects, to another member
    /// if needed, until it gets some; run it inside a `select!` with the caller's own timers.
    /// Fails only when the history it needs was compacted ([`DcsError::Compacted`]).
    pub async fn next(&mut self) -> Result<Vec<WatchEvent>> {
        loop {
            if self.stream.is_none() {
                match self.open().await {
                    Ok(stream) => self.stream = Some(stream),
                    Err(e) => {
                        tracing::debug!(error = %e, prefix = %self.prefix, "watch: reconnecting");
                        tokio::time::sleep(Duration::from_millis(250)).await;
                        continue;
                    }
                }
            }
            let stream = self.stream.as_mut().expect("opened above");
            match stream.message().await {
                Ok(Some(resp)) => {
                    if resp.compact_revision() > 0 {
                        return Err(DcsError::Compacted { requested: self.next_revision, compacted: resp.compact_revision() });
                    }
                    if resp.canceled() {
                        self.stream = None;
                        continue;
                    }
                    let events: Vec<WatchEvent> = resp.events().iter().filter_map(|e| self.event(e)).collect();
                    if let Some(last) = events.last() {
                        self.next_revision = last.revision() + 1;
                        return Ok(events);
                    }
                }
                Ok(None) | Err(_) => {
                    self.stream = None;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    /// The first revision not yet delivered.
    pub fn next_revision(&self) -> i64 {
        self.next_revision
    }

    async fn open(&self) -> Result<WatchStream> {
        let (prefix, from) = (self.prefix.clone(), self.next_revision);
        self.dcs
            .call("watch", |mut c| {
                let prefix = prefix.clone();
                async move {
                    let mut options = WatchOptions::new().with_prefix().with_prev_key();
                    if from > 0 {
                        options = options.with_start_revision(from);
                    }
                    c.watch(prefix, Some(options)).await
                }
            })
            .await
    }

    fn event(&self, e: &etcd_client::Event) -> Option<WatchEvent> {
        let kv = e.kv()?;
        let kv = Kv::from_etcd(&self.dcs, kv);
        Some(match e.event_type() {
            EventType::Put => WatchEvent::Put(kv),
            EventType::Delete => WatchEvent::Delete {
                key: kv.key.clone(),
                revision: kv.mod_revision,
                prev: e.prev_kv().map(|p| Kv::from_etcd(&self.dcs, p)),
            },
        })
    }
}
