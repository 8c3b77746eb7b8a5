//! Group commit (Board's upload interval, made lossless): writes that arrive within
//! `upload_interval` of the first waiting one share one change-log transaction. Each write is
//! acknowledged only after that transaction committed, with its own last log position; if
//! the commit fails, every write of the group fails and none is in the log.

use std::time::Duration;

use anyhow::{Result, anyhow};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::Client;

use crate::log;

type Entries = Vec<(String, String, Value)>;
type Request = (Entries, oneshot::Sender<Result<i64, String>>);

pub struct Committer {
    queue: mpsc::UnboundedSender<Request>,
}

impl Committer {
    /// Starts the committing task (needs a tokio runtime).
    pub fn start(dsn: String, me: String, window: Duration) -> Committer {
        let (queue, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(rx, dsn, me, window));
        Committer { queue }
    }

    /// Commits `entries` (with whatever else arrives within the window); the position of the
    /// last of them once committed.
    pub async fn commit(&self, entries: Entries) -> Result<i64> {
        let (tx, rx) = oneshot::channel();
        self.queue.send((entries, tx)).map_err(|_| anyhow!("the committer stopped"))?;
        rx.await.map_err(|_| anyhow!("the committer stopped"))?.map_err(|e| anyhow!(e))
    }
}

/// The last log position of each write of a group, given the group's last position.
pub fn positions(last: i64, sizes: &[usize]) -> Vec<i64> {
    let total: i64 = sizes.iter().map(|s| *s as i64).sum();
    let mut at = last - total;
    sizes
        .iter()
        .map(|s| {
            at += *s as i64;
            at
        })
        .collect()
}

async fn run(mut rx: mpsc::UnboundedReceiver<Request>, dsn: String, me: String, window: Duration) {
    let mut client: Option<Client> = None;
    while let Some(first) = rx.recv().await {
        let mut group = vec![first];
        let deadline = tokio::time::Instant::now() + window;
        loop {
            match rx.try_recv() {
                Ok(r) => group.push(r),
                Err(_) if tokio::time::Instant::now() >= deadline => break,
                Err(_) => match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(r)) => group.push(r),
                    Ok(None) | Err(_) => break,
                },
            }
        }
        let sizes: Vec<usize> = group.iter().map(|(e, _)| e.len()).collect();
        let all: Entries = group.iter().flat_map(|(e, _)| e.iter().cloned()).collect();
        let result = async {
            // A connection closed while idle (the internal HAProxy's 30 min timeout, a
            // database restart) is replaced before use: nothing was sent on it, so no write
            // is in doubt. A failure during the commit is reported, never retried blindly.
            if client.as_ref().is_none_or(|c| c.is_closed()) {
                client = Some(log::connect(&dsn).await?);
            }
            log::append(client.as_mut().unwrap(), &all, &me).await
        }
        .await;
        match result {
            Ok(last) => {
                for ((_, reply), pos) in group.into_iter().zip(positions(last, &sizes)) {
                    let _ = reply.send(Ok(pos));
                }
            }
            Err(e) => {
                client = None; // reconnect next time: the primary may have moved
                let why = format!("committing to the change log: {e:#}");
                for (_, reply) in group {
                    let _ = reply.send(Err(why.clone()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_write_gets_its_own_last_position() {
        assert_eq!(super::positions(10, &[3, 1, 2]), [7, 8, 10]);
        assert_eq!(super::positions(5, &[5]), [5]);
    }
}
