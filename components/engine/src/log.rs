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
use tokio_postgres::{Client, NoTls, Transaction};

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

/// One log entry: a cell write to `cube` (`model.cube`), a model publication (`cube` is
/// the model's name, `change` the model), or a SQL user's change (`cube` is the user's name,
/// `change` is `{"password_hash": "$argon2id$..."}` or `{"deleted": true}`; the designer
/// writes these).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub pos: i64,
    pub kind: String,
    pub cube: String,
    pub change: Value,
    pub written_by: String,
}

/// The cluster database as `application` on host `me` sees it: through the host's internal
/// HAProxy (`db_primary`), as `[database] app_user`.
pub fn dsn(cluster: &triad_config::Cluster, me: &str, application: &str) -> Result<String> {
    let f = cluster.file();
    let host = cluster.host(me)?;
    let db = &f.database;
    let password = match &db.password_file {
        Some(p) => format!(" password='{}'", std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?.trim().replace('\'', "\\'")),
        None => String::new(),
    };
    Ok(format!("host={} port={} user={} dbname={} connect_timeout=3 application_name={application}-{me}{password}", host.address, f.ports.db_primary, db.app_user, db.name))
}

pub async fn connect(dsn: &str) -> Result<Client> {
    let (client, conn) = tokio_postgres::connect(dsn, NoTls).await.context("connecting to the cluster database")?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

/// Creates the log table (idempotent; concurrent engines may race, the loser retries).
pub async fn migrate(c: &Client) -> Result<()> {
    for attempt in 0..5 {
        match c.batch_execute(&format!("{DDL}{}", crate::snapshot::DDL)).await {
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
    pub entries: &'a [(String, String, Value)],
    pub checked_at: i64,
}

/// Appends a group of checked writes in one transaction. A write whose model was published
/// again after the position it was checked at is left out with the reason (checking it again
/// against the new model is the writer's job): an entry that no engine could apply never
/// enters the log. The others get the position of their last entry.
pub async fn append_checked(c: &mut Client, writes: &[CheckedWrite<'_>], host: &str) -> Result<Vec<Result<i64, String>>> {
    let tx = c.transaction().await?;
    lock(&tx).await?;
    let models: Vec<String> = writes.iter().flat_map(|w| w.entries.iter().filter_map(|e| cell_model(e))).collect();
    let rows = tx.query("SELECT cube, max(pos) FROM triad_engine.change_log WHERE kind = 'publish' AND cube = ANY($1) GROUP BY cube", &[&models]).await?;
    let published: std::collections::HashMap<String, i64> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let stale = |w: &CheckedWrite| w.entries.iter().filter_map(|e| cell_model(e)).find_map(|m| published.get(&m).filter(|p| **p > w.checked_at).map(|p| (m, *p)));
    let mut outcome = vec![];
    let mut all = vec![];
    for w in writes {
        match stale(w) {
            Some((model, at)) => outcome.push(Err(format!(
                "model {model} was published again (log position {at}) after this write was checked against it (position {}); nothing was written: check and send the write again",
                w.checked_at
            ))),
            None => {
                all.extend(w.entries.iter().cloned());
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

/// The model a cell entry writes to (`cube` is `model.cube`).
fn cell_model(e: &(String, String, Value)) -> Option<String> {
    (e.0 == "cell").then(|| e.1.split_once('.').map_or(e.1.as_str(), |(m, _)| m).to_string())
}

/// Appends within the caller's transaction (the designer records its audit entry in the same
/// one): nothing is in the log unless the caller commits.
pub async fn append_in(tx: &Transaction<'_>, entries: &[(String, String, Value)], host: &str) -> Result<i64> {
    lock(tx).await?;
    append_locked(tx, entries, host).await
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
pub async fn append_locked(tx: &Transaction<'_>, entries: &[(String, String, Value)], host: &str) -> Result<i64> {
    let kinds: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
    let cubes: Vec<&str> = entries.iter().map(|e| e.1.as_str()).collect();
    let changes: Vec<String> = entries.iter().map(|e| e.2.to_string()).collect();
    let base: i64 = tx.query_one("SELECT COALESCE(max(pos), 0) FROM triad_engine.change_log", &[]).await?.get(0);
    tx.execute(
        "INSERT INTO triad_engine.change_log (pos, kind, cube, change, written_by)
         SELECT $1 + t.ord, t.k, t.c, t.ch::jsonb, $5
         FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS t(k, c, ch, ord)",
        &[&base, &kinds, &cubes, &changes, &host],
    )
    .await?;
    tx.batch_execute(&format!("NOTIFY {CHANNEL}")).await?;
    Ok(base + entries.len() as i64)
}

/// The entries after `pos`, in order, at most `limit`.
pub async fn tail(c: &Client, pos: i64, limit: i64) -> Result<Vec<Entry>> {
    let rows = c.query("SELECT pos, kind, cube, change::text, written_by FROM triad_engine.change_log WHERE pos > $1 ORDER BY pos LIMIT $2", &[&pos, &limit]).await?;
    rows.iter()
        .map(|r| Ok(Entry { pos: r.get(0), kind: r.get(1), cube: r.get(2), change: serde_json::from_str(r.get::<_, &str>(3))?, written_by: r.get(4) }))
        .collect()
}
