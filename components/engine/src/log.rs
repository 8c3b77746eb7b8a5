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
END $$;";

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

/// Appends entries `(kind, cube, change)` atomically; returns the position of the last one.
/// Returns only after the commit: the caller may acknowledge.
pub async fn append(c: &mut Client, entries: &[(String, String, Value)], host: &str) -> Result<i64> {
    let tx = c.transaction().await?;
    let pos = append_in(&tx, entries, host).await?;
    tx.commit().await?;
    Ok(pos)
}

/// Appends within the caller's transaction (the designer records its audit entry in the same
/// one): nothing is in the log unless the caller commits.
pub async fn append_in(tx: &Transaction<'_>, entries: &[(String, String, Value)], host: &str) -> Result<i64> {
    let kinds: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
    let cubes: Vec<&str> = entries.iter().map(|e| e.1.as_str()).collect();
    let changes: Vec<String> = entries.iter().map(|e| e.2.to_string()).collect();
    tx.batch_execute("LOCK TABLE triad_engine.change_log IN EXCLUSIVE MODE").await?;
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
