//! The snapshot writer: while this engine holds the snapshot key (`snapshot::KEY`, bound to
//! its registration lease), it writes the image every `snapshot_interval` once the log has
//! moved on. The image format and the table are `snapshot`'s; this is only the loop.

use std::sync::Arc;

use triad_dcs::Dcs;

use crate::engine::Engine;
use crate::snapshot::{KEY, Snapshot};
use crate::snapshot_table::save;

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
        if matches!(engine.phase(), crate::lifecycle::Phase::Leaving(_)) {
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
            let roles = engine.roles.read().unwrap();
            Snapshot::take(&image, &users, &roles)
        };
        let pos = snapshot.pos;
        let r = async { save(&triad_changelog::db::connect(&engine.db).await?, snapshot, &engine.me).await }.await;
        match r {
            Ok(()) => {
                last = pos;
                tracing::info!(pos, "snapshot written");
            }
            Err(e) => tracing::warn!(error = format!("{e:#}"), "writing a snapshot"),
        }
    }
}
