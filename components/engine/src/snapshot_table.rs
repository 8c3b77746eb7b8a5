//! The table snapshots are kept in, in the cluster database: the two newest, as
//! `snapshot_codec` writes them.

use std::time::Instant;

use anyhow::{Context, Result};
use tokio_postgres::Client;

use crate::snapshot::Snapshot;

pub const DDL: &str = "
CREATE TABLE IF NOT EXISTS triad_engine.snapshots (
    pos      bigint PRIMARY KEY,
    taken_by text NOT NULL,
    taken_at timestamptz NOT NULL DEFAULT now(),
    image    bytea NOT NULL
);";

/// The newest snapshot, restored to an image (its log position in `image.applied`).
/// Parsing and indexing millions of cells is CPU work for seconds: it runs off the async
/// threads, so the registration lease keeps being renewed meanwhile.
pub async fn load_latest(c: &Client) -> Result<Option<crate::snapshot::Restored>> {
    let started = Instant::now();
    let Some(row) = c.query_opt("SELECT image FROM triad_engine.snapshots ORDER BY pos DESC LIMIT 1", &[]).await? else { return Ok(None) };
    let bytes: Vec<u8> = row.get(0);
    let read = started.elapsed();
    let restored = tokio::task::spawn_blocking(move || {
        let t = Instant::now();
        let (mut image, users, roles) = crate::snapshot_codec::decode(&bytes).context("reading the newest snapshot")?.restore()?;
        let restore = t.elapsed();
        // The query batches too, here rather than under the image's lock on an async thread.
        for cube in image.cubes.values_mut() {
            cube.batches()?;
        }
        tracing::info!(bytes = bytes.len(), read_ms = read.as_millis() as u64, restore_ms = restore.as_millis() as u64, batches_ms = (t.elapsed() - restore).as_millis() as u64, "snapshot read");
        anyhow::Ok((image, users, roles))
    })
    .await??;
    Ok(Some(restored))
}

/// Stores a snapshot and keeps only the two newest.
pub async fn save(c: &Client, s: Snapshot, by: &str) -> Result<()> {
    let pos = s.pos;
    let bytes = tokio::task::spawn_blocking(move || crate::snapshot_codec::encode(&s)).await??;
    c.execute("INSERT INTO triad_engine.snapshots (pos, taken_by, image) VALUES ($1, $2, $3) ON CONFLICT (pos) DO NOTHING", &[&pos, &by, &bytes]).await?;
    c.execute("DELETE FROM triad_engine.snapshots WHERE pos < (SELECT min(pos) FROM (SELECT pos FROM triad_engine.snapshots ORDER BY pos DESC LIMIT 2) newest)", &[]).await?;
    Ok(())
}
