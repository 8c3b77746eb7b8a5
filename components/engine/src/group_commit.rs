//! Group commit (Board's upload interval, made lossless): writes that arrive within
//! `upload_interval` of the first waiting one share one change-log transaction. Each write is
//! acknowledged only after that transaction committed, with its own last log position; if
//! the commit fails, every write of the group fails and none is in the log. A write whose
//! model was published again since it was checked is refused alone (`log::append_checked`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::{Client, Config};
use triad_changelog::{Change, db, log};

use crate::write_stages::{Stage, WriteStages};

type Entries = Vec<Change>;
/// Entries, the log position they were checked at, where the outcome goes, and when they were
/// handed over.
type Request = (Entries, i64, oneshot::Sender<Result<i64, String>>, Instant);

pub struct Committer {
    queue: mpsc::UnboundedSender<Request>,
}

impl Committer {
    /// Starts the committing task (needs a tokio runtime).
    pub fn start(db: Config, me: String, window: Duration, stages: Arc<WriteStages>) -> Committer {
        let (queue, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(rx, db, me, window, stages));
        Committer { queue }
    }

    /// Commits `entries`, checked against the models as of log position `checked_at` (with
    /// whatever else arrives within the window); the position of the last of them once
    /// committed.
    pub async fn commit(&self, entries: Entries, checked_at: i64) -> Result<i64> {
        let (tx, rx) = oneshot::channel();
        self.queue.send((entries, checked_at, tx, Instant::now())).map_err(|_| anyhow!("the committer stopped"))?;
        rx.await.map_err(|_| anyhow!("the committer stopped"))?.map_err(|e| anyhow!(e))
    }
}

async fn run(mut rx: mpsc::UnboundedReceiver<Request>, config: Config, me: String, window: Duration, stages: Arc<WriteStages>) {
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
        let result = async {
            // A connection closed while idle (the internal HAProxy's 30 min timeout, a
            // database restart) is replaced before use: nothing was sent on it, so no write
            // is in doubt. A failure during the commit is reported, never retried blindly.
            if client.as_ref().is_none_or(|c| c.is_closed()) {
                client = Some(db::connect(&config).await?);
            }
            let started = Instant::now();
            let writes: Vec<log::CheckedWrite> = group.iter().map(|(entries, checked_at, _, _)| log::CheckedWrite { changes: entries, checked_at: *checked_at }).collect();
            let outcomes = log::append_checked(client.as_mut().unwrap(), &writes, &me).await?;
            anyhow::Ok((outcomes, started))
        }
        .await;
        match result {
            Ok((outcomes, started)) => {
                // Per acknowledged write, as `apply` and `total` are counted.
                let took = started.elapsed();
                for ((_, _, reply, handed), outcome) in group.into_iter().zip(outcomes) {
                    if outcome.is_ok() {
                        stages.record(Stage::Queue, started - handed);
                        stages.record(Stage::Commit, took);
                    }
                    let _ = reply.send(outcome);
                }
            }
            Err(e) => {
                client = None; // reconnect next time: the primary may have moved
                let why = format!("committing to the change log: {e:#}");
                for (_, _, reply, _) in group {
                    let _ = reply.send(Err(why.clone()));
                }
            }
        }
    }
}
