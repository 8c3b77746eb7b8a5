//! The keeper's loop: every `keeper_loop_interval` — or at once when the leader key changes
//! (a watch), so a standby reacts to the old leader's expiry without waiting for its next
//! round — observe PostgreSQL and the coordinator, [`decide`], act. The lease is a
//! [`Session`] renewed in the background every `keeper_ttl / 6`, so a long action (promote,
//! clone, rewind, which run off the async loop) never starves it.
//!
//! Fencing, twice: the lease watchdog inside this process stops PostgreSQL at once when the
//! leader's deadline (the session's rule: renewal sent + TTL − margin) passes, whatever the loop
//! is doing; and every deadline is written to the fence file that `triad-keeper fence`, a
//! separate service, enforces when this process is frozen or dead ([`crate::fence`]).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use triad_config::{Cluster, SyncMode};
use triad_dcs::{Dcs, Kv, Leadership, Session};

use crate::decision::{Action, DataState, DcsView, MemberView, Observed, PgView, decide};
use crate::member::{self, FailoverRequest, History, MemberInfo, SyncState};
use crate::pg::Postgres;
use crate::sql;

/// What the REST API and the watchdog share with the loop.
#[derive(Debug, Default)]
pub struct Shared {
    pub view: Mutex<View>,
    /// While primary: the instant after which the lease may have expired at the coordinator.
    pub fence_deadline: Mutex<Option<Instant>>,
    /// The lease the leader key is bound to while this keeper leads.
    pub leader_lease: Mutex<Option<i64>>,
    /// The fence file `triad-keeper fence` enforces.
    pub fence_file: std::path::PathBuf,
}

/// The keeper's latest view, as the REST API reports it.
#[derive(Debug, Clone, Default)]
pub struct View {
    pub me: String,
    pub cluster: String,
    pub running: bool,
    pub in_recovery: bool,
    pub streaming: bool,
    pub timeline: u32,
    pub lsn: u64,
    pub note: String,
    pub dcs_ok: bool,
    pub members: Vec<MemberInfo>,
    pub leader: Option<String>,
    pub sync: SyncState,
    pub history: History,
    pub last_loop: Option<Instant>,
}

impl Shared {
    pub fn new(fence_file: std::path::PathBuf) -> Shared {
        Shared { fence_file, ..Default::default() }
    }

    /// Sets the fencing deadline, here and in the fence file (`None`: not leading).
    pub fn set_fence(&self, deadline: Option<Instant>) {
        *self.fence_deadline.lock().unwrap() = deadline;
        let written = match deadline {
            Some(d) => crate::fence::arm(&self.fence_file, d),
            None => crate::fence::write(&self.fence_file, crate::fence::Fence::Disarmed),
        };
        if let Err(e) = written {
            tracing::error!(error = format!("{e:#}"), "writing the fence file");
        }
    }

    /// This keeper holds the leader lease right now (renewed in time).
    pub fn holds_lease(&self) -> bool {
        self.fence_deadline.lock().unwrap().is_some_and(|d| Instant::now() < d)
    }
}

pub struct Keeper {
    cluster: Cluster,
    me: String,
    dcs: Dcs,
    pub pg: Postgres,
    mode: SyncMode,
    max_lag: u64,
    interval: Duration,
    session: Session,
    leadership: Option<Leadership>,
    following: Option<String>,
    /// Since when this standby's WAL receiver has not been streaming (see `decision::stuck`).
    receiver_down_since: Option<Instant>,
    /// What the keeper last said it waits for: logged when it changes, not on every round.
    waiting_for: String,
    shared: Arc<Shared>,
}

impl Keeper {
    pub fn new(cluster: Cluster, me: &str, dcs: Dcs, pg: Postgres, shared: Arc<Shared>) -> Keeper {
        let f = cluster.file();
        let t = &f.timings;
        {
            let mut v = shared.view.lock().unwrap();
            v.me = me.to_string();
            v.cluster = f.cluster.name.clone();
        }
        let dcs = dcs.with_request_timeout(t.keeper_retry_timeout.get());
        let ttl = t.keeper_ttl.get();
        // Renewals every sixth of the TTL: a stall of the network or of this process shorter
        // than about half the TTL never costs the lease. The margin of the deadline rule is
        // as long: time for the fence to act (it polls every 100 ms) before the coordinator's
        // expiry, which is counted from its receipt of the renewal, later than its sending.
        let session = Session::start(dcs.clone(), ttl, ttl / 6, ttl / 6);
        Keeper {
            mode: f.database.synchronous_mode,
            max_lag: f.database.maximum_lag_on_failover.get(),
            interval: t.keeper_loop_interval.get(),
            dcs,
            session,
            cluster,
            me: me.to_string(),
            pg,
            leadership: None,
            following: None,
            receiver_down_since: None,
            waiting_for: String::new(),
            shared,
        }
    }

    /// Runs until `stop` resolves.
    pub async fn run(mut self, stop: impl std::future::Future<Output = ()>) -> Result<()> {
        self.pg.prepare_dirs()?;
        if self.pg.running_pid().is_none() {
            self.pg.set_aside_interrupted_rejoin()?;
        }
        tokio::spawn(watchdog(self.shared.clone(), self.pg.clone()));
        tokio::spawn(follow_renewals(self.shared.clone(), self.session.subscribe()));
        let leader_changed = Arc::new(tokio::sync::Notify::new());
        tokio::spawn(watch_leader(self.dcs.clone(), leader_changed.clone()));
        tokio::pin!(stop);
        loop {
            let started = Instant::now();
            tokio::select! {
                r = self.round() => if let Err(e) = r {
                    tracing::warn!(error = format!("{e:#}"), "keeper round failed");
                    self.shared.view.lock().unwrap().note = format!("{e:#}");
                },
                _ = &mut stop => break,
            }
            self.shared.view.lock().unwrap().last_loop = Some(Instant::now());
            tokio::select! {
                _ = tokio::time::sleep(self.interval.saturating_sub(started.elapsed())) => {}
                _ = leader_changed.notified() => tracing::debug!("the leader key changed"),
                _ = &mut stop => break,
            }
        }
        // PostgreSQL is stopped cleanly (a primary nobody fences must not keep accepting
        // writes), but the leader key is kept until its lease runs out: a keeper restarted by
        // a configuration rollout or an upgrade reclaims the key and starts the same primary
        // again, with no failover to a host that may be the one being replaced. A keeper that
        // stays down loses the key after the TTL and the synchronous standby takes over.
        tracing::info!("stopping: PostgreSQL is shut down; the leader key is left to its lease");
        *self.shared.leader_lease.lock().unwrap() = None;
        *self.shared.fence_deadline.lock().unwrap() = None;
        self.pg.stop(true).await?;
        // Disarmed only once PostgreSQL is down: until then the fence keeps the deadline.
        self.shared.set_fence(None);
        Ok(())
    }

    /// Leadership is bound to the lease it was won under: when the session's lease expired
    /// (and a new one was granted) the leadership is gone.
    fn check_session(&mut self) {
        let lease = self.session.state().lease;
        if self.leadership.as_ref().is_some_and(|l| Some(l.lease) != lease) {
            self.lose_leadership("the lease expired");
        }
    }

    /// Leading under `l`: the fence follows this lease's renewals from now on, starting with
    /// the deadline of the renewal that preceded the acquisition (the fresh-lease rule: a key
    /// won or reclaimed under a lease counts only while that lease's deadline holds).
    fn lead(&mut self, l: Leadership) {
        *self.shared.leader_lease.lock().unwrap() = Some(l.lease);
        let state = self.session.state();
        if state.lease == Some(l.lease) {
            self.shared.set_fence(state.deadline);
        }
        self.leadership = Some(l);
    }

    fn lose_leadership(&mut self, why: &str) {
        if self.leadership.take().is_some() {
            tracing::warn!(why, "no longer the leader");
            *self.shared.leader_lease.lock().unwrap() = None;
            self.shared.set_fence(Some(Instant::now()));
        }
    }

    async fn round(&mut self) -> Result<()> {
        self.check_session();
        let mut pg_view = self.observe_pg().await;
        let (dcs_view, keys) = match self.dcs.list("keeper/").await {
            Ok((kvs, _)) => (Some(self.dcs_view(&kvs)?), kvs),
            Err(e) => {
                tracing::warn!(error = %e, "coordinator unreachable");
                (None, vec![])
            }
        };
        let leader = dcs_view.as_ref().and_then(|d| d.leader.clone());
        self.track_receiver(&mut pg_view.0, pg_view.1.is_some(), leader.as_deref()).await;
        let holds = self.leadership.as_ref().is_some_and(|l| self.session.state().holds(l.lease, Instant::now()));
        if self.leadership.is_some() && !holds {
            self.lose_leadership("the lease could not be renewed in time");
        }
        let observed = Observed { me: self.me.clone(), mode: self.mode, maximum_lag: self.max_lag, dcs: dcs_view.clone(), pg: pg_view.0.clone(), holds_leadership: holds };
        let actions = decide(&observed);
        let mut note = String::new();
        for action in actions {
            tracing::debug!(?action);
            if let Action::Wait(why) = &action {
                // A keeper that waits for good must say so where operators look: seed
                // 20261209 of the soak left both keepers silent for minutes while
                // `/cluster` alone said why.
                if *why != self.waiting_for {
                    tracing::warn!(why = %why, "waiting");
                    self.waiting_for = why.clone();
                }
                note = why.clone();
                continue;
            }
            self.waiting_for.clear();
            tracing::info!(?action, "acting");
            if let Err(e) = self.act(&action, &observed).await {
                note = format!("{action:?} failed: {e:#}");
                tracing::warn!(?action, error = format!("{e:#}"), "action failed");
                break;
            }
        }
        if self.leadership.is_some() {
            if let Ok(c) = sql::connect(&self.pg).await {
                // Every app host of the cluster file keeps a slot even while it is down (a
                // rebooting standby resumes streaming instead of needing a fresh clone;
                // max_slot_wal_keep_size bounds what that costs), plus any member the
                // coordinator knows that this keeper's cluster file does not list yet.
                let mut names: Vec<String> = self.cluster.file().hosts.iter().filter(|h| h.has(triad_config::Role::App)).map(|h| h.name.clone()).collect();
                names.extend(dcs_view.iter().flat_map(|d| d.members.iter().map(|m| m.name.clone())));
                if let Err(e) = sql::sync_slots(&c, &names, &self.me).await {
                    tracing::debug!(error = %e, "replication slots");
                }
            }
        }
        self.publish(&pg_view, &note, dcs_view.is_some(), &keys).await;
        Ok(())
    }

    /// How long this standby's WAL receiver has not been streaming (only while PostgreSQL
    /// answers: a standby replaying a long backlog before it accepts connections is not
    /// stuck), and once that is `STANDBY_STUCK_AFTER`, whether its leader answers.
    async fn track_receiver(&mut self, v: &mut PgView, answered: bool, leader: Option<&str>) {
        let waiting = answered && v.running && v.data == DataState::Standby && v.following.is_some() && v.streaming_from.is_none();
        if !waiting {
            self.receiver_down_since = None;
            return;
        }
        let down_for = self.receiver_down_since.get_or_insert_with(Instant::now).elapsed();
        v.receiver_down_for = Some(down_for);
        if down_for >= crate::decision::STANDBY_STUCK_AFTER
            && let Some(l) = leader.filter(|l| v.following.as_deref() == Some(*l))
        {
            v.leader_answers = Some(self.answers_as_primary(l).await);
        }
    }

    async fn answers_as_primary(&self, host: &str) -> bool {
        let Ok(addr) = self.address_of(host) else { return false };
        let dsn = self.pg.dsn(&addr, &self.pg.superuser, "postgres");
        let ask = async {
            let (c, conn) = tokio_postgres::connect(&dsn, tokio_postgres::NoTls).await.ok()?;
            tokio::spawn(conn);
            c.query_one("SELECT NOT pg_is_in_recovery()", &[]).await.ok()?.try_get::<_, bool>(0).ok()
        };
        matches!(tokio::time::timeout(Duration::from_secs(3), ask).await, Ok(Some(true)))
    }

    async fn observe_pg(&self) -> (PgView, Option<sql::Status>) {
        let mut v = PgView { data: self.pg.data_state(), running: self.pg.running_pid().is_some(), following: self.following.clone(), ..Default::default() };
        let mut status = None;
        if v.running {
            match sql::connect(&self.pg).await {
                Ok(c) => match sql::status(&c).await {
                    Ok(s) => {
                        v.timeline = s.timeline;
                        v.lsn = s.lsn;
                        v.streaming_from = s.streaming_from.clone();
                        v.replicas = s.replicas.iter().map(|(n, sync, _)| (n.clone(), *sync)).collect();
                        v.sync_names = s.sync_names.clone();
                        status = Some(s);
                    }
                    Err(e) => tracing::debug!(error = %e, "status query"),
                },
                // Running but not (yet) accepting connections: a standby catching up.
                Err(e) => tracing::debug!(error = %e, "connecting to PostgreSQL"),
            }
        }
        (v, status)
    }

    fn dcs_view(&self, kvs: &[Kv]) -> Result<DcsView> {
        let find = |k: &str| kvs.iter().find(|kv| kv.key == k);
        let sync: SyncState = find(member::SYNC).map(|kv| serde_json::from_slice(&kv.value)).transpose()?.unwrap_or_default();
        let failover: Option<FailoverRequest> = find(member::FAILOVER).and_then(|kv| serde_json::from_slice(&kv.value).ok());
        let members: Vec<MemberView> = kvs
            .iter()
            .filter(|kv| kv.key.starts_with(member::MEMBERS))
            .filter_map(|kv| serde_json::from_slice::<MemberInfo>(&kv.value).ok())
            .map(|m| MemberView { running: m.state == "running" || m.state == "streaming", name: m.name, lsn: m.lsn })
            .collect();
        Ok(DcsView {
            initialized: find(member::INITIALIZE).is_some(),
            leader: find(member::LEADER).map(|kv| String::from_utf8_lossy(&kv.value).into_owned()),
            sync_leader: sync.leader,
            sync_standby: sync.sync_standby,
            members,
            failover_candidate: failover.map(|f| f.candidate),
        })
    }

    fn address_of(&self, host: &str) -> Result<String> {
        Ok(self.cluster.host(host).with_context(|| format!("the leader {host} is not in the cluster file"))?.address.to_string())
    }

    async fn act(&mut self, action: &Action, o: &Observed) -> Result<()> {
        let lease = self.session.state().lease.context("no lease yet")?;
        match action {
            Action::Bootstrap => {
                if !self.dcs.put_if_absent(member::INITIALIZE, self.me.clone(), None).await?.done() {
                    return Ok(()); // another keeper creates the database
                }
                tracing::info!("bootstrapping the cluster's database");
                if self.pg.data_state() == DataState::Missing {
                    let pg = self.pg.clone();
                    tokio::task::spawn_blocking(move || pg.initdb()).await??;
                    self.pg.start(None).await?;
                    sql::create_roles(&sql::connect(&self.pg).await?, &self.pg).await?;
                } else if self.pg.running_pid().is_none() {
                    self.pg.start(None).await?;
                }
                self.take_leadership(lease).await?;
            }
            Action::AcquireLeader => {
                if self.take_leadership(lease).await? && self.pg.data_state() == DataState::Standby {
                    self.promote(o).await?;
                }
            }
            Action::Reclaim => {
                if let Some(l) = self.dcs.reclaim(member::LEADER, self.me.clone(), lease).await? {
                    tracing::info!("leader key reclaimed after a restart");
                    self.lead(l);
                }
            }
            Action::Promote => self.promote(o).await?,
            Action::StartPrimary => self.pg.start(None).await?,
            Action::Demote { resign } => {
                // Fencing path: stop at once; a switchover stops cleanly.
                self.pg.stop(*resign).await?;
                if *resign && let Some(l) = &self.leadership {
                    l.resign().await?;
                }
                self.lose_leadership("demoted");
                self.shared.set_fence(None);
            }
            Action::StartStandby { leader } => {
                self.pg.stop(true).await?;
                let addr = leader.as_deref().map(|l| self.address_of(l)).transpose()?;
                self.pg.start(addr.as_deref()).await?;
                self.following = leader.clone();
            }
            Action::Clone { leader } => {
                let addr = self.address_of(leader)?;
                self.set_state_note("creating replica");
                let (pg, from) = (self.pg.clone(), addr.clone());
                tokio::task::spawn_blocking(move || pg.clone_from(&from)).await??;
                self.pg.start(Some(&addr)).await?;
                self.following = Some(leader.clone());
            }
            Action::Reclone { leader } => {
                let addr = self.address_of(leader)?;
                tracing::warn!(leader = %leader, "this standby has not streamed from its answering leader for {:?}: cloning afresh", crate::decision::STANDBY_STUCK_AFTER);
                self.set_state_note("creating replica");
                self.pg.stop(true).await?;
                let (pg, from) = (self.pg.clone(), addr.clone());
                tokio::task::spawn_blocking(move || -> Result<()> {
                    pg.set_aside("not-following")?;
                    pg.clone_from(&from)
                })
                .await??;
                self.receiver_down_since = None;
                self.pg.start(Some(&addr)).await?;
                self.following = Some(leader.clone());
            }
            Action::Rewind { leader } => {
                let addr = self.address_of(leader)?;
                self.pg.stop(true).await?;
                let (pg, from) = (self.pg.clone(), addr.clone());
                tokio::task::spawn_blocking(move || -> Result<()> {
                    if let Err(e) = pg.rewind_from(&from) {
                        if crate::pg::momentary(&format!("{e:#}")) {
                            // The directory is untouched: the next round tries again.
                            return Err(e);
                        }
                        tracing::warn!(error = format!("{e:#}"), "pg_rewind failed: cloning afresh (the old data is kept aside)");
                        pg.set_aside("rewind-failed")?;
                        pg.clone_from(&from)?;
                    }
                    Ok(())
                })
                .await??;
                self.pg.start(Some(&addr)).await?;
                self.following = Some(leader.clone());
            }
            Action::RequireStandby { names } => {
                sql::set_sync_names(&sql::connect(&self.pg).await?, names).await?;
            }
            Action::RecordSync { standby } => {
                let l = self.leadership.as_ref().context("not the leader")?;
                let value = serde_json::to_vec(&SyncState { leader: Some(self.me.clone()), sync_standby: standby.clone() })?;
                if !l.fenced_put(member::SYNC, value, None).await? {
                    self.lose_leadership("fenced write refused");
                }
            }
            Action::Wait(_) => {}
        }
        Ok(())
    }

    async fn take_leadership(&mut self, lease: i64) -> Result<bool> {
        match self.dcs.try_acquire(member::LEADER, self.me.clone(), lease).await? {
            Some(l) => {
                tracing::info!(revision = l.create_revision, "took the leader key");
                self.lead(l);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Promotes the standby, then records the promotion in the history (fenced).
    async fn promote(&mut self, o: &Observed) -> Result<()> {
        let old_timeline = o.pg.timeline.max(1);
        let lsn = o.pg.lsn;
        let pg = self.pg.clone();
        tokio::task::spawn_blocking(move || pg.promote()).await??;
        self.pg.clear_standby_mark();
        {
            // /primary answers 200 now, not after the checkpoint and the history write: the
            // balancers route writes here as soon as PostgreSQL accepts them.
            let mut v = self.shared.view.lock().unwrap();
            v.running = true;
            v.in_recovery = false;
        }
        // A checkpoint puts the new timeline in the control file at once: pg_rewind of the old
        // primary reads it from there (as do the operator's pg_control_checkpoint() checks).
        if let Ok(c) = sql::connect(&self.pg).await {
            let _ = c.batch_execute("CHECKPOINT").await;
        }
        self.following = None;
        tracing::info!(old_timeline, "promoted: this host is the primary");
        let l = self.leadership.as_ref().context("not the leader")?;
        let mut history: History = match self.dcs.get(member::HISTORY).await? {
            Some(kv) => serde_json::from_slice(&kv.value).unwrap_or_default(),
            None => vec![],
        };
        // The new timeline is read back from PostgreSQL: the entry names the one that ended.
        let ended = match sql::connect(&self.pg).await.map(|c| async move { sql::status(&c).await }) {
            Ok(f) => f.await.map(|s| s.timeline.saturating_sub(1)).unwrap_or(old_timeline),
            Err(_) => old_timeline,
        };
        let now = humantime_now();
        history.push((ended.max(1), lsn, "no recovery target specified".into(), now, self.me.clone()));
        let mut ops = vec![triad_dcs::Op::put(member::HISTORY, serde_json::to_vec(&history)?)];
        if o.dcs.as_ref().is_some_and(|d| d.failover_candidate.is_some()) {
            ops.push(triad_dcs::Op::delete(member::FAILOVER));
        }
        if !l.fenced(&ops).await? {
            self.lose_leadership("fenced write refused");
        }
        Ok(())
    }

    fn set_state_note(&self, note: &str) {
        self.shared.view.lock().unwrap().note = note.to_string();
    }

    /// Publishes this keeper's state (members/<me>, bound to its lease) and updates the API.
    async fn publish(&self, (pg, status): &(PgView, Option<sql::Status>), note: &str, dcs_ok: bool, kvs: &[Kv]) {
        let role = match (pg.data, self.leadership.is_some()) {
            (DataState::Missing, _) => "uninitialized",
            (_, true) => "primary",
            (DataState::Primary, false) if pg.running => "primary",
            _ => "replica",
        };
        let state = if !pg.running {
            "stopped"
        } else if pg.streaming_from.is_some() {
            "streaming"
        } else if status.as_ref().is_some_and(|s| s.in_recovery) {
            "starting"
        } else {
            "running"
        };
        let address = self.pg.address.clone();
        let api_url = format!("http://{}:{}/", address, triad_config::Ports::get(self.cluster.file().ports.keeper_api));
        let info = MemberInfo { name: self.me.clone(), host: address, api_url, role: role.into(), state: state.into(), timeline: pg.timeline, lsn: pg.lsn, lag: None, note: note.to_string() };
        if let Some(lease) = self.session.state().lease
            && let Ok(json) = serde_json::to_vec(&info)
            && let Err(e) = self.dcs.put(&member::member_key(&self.me), json, Some(lease)).await
        {
            tracing::debug!(error = %e, "publishing member state");
        }
        let mut v = self.shared.view.lock().unwrap();
        v.running = pg.running;
        v.in_recovery = status.as_ref().is_some_and(|s| s.in_recovery);
        v.streaming = pg.streaming_from.is_some();
        v.timeline = pg.timeline;
        v.lsn = pg.lsn;
        v.note = note.to_string();
        v.dcs_ok = dcs_ok;
        if dcs_ok {
            let find = |k: &str| kvs.iter().find(|kv| kv.key == k);
            v.leader = find(member::LEADER).map(|kv| String::from_utf8_lossy(&kv.value).into_owned());
            v.sync = find(member::SYNC).and_then(|kv| serde_json::from_slice(&kv.value).ok()).unwrap_or_default();
            v.history = find(member::HISTORY).and_then(|kv| serde_json::from_slice(&kv.value).ok()).unwrap_or_default();
            let mut members: Vec<MemberInfo> = kvs.iter().filter(|kv| kv.key.starts_with(member::MEMBERS)).filter_map(|kv| serde_json::from_slice(&kv.value).ok()).collect();
            members.retain(|m| m.name != self.me);
            members.push(info);
            members.sort_by(|a, b| a.name.cmp(&b.name));
            v.members = members;
        }
    }
}

/// Moves the fencing deadline (here and in the fence file) at each renewal of the lease the
/// leader key is bound to, as soon as the renewal answers, whatever the loop is doing.
async fn follow_renewals(shared: Arc<Shared>, mut renewals: tokio::sync::watch::Receiver<triad_dcs::SessionState>) {
    while renewals.changed().await.is_ok() {
        let state = *renewals.borrow_and_update();
        let leading = *shared.leader_lease.lock().unwrap();
        if leading.is_some() && leading == state.lease {
            let current = *shared.fence_deadline.lock().unwrap();
            // Only forward: a late answer to an older renewal never shortens nor resets it.
            if state.deadline > current {
                shared.set_fence(state.deadline);
            }
        }
    }
}

/// Wakes the loop whenever the leader key changes (created, expired, deleted).
async fn watch_leader(dcs: Dcs, changed: Arc<tokio::sync::Notify>) {
    loop {
        let mut watch = dcs.watch_prefix(member::LEADER, 0);
        loop {
            match watch.next().await {
                Ok(_) => changed.notify_one(),
                Err(e) => {
                    tracing::debug!(error = %e, "leader watch: starting again");
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Stops PostgreSQL at once when this keeper was primary and its lease may have expired.
async fn watchdog(shared: Arc<Shared>, pg: Postgres) {
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let expired = shared.fence_deadline.lock().unwrap().is_some_and(|d| Instant::now() >= d);
        if expired && pg.data_state() == DataState::Primary && pg.running_pid().is_some() {
            tracing::error!("leader lease not renewed in time: stopping PostgreSQL now (fencing)");
            if let Some(pid) = pg.running_pid() {
                crate::fence::kill_postgres(pid);
            }
            *shared.fence_deadline.lock().unwrap() = None;
        }
    }
}

fn humantime_now() -> String {
    let secs = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_secs();
    format!("{secs}")
}
