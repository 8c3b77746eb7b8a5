//! Engine snapshots: one engine at a time (the holder of `engine/snapshot` in the coordinator,
//! bound to its registration lease) writes the image to `triad_engine.snapshots` every
//! `snapshot_interval` when the log has moved on; a starting engine loads the newest snapshot
//! and applies only the log after it. The log itself is kept whole: snapshots shorten
//! restarts, they do not replace the log. `local_only` cubes are never in a snapshot (their
//! cells belong to one engine), and an engine with `data_consumer = false` neither loads nor
//! writes snapshots (its image deliberately differs from the others').

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use tokio_postgres::Client;
use triad_dcs::Dcs;

use crate::engine::Engine;
use crate::log;
use crate::model::Model;
use crate::store::{Columns, Image};

pub const DDL: &str = "
CREATE TABLE IF NOT EXISTS triad_engine.snapshots (
    pos      bigint PRIMARY KEY,
    taken_by text NOT NULL,
    taken_at timestamptz NOT NULL DEFAULT now(),
    image    bytea NOT NULL
);";

const KEY: &str = "engine/snapshot";

#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Snapshot {
    pub pos: i64,
    pub models: Vec<Model>,
    pub cubes: Vec<CubeCells>,
    pub users: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct CubeCells {
    pub model: String,
    pub cube: String,
    /// Column by column: compact, and copied out of the image quickly (under its lock).
    pub columns: Columns,
}

impl Snapshot {
    pub fn take(image: &Image, users: &HashMap<String, String>) -> Snapshot {
        let cubes = image
            .cubes
            .iter()
            .filter(|(_, s)| !s.cube.local_only)
            .map(|((m, c), s)| CubeCells { model: m.clone(), cube: c.clone(), columns: s.columns() })
            .collect();
        Snapshot { pos: image.applied, models: image.models.values().cloned().collect(), cubes, users: users.iter().map(|(k, v)| (k.clone(), v.clone())).collect() }
    }

    /// The image this snapshot describes (local_only cubes empty).
    pub fn restore(self) -> Result<(Image, HashMap<String, String>)> {
        let mut image = Image::default();
        for m in self.models {
            image.publish(m);
        }
        for c in self.cubes {
            if let Some(store) = image.cube_mut(&c.model, &c.cube) {
                store.set_columns(c.columns)?;
            }
        }
        image.applied = self.pos;
        Ok((image, self.users.into_iter().collect()))
    }
}

/// The newest snapshot, restored to an image (its log position in `image.applied`).
/// Parsing and indexing millions of cells is CPU work for seconds: it runs off the async
/// threads, so the registration lease keeps being renewed meanwhile.
pub async fn load_latest(c: &Client) -> Result<Option<(Image, HashMap<String, String>)>> {
    let Some(row) = c.query_opt("SELECT image FROM triad_engine.snapshots ORDER BY pos DESC LIMIT 1", &[]).await? else { return Ok(None) };
    let bytes: Vec<u8> = row.get(0);
    let restored = tokio::task::spawn_blocking(move || serde_json::from_slice::<Snapshot>(&bytes).context("reading the newest snapshot")?.restore()).await??;
    Ok(Some(restored))
}

/// Stores a snapshot and keeps only the two newest.
pub async fn save(c: &Client, s: Snapshot, by: &str) -> Result<()> {
    let pos = s.pos;
    let bytes = tokio::task::spawn_blocking(move || serde_json::to_vec(&s)).await??;
    c.execute("INSERT INTO triad_engine.snapshots (pos, taken_by, image) VALUES ($1, $2, $3) ON CONFLICT (pos) DO NOTHING", &[&pos, &by, &bytes]).await?;
    c.execute("DELETE FROM triad_engine.snapshots WHERE pos < (SELECT min(pos) FROM (SELECT pos FROM triad_engine.snapshots ORDER BY pos DESC LIMIT 2) newest)", &[]).await?;
    Ok(())
}

/// The snapshot writer: while this engine holds the snapshot key, every `snapshot_interval`.
pub async fn run(engine: Arc<Engine>, dcs: Dcs, lease: i64, session: tokio::sync::watch::Receiver<triad_dcs::SessionState>) {
    if !engine.data_consumer {
        return;
    }
    let interval = engine.cluster.file().timings.snapshot_interval.get();
    let mut held = None;
    let mut last = 0;
    loop {
        tokio::time::sleep(interval).await;
        if engine.fenced.load(Ordering::SeqCst) {
            return;
        }
        if held.is_none() {
            held = dcs.try_acquire(KEY, engine.me.clone(), lease).await.ok().flatten();
        }
        let Some(l) = &held else { continue };
        // The registration's session by the one deadline rule, then the key itself.
        if !session.borrow().holds(lease, std::time::Instant::now()) || !l.still_held().await.unwrap_or(false) {
            held = None;
            continue;
        }
        if engine.applied() <= last {
            continue;
        }
        let snapshot = {
            let image = engine.image.lock().unwrap();
            let users = engine.users.read().unwrap();
            Snapshot::take(&image, &users)
        };
        let pos = snapshot.pos;
        let r = async { save(&log::connect(&engine.dsn).await?, snapshot, &engine.me).await }.await;
        match r {
            Ok(()) => {
                last = pos;
                tracing::info!(pos, "snapshot written");
            }
            Err(e) => tracing::warn!(error = format!("{e:#}"), "writing a snapshot"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_snapshot_restores_the_same_image_without_local_cubes() {
        let mut image = Image::default();
        image.publish(Model::from_json(json!({"name": "s", "cubes": [
            {"name": "c", "dimensions": [{"name": "d"}], "measures": [{"name": "m", "type": "float"}]},
            {"name": "scratch", "local_only": true, "dimensions": [{"name": "d"}]}]})).unwrap());
        for (cube, value) in [("c", json!({"d": "x", "m": 1.5})), ("c", json!({"d": "y", "m": 2})), ("scratch", json!({"d": "z"}))] {
            let store = image.cube_mut("s", cube).unwrap();
            let cell = store.check(value.as_object().unwrap()).unwrap();
            store.apply(&cell);
        }
        image.applied = 42;
        let users = HashMap::from([("ana".to_string(), "$argon2id$x".to_string())]);
        let snap = Snapshot::take(&image, &users);
        let bytes = serde_json::to_vec(&snap).unwrap();
        let (back, users_back) = serde_json::from_slice::<Snapshot>(&bytes).unwrap().restore().unwrap();
        assert_eq!(back.applied, 42);
        assert_eq!(users_back, users);
        let mut a = image.cube("s", "c").unwrap().cells();
        let mut b = back.cube("s", "c").unwrap().cells();
        a.sort_by(|x, y| x.0.cmp(&y.0));
        b.sort_by(|x, y| x.0.cmp(&y.0));
        assert_eq!(a, b);
        assert_eq!(back.cube("s", "scratch").unwrap().len(), 0, "local_only cells stay out of snapshots");
    }
}
