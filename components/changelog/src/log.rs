//! The change log in the cluster database: every acknowledged write, in commit order.
//!
//! A write is appended in one transaction that first takes the log table's EXCLUSIVE lock
//! (readers are not blocked), then numbers its entries after the current maximum. Writers are
//! thus serialised and positions increase in commit order: an engine that has applied up to
//! position N has applied exactly the writes committed before N's. The transaction ends with
//! `NOTIFY triad_engine_log`, delivered at commit, which wakes every engine's apply loop.
//! The database is reached through the host's internal HAProxy (port `db_primary`), so it
//! follows the primary across failovers.

use anyhow::{Context, Result};
use serde_json::Value;
use tokio_postgres::{Client, Transaction};

use crate::change::{Change, Row};

pub const DDL: &str = "
CREATE SCHEMA IF NOT EXISTS triad_engine;
CREATE TABLE IF NOT EXISTS triad_engine.change_log (
    pos        bigint PRIMARY KEY,
    kind       text NOT NULL,
    cube       text NOT NULL,
    change     jsonb NOT NULL,
    written_by text NOT NULL,
    at         timestamptz NOT NULL DEFAULT now()
);
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'change_log_kind_v2') THEN
    ALTER TABLE triad_engine.change_log DROP CONSTRAINT IF EXISTS change_log_kind_check;
    ALTER TABLE triad_engine.change_log ADD CONSTRAINT change_log_kind_v2 CHECK (kind IN ('cell', 'publish', 'user'));
  END IF;
END $$;
CREATE INDEX IF NOT EXISTS change_log_publishes ON triad_engine.change_log (cube, pos) WHERE kind = 'publish';";

pub const CHANNEL: &str = "triad_engine_log";

/// One log entry: a change and where it stands in the log.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub pos: i64,
    /// The host whose daemon appended it.
    pub written_by: String,
    /// The change, or why this release cannot read the row (`Change::from_row`): an engine
    /// that meets such an entry stops applying the log and reports it.
    pub change: Result<Change, String>,
}

/// Creates the log table and the caller's own tables (`extra`, more DDL) (idempotent;
/// concurrent daemons may race, the loser retries).
pub async fn migrate(c: &Client, extra: &str) -> Result<()> {
    for attempt in 0..5 {
        match c.batch_execute(&format!("{DDL}{extra}")).await {
            Ok(()) => return Ok(()),
            Err(e) if attempt < 4 => {
                tracing::debug!(error = %e, "creating the change log: retrying");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Cell writes checked against the models as of log position `checked_at`.
pub struct CheckedWrite<'a> {
    pub changes: &'a [Change],
    pub checked_at: i64,
}

/// Appends a group of checked writes in one transaction. A write whose model was published
/// again after the position it was checked at is left out with the reason (checking it again
/// against the new model is the writer's job): an entry that no engine could apply never
/// enters the log. The others get the position of their last entry.
pub async fn append_checked(c: &mut Client, writes: &[CheckedWrite<'_>], host: &str) -> Result<Vec<Result<i64, String>>> {
    let tx = c.transaction().await?;
    lock(&tx).await?;
    let models: Vec<&str> = writes.iter().flat_map(|w| w.changes.iter().filter_map(Change::cell_model)).collect();
    let rows = tx.query("SELECT cube, max(pos) FROM triad_engine.change_log WHERE kind = 'publish' AND cube = ANY($1) GROUP BY cube", &[&models]).await?;
    let published: std::collections::HashMap<String, i64> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let stale = |w: &CheckedWrite| w.changes.iter().filter_map(Change::cell_model).find_map(|m| published.get(m).filter(|p| **p > w.checked_at).map(|p| (m.to_string(), *p)));
    let mut outcome = vec![];
    let mut all = vec![];
    for w in writes {
        match stale(w) {
            Some((model, at)) => outcome.push(Err(format!(
                "model {model} was published again (log position {at}) after this write was checked against it (position {}); nothing was written: check and send the write again",
                w.checked_at
            ))),
            None => {
                all.extend(w.changes.iter().cloned());
                outcome.push(Ok(all.len() as i64));
            }
        }
    }
    if all.is_empty() {
        tx.rollback().await?;
        return Ok(outcome);
    }
    let last = append_locked(&tx, &all, host).await?;
    tx.commit().await?;
    let base = last - all.len() as i64;
    Ok(outcome.into_iter().map(|o| o.map(|n| base + n)).collect())
}

/// Appends within the caller's transaction (the designer records its audit entry in the same
/// one): nothing is in the log unless the caller commits.
pub async fn append_in(tx: &Transaction<'_>, changes: &[Change], host: &str) -> Result<i64> {
    lock(tx).await?;
    append_locked(tx, changes, host).await
}

/// Takes the log's lock for the rest of the caller's transaction: appends are serialised.
pub async fn lock(tx: &Transaction<'_>) -> Result<()> {
    tx.batch_execute("LOCK TABLE triad_engine.change_log IN EXCLUSIVE MODE").await?;
    Ok(())
}

/// The model `name` as last published in the log (the caller holds the lock, so it stays the
/// last until the caller commits): cells checked against it can be appended.
pub async fn published_model(tx: &Transaction<'_>, name: &str) -> Result<Option<Value>> {
    let row = tx.query_opt("SELECT change::text FROM triad_engine.change_log WHERE kind = 'publish' AND cube = $1 ORDER BY pos DESC LIMIT 1", &[&name.to_lowercase()]).await?;
    row.map(|r| serde_json::from_str(r.get::<_, &str>(0)).context("a published model in the change log")).transpose()
}

/// Numbers and inserts the entries after the current maximum; the caller holds the lock.
pub async fn append_locked(tx: &Transaction<'_>, changes: &[Change], host: &str) -> Result<i64> {
    let rows: Vec<Row> = changes.iter().map(Change::to_row).collect();
    let kinds: Vec<&str> = rows.iter().map(|r| r.kind.as_str()).collect();
    let cubes: Vec<&str> = rows.iter().map(|r| r.cube.as_str()).collect();
    let texts: Vec<String> = rows.iter().map(|r| r.change.to_string()).collect();
    let base: i64 = tx.query_one("SELECT COALESCE(max(pos), 0) FROM triad_engine.change_log", &[]).await?.get(0);
    tx.execute(
        "INSERT INTO triad_engine.change_log (pos, kind, cube, change, written_by)
         SELECT $1 + t.ord, t.k, t.c, t.ch::jsonb, $5
         FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS t(k, c, ch, ord)",
        &[&base, &kinds, &cubes, &texts, &host],
    )
    .await?;
    tx.batch_execute(&format!("NOTIFY {CHANNEL}")).await?;
    Ok(base + changes.len() as i64)
}

/// The entries after `pos`, in order, at most `limit`.
pub async fn tail(c: &Client, pos: i64, limit: i64) -> Result<Vec<Entry>> {
    let rows = c.query("SELECT pos, kind, cube, change::text, written_by FROM triad_engine.change_log WHERE pos > $1 ORDER BY pos LIMIT $2", &[&pos, &limit]).await?;
    Ok(rows
        .iter()
        .map(|r| {
            let change = serde_json::from_str(r.get::<_, &str>(3)).map_err(|e| e.to_string()).and_then(|change| Change::from_row(Row { kind: r.get(1), cube: r.get(2), change }));
            Entry { pos: r.get(0), change, written_by: r.get(4) }
        })
        .collect())
}
