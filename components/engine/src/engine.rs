//! The engine's state and its two data paths: writes (checked against the model, appended to
//! the change log, acknowledged once committed and applied here) and replication (every
//! engine applies the log in order, woken by NOTIFY, polling every `download_interval`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use futures::StreamExt;
use serde_json::{Map, Value};
use tokio::sync::{Notify, watch};
use tokio_postgres::AsyncMessage;
use triad_changelog::Change;
use triad_config::Cluster;

use crate::group_commit::Committer;
use crate::log::{self, Entry};
use crate::store::Image;
use crate::lifecycle::{Lifecycle, Phase};
use crate::view::{Touched, View};
use crate::write_stages::{Stage, WriteStages};

pub struct Engine {
    pub me: String,
    pub cluster: Cluster,
    /// The cluster database through this host's internal HAProxy (the primary).
    pub db: tokio_postgres::Config,
    /// The mutable image: the replication loop (and local-only writes, and the snapshot
    /// writer's copy) take it; queries never do, they read `view`.
    pub image: Mutex<Image>,
    /// The immutable image queries and write checks read, swapped whole after each batch.
    view: arc_swap::ArcSwap<View>,
    applied: watch::Sender<i64>,
    committer: std::sync::OnceLock<Committer>,
    /// `[engine] max_concurrent_queries` permits.
    pub query_slots: tokio::sync::Semaphore,
    /// Argon2 PHC hashes of SQL users: the cluster file's [[users]], then the designer's
    /// changes as they arrive through the change log.
    pub users: RwLock<HashMap<String, String>>,
    /// SQL users' roles (`user_roles`), from the same sources.
    pub roles: RwLock<HashMap<String, triad_config::UserRole>>,
    pub data_provider: bool,
    pub data_consumer: bool,
    /// Registered, caught up, peers reached, left, faulted: one value (`lifecycle`).
    lifecycle: watch::Sender<Lifecycle>,
    /// The SQL catalog (cubes, pg_catalog, information_schema) and parser.
    pub sessions: crate::catalog::Sessions,
    /// Where acknowledged writes spent their time (`/status`).
    pub write_stages: Arc<WriteStages>,
    /// The memory budgets in force (`memory_budget`: set, or derived from the service's limit).
    pub budgets: crate::memory_budget::Budgets,
    /// The memory all running queries hold (`query_memory`).
    pub query_memory: Arc<crate::query_memory::QueryMemory>,
}

impl Engine {
    /// The engine of host `me`; its state (the spill directory) lives under `state_dir`.
    pub fn new(cluster: Cluster, me: &str, state_dir: &std::path::Path) -> Result<Engine> {
        let f = cluster.file();
        let host = cluster.host(me)?;
        let db = triad_changelog::db::config(&cluster, me, "triad-engine")?;
        let users = f.users.iter().map(|u| (u.name.clone(), u.password_hash.clone())).collect();
        let limit = crate::memory_budget::service_limit();
        let (budgets, warnings) = crate::memory_budget::budgets(f.engine.process_memory_budget.map(|b| b.get()), f.engine.query_memory_budget.map(|b| b.get()), limit);
        for warning in warnings {
            tracing::warn!("{warning}");
        }
        let spill_dir = crate::spill::directory(state_dir);
        let (spill, spill_budget) = crate::spill::disk_manager(&spill_dir, f.engine.spill_disk_budget.map(|b| b.get()))?;
        tracing::info!(process_mib = budgets.process >> 20, query_mib = budgets.query >> 20, service_limit_mib = limit >> 20, spill_mib = spill_budget >> 20, spill_dir = %spill_dir.display(), "memory and spill budgets");
        Ok(Engine {
            me: me.to_string(),
            db,
            image: Mutex::new(Image::default()),
            view: arc_swap::ArcSwap::from_pointee(View::default()),
            applied: watch::channel(0).0,
            committer: std::sync::OnceLock::new(),
            query_slots: tokio::sync::Semaphore::new(f.engine.max_concurrent_queries.max(1) as usize),
            users: RwLock::new(users),
            roles: RwLock::new(Self::cluster_file_roles(f)),
            data_provider: host.data_provider,
            data_consumer: host.data_consumer,
            lifecycle: watch::channel(Lifecycle::default()).0,
            sessions: crate::catalog::Sessions::new().context("setting up the SQL catalog")?.spilling_to(spill),
            write_stages: Arc::default(),
            budgets,
            query_memory: Arc::new(crate::query_memory::QueryMemory::new(budgets)),
            cluster,
        })
    }

    /// The roles of the cluster file's `[[users]]`.
    fn cluster_file_roles(f: &triad_config::ClusterFile) -> HashMap<String, triad_config::UserRole> {
        f.users.iter().map(|u| (u.name.clone(), u.role)).collect()
    }

    /// Serving: registered in the coordinator, caught up with the log, every peer reached,
    /// not leaving, applying the log without fault (`lifecycle`).
    pub fn serving(&self) -> bool {
        self.lifecycle.borrow().serving()
    }

    pub fn phase(&self) -> Phase {
        self.lifecycle.borrow().phase()
    }

    /// Records what the engine achieved or what stops it; true if that changed anything.
    pub fn update_lifecycle(&self, change: impl FnOnce(&mut Lifecycle)) -> bool {
        self.lifecycle.send_if_modified(|l| {
            let before = l.clone();
            change(l);
            *l != before
        })
    }

    pub fn applied(&self) -> i64 {
        *self.applied.borrow()
    }

    /// Checks cell writes to `model.cube` against the model; all or none.
    pub fn check_cells(&self, model: &str, cube: &str, cells: &[Map<String, Value>]) -> Result<Checked> {
        self.check_writes(&[(model, cube, cells)])
    }

    /// Checks cell writes to several cubes (a transaction's) against the models of the image;
    /// all or none. The same check runs again when any engine applies them from the log.
    pub fn check_writes(&self, writes: &[(&str, &str, &[Map<String, Value>])]) -> Result<Checked> {
        let view = self.view();
        let mut entries = vec![];
        for (model, cube, cells) in writes {
            let definition = &view.cube(model, cube).ok_or_else(|| anyhow!("relation \"{model}.{cube}\" does not exist (published cubes: {})", view.cube_names()))?.cube;
            for (i, c) in cells.iter().enumerate() {
                let ok = triad_changelog::cell::check(definition, c).map_err(|e| if cells.len() > 1 { anyhow!("row {}: {e}", i + 1) } else { e })?;
                entries.push(Change::cell(model, cube, ok));
            }
        }
        Ok(Checked { entries, at: view.applied })
    }

    /// The image as of the last applied batch (immutable: hold it as long as a query runs).
    pub fn view(&self) -> Arc<View> {
        self.view.load_full()
    }

    /// Publishes the view of `image` after a change to the cubes `touched` names. Failing to
    /// build it (an Arrow error) is a fault like an entry that cannot be applied.
    fn publish_view(&self, image: &mut Image, touched: &Touched) -> Result<(), String> {
        let view = View::of(image, &self.view.load(), touched).map_err(|e| format!("building the query image: {e:#}"))?;
        self.view.store(Arc::new(view));
        Ok(())
    }

    /// Appends to the change log and waits until this engine has applied the entries: after
    /// this returns, the write is durable in the cluster database and visible here.
    /// Cells of `local_only` cubes (Board's setting) never reach the log: they are applied
    /// here only, and are gone when this engine restarts.
    pub async fn write(&self, checked: Checked) -> Result<i64> {
        let started = std::time::Instant::now();
        let Checked { entries, at } = checked;
        if self.write_local(&entries)? {
            return Ok(self.applied());
        }
        self.fits(&entries)?;
        if !self.data_provider {
            bail!("this host is not a data provider (data_provider = false): writes go through another host");
        }
        match self.phase() {
            Phase::Serving => {}
            Phase::Leaving(why) => bail!("this engine left the cluster ({why})"),
            Phase::Faulted(why) => bail!("this engine stopped serving: it cannot apply the change log ({why})"),
            Phase::Starting | Phase::CatchingUp => bail!("this engine is not serving yet (starting or catching up with the change log)"),
        }
        let window = self.cluster.file().timings.upload_interval.get();
        let committer = self.committer.get_or_init(|| Committer::start(self.db.clone(), self.me.clone(), window, self.write_stages.clone()));
        let pos = committer.commit(entries, at).await?;
        let committed = std::time::Instant::now();
        let mut rx = self.applied.subscribe();
        let applied = tokio::time::timeout(Duration::from_secs(30), rx.wait_for(|a| *a >= pos || self.fault().is_some())).await;
        if let Some(f) = self.fault() {
            bail!("committed at log position {pos}, but this engine stopped applying the log: {f}");
        }
        applied.context("committed, but not applied here within 30 s")??;
        self.write_stages.record(Stage::Apply, committed.elapsed());
        self.write_stages.record(Stage::Total, started.elapsed());
        Ok(pos)
    }

    /// Why this engine stopped applying the change log, if it did.
    pub fn fault(&self) -> Option<String> {
        self.lifecycle.borrow().fault.clone()
    }

    /// Refuses a write that would take the image past `[engine] process_memory_budget` (cells
    /// already present count again: an upper bound). The log cannot refuse what others wrote,
    /// so the check is at the door, before the commit.
    fn fits(&self, entries: &[Change]) -> Result<()> {
        let budget = self.budgets.process as usize;
        let held = self.view().bytes;
        let adding: usize = entries.iter().map(|c| 2 * (c.to_row().change.to_string().len() + 64)).sum();
        memory_check(held, adding, budget).map_err(|e| anyhow!(e))
    }

    /// Applies the entries here if they all write `local_only` cubes; `Ok(false)` if none
    /// does; an error if a write mixes both (it could not be all-or-nothing).
    fn write_local(&self, entries: &[Change]) -> Result<bool> {
        let mut image = self.image.lock().unwrap();
        let is_local = |c: &Change| match c {
            Change::Cell { model, cube, .. } => image.cube(model, cube).is_some_and(|s| s.cube.local_only),
            _ => false,
        };
        let local = entries.iter().filter(|c| is_local(c)).count();
        if local == 0 {
            return Ok(false);
        }
        if local != entries.len() {
            bail!("one write cannot mix local_only cubes (never replicated) with replicated ones");
        }
        let mut touched = Touched::Nothing;
        for change in entries {
            if let Change::Cell { model, cube, cell } = change
                && let Some(store) = image.cube_mut(model, cube)
            {
                store.apply(cell);
                touched.cube(model, cube);
            }
        }
        self.publish_view(&mut image, &touched).map_err(|e| anyhow!(e))?;
        Ok(true)
    }

    /// Applies log entries in order (the replication loop is the only caller). An entry this
    /// engine cannot apply is a fault, never skipped: the entries before it are applied, the
    /// engine stops serving and the error names the entry; nothing after it is applied, so
    /// the image never silently diverges from the other engines'.
    pub fn apply(&self, entries: &[Entry]) -> Result<(), String> {
        let mut image = self.image.lock().unwrap();
        let mut result = Ok(());
        let mut applied = image.applied;
        let mut touched = Touched::Nothing;
        for e in entries {
            if let Err(why) = self.apply_one(&mut image, e, &mut touched) {
                let what = e.change.as_ref().map_or_else(|unreadable| format!("an entry this engine cannot read: {unreadable}"), Change::to_string);
                result = Err(format!("change log position {} ({what}, written by {}): {why}", e.pos, e.written_by));
                break;
            }
            applied = e.pos;
        }
        image.applied = applied;
        if let Err(e) = self.publish_view(&mut image, &touched) {
            result = result.and(Err(e));
        }
        drop(image);
        // The view and the fault first: a writer woken by the position sees its write, or the
        // fault.
        let fault = result.as_ref().err().cloned();
        self.update_lifecycle(|l| l.fault = fault);
        self.applied.send_replace(applied);
        result
    }

    fn apply_one(&self, image: &mut Image, e: &Entry, touched: &mut Touched) -> Result<(), String> {
        match e.change.as_ref().map_err(String::clone)? {
            Change::Publish(m) => {
                tracing::info!(pos = e.pos, model = %m.name, "model published");
                image.publish(m.clone());
                *touched = Touched::All;
            }
            Change::UserPassword { name, password_hash, role } => {
                self.users.write().unwrap().insert(name.clone(), password_hash.clone());
                // An entry without a role (an earlier release's) leaves the known one.
                if let Some(r) = role {
                    self.roles.write().unwrap().insert(name.clone(), *r);
                }
            }
            Change::UserDeleted { name } => {
                self.users.write().unwrap().remove(name);
                self.roles.write().unwrap().remove(name);
            }
            Change::Cell { model, cube, cell } => {
                let store = image.cube_mut(model, cube).ok_or_else(|| format!("cube {model}.{cube} is not published here"))?;
                if !self.data_consumer && e.written_by != self.me {
                    // Board's DataConsumer = false: keep only this host's own writes (the log
                    // position still advances).
                    return Ok(());
                }
                let cell = store.check(cell).map_err(|err| format!("{err:#}"))?;
                store.apply(&cell);
                touched.cube(model, cube);
            }
        }
        Ok(())
    }

    /// A starting engine begins from the newest snapshot, then applies the log after it.
    async fn load_snapshot(&self, client: &tokio_postgres::Client) -> Result<()> {
        let Some((image, users, roles)) = crate::snapshot_table::load_latest(client).await? else { return Ok(()) };
        let pos = image.applied;
        let cells: usize = image.cubes.values().map(|c| c.len()).sum();
        {
            let mut mine = self.image.lock().unwrap();
            if mine.applied != 0 {
                return Ok(()); // the log was applied meanwhile
            }
            *mine = image;
            self.publish_view(&mut mine, &Touched::All).map_err(|e| anyhow!(e))?;
        }
        *self.users.write().unwrap() = users;
        *self.roles.write().unwrap() = crate::user_roles::after_snapshot(&Self::cluster_file_roles(self.cluster.file()), roles);
        self.applied.send_replace(pos);
        tracing::info!(pos, cells, "loaded the snapshot; applying the log after it");
        Ok(())
    }

    /// Every cube's schema and Arrow batches, for a query; and, for the cubes that `pending`
    /// (a transaction's uncommitted writes) touches, the same tables with them applied.
    pub fn tables(&self, pending: &[crate::txn::Pending]) -> Result<(Vec<crate::catalog::CubeTable>, Vec<crate::catalog::CubeTable>)> {
        let view = self.view();
        let all = view.cubes.iter().map(|((m, c), v)| (m.clone(), c.clone(), v.schema.clone(), v.batches.clone())).collect();
        if pending.is_empty() {
            return Ok((all, vec![]));
        }
        // A transaction that wrote reads its cubes with its writes applied: built from the
        // mutable image (briefly locked), which may be a batch ahead of the view; the cubes it
        // did not write come from the view.
        let mut image = self.image.lock().unwrap();
        let mut private = vec![];
        let mut touched: Vec<(String, String)> = pending.iter().map(|p| (p.model.to_lowercase(), p.cube.to_lowercase())).collect();
        touched.sort();
        touched.dedup();
        for (m, c) in touched {
            let Some(store) = image.cube_mut(&m, &c) else { continue };
            let cells = pending.iter().filter(|p| p.model.eq_ignore_ascii_case(&m) && p.cube.eq_ignore_ascii_case(&c)).map(|p| store.check(&p.cell)).collect::<Result<Vec<_>>>()?;
            private.push((m, c, store.schema(), store.batches_with(&cells)?));
        }
        Ok((all, private))
    }

    /// The replication loop: LISTEN, apply the tail, wait for a notification or the poll
    /// interval; reconnect (through the internal HAProxy) whenever the database goes away.
    pub async fn replicate(self: Arc<Self>) {
        let interval = self.cluster.file().timings.download_interval.get();
        let wake = Arc::new(Notify::new());
        loop {
            match self.follow(&wake, interval).await {
                Ok(()) => {}
                Err(e) => tracing::warn!(error = format!("{e:#}"), "change log: reconnecting"),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    async fn follow(&self, wake: &Arc<Notify>, interval: Duration) -> Result<()> {
        let (client, mut conn) = triad_changelog::db::connect_raw(&self.db).await?;
        let notify = wake.clone();
        let (closed_tx, mut closed) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let mut messages = futures::stream::poll_fn(move |cx| conn.poll_message(cx));
            while let Some(m) = messages.next().await {
                match m {
                    Ok(AsyncMessage::Notification(_)) => notify.notify_one(),
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            let _ = closed_tx.send(());
        });
        log::migrate(&client, crate::snapshot_table::DDL).await?;
        if self.applied() == 0 && self.data_consumer {
            // A snapshot that cannot be read (written by another version, damaged) only costs
            // time: the whole log is still there.
            if let Err(e) = self.load_snapshot(&client).await {
                tracing::warn!(error = format!("{e:#}"), "the newest snapshot cannot be used; applying the whole log");
            }
        }
        client.batch_execute(&format!("LISTEN {}", log::CHANNEL)).await?;
        loop {
            let batch = log::tail(&client, self.applied(), 20_000).await?;
            let full = batch.len() == 20_000;
            if let Err(fault) = self.apply(&batch) {
                // Loud and lasting: the engine stays out of service (health 503, SQL and HTTP
                // refuse) and says why until an operator fixes the cause and restarts it.
                tracing::error!(%fault, "cannot apply the change log: this engine stopped serving");
                tokio::time::sleep(interval.max(Duration::from_secs(5))).await;
                continue;
            }
            if !full {
                if self.update_lifecycle(|l| l.caught_up = true) {
                    tracing::info!(applied = self.applied(), "caught up with the change log");
                }
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(interval) => {}
                    _ = &mut closed => anyhow::bail!("the database connection closed"),
                }
            }
        }
    }
}

/// Cell writes checked against the models as the image held them at log position `at`.
pub struct Checked {
    pub entries: Vec<Change>,
    pub at: i64,
}

/// Whether `adding` more bytes fit next to `held` within `budget`; the refusal says how much.
pub fn memory_check(held: usize, adding: usize, budget: usize) -> Result<(), String> {
    if held + adding <= budget {
        return Ok(());
    }
    let mib = |b: usize| b / (1 << 20);
    Err(format!(
        "the engine's memory budget would be exceeded: it holds about {} MiB of cubes, this write needs about {} MiB more, process_memory_budget is {} MiB; nothing was written",
        mib(held),
        mib(adding).max(1),
        mib(budget)
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn writes_past_the_memory_budget_are_refused_with_the_numbers() {
        assert!(super::memory_check(10 << 20, 1 << 20, 64 << 20).is_ok());
        let e = super::memory_check(63 << 20, 2 << 20, 64 << 20).unwrap_err();
        assert!(e.contains("holds about 63 MiB") && e.contains("2 MiB more") && e.contains("is 64 MiB"), "{e}");
    }
}
