//! The Raft thread: one `RawNode` driven by ticks, peer messages and client requests. It
//! batches every proposal that arrived while the previous Ready was being written into one
//! log entry and one fsync (group commit), serves linearizable reads through ReadIndex, applies
//! committed entries to the state machine, cuts snapshots and compacts the log, and (as leader)
//! expires leases. Everything else talks to it through its inbox.

use crate::core::{PeerProgress, SharedCore, SharedStatus};
use crate::errors::EtcdError;
use crate::membership;
use crate::pb::etcdserverpb::Member;
use crate::pb::internal::{Command, CommandBatch, ConfContext, command::Op};
use crate::state::{Applied, StateMachine};
use crate::storage::RaftStorage;
use prost::Message as _;
use protobuf::Message as _;
use raft::prelude::*;
use raft::{RawNode, StateRole};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Requests to the Raft thread.
pub enum Inbox {
    Raft(Box<Message>),
    Propose(Command, Option<oneshot::Sender<Applied>>),
    Read(oneshot::Sender<()>),
    Conf(ConfRequest),
    Unreachable(u64),
    SnapshotFailed(u64),
    TransferLeader(u64),
    Stop,
}

pub struct ConfRequest {
    pub change: ConfChangeType,
    pub node_id: u64,
    pub member: Member,
    pub reply: oneshot::Sender<Result<(), EtcdError>>,
}

/// Sends Raft messages to peers and learns their addresses from the member list.
pub trait Outbound: Send {
    fn send(&self, msgs: Vec<Message>);
    fn set_members(&self, members: &BTreeMap<u64, Member>);
}

pub struct NodeConfig {
    pub id: u64,
    pub tick: Duration,
    pub election_ticks: usize,
    pub snapshot_entries: u64,
}

/// Most commands in one log entry; more wait for the next entry of the same Ready.
const MAX_BATCH: usize = 512;

pub struct Node<T: Outbound> {
    cfg: NodeConfig,
    raw: RawNode<RaftStorage<SharedCore>>,
    core: SharedCore,
    status: SharedStatus,
    out: T,
    inbox: Receiver<Inbox>,
    waiting: HashMap<u64, oneshot::Sender<Applied>>,
    queued: Vec<Command>,
    conf_queue: VecDeque<ConfRequest>,
    conf_waiting: HashMap<u64, oneshot::Sender<Result<(), EtcdError>>>,
    conf_seq: u64,
    reads_queued: Vec<oneshot::Sender<()>>,
    /// Read contexts sent with ReadIndex and not yet answered, with when they were sent.
    reads_asked: HashMap<u64, (Instant, Vec<oneshot::Sender<()>>)>,
    /// Reads whose read index is known, waiting for that index to be applied.
    reads_ready: Vec<(u64, Vec<oneshot::Sender<()>>)>,
    read_seq: u64,
    revoking: HashMap<i64, Instant>,
    last_snapshot: u64,
    role: StateRole,
    leader: u64,
}

fn raft_logger() -> slog::Logger {
    slog::Logger::root(TracingDrain, slog::o!())
}

/// Sends raft-rs's slog records to tracing (warnings and errors only: its info is chatty).
struct TracingDrain;
impl slog::Drain for TracingDrain {
    type Ok = ();
    type Err = slog::Never;
    fn log(&self, r: &slog::Record, _: &slog::OwnedKVList) -> Result<(), slog::Never> {
        match r.level() {
            slog::Level::Critical | slog::Level::Error => tracing::error!(target: "raft", "{}", r.msg()),
            slog::Level::Warning => tracing::warn!(target: "raft", "{}", r.msg()),
            slog::Level::Info => tracing::debug!(target: "raft", "{}", r.msg()),
            _ => {}
        }
        Ok(())
    }
}

impl<T: Outbound> Node<T> {
    pub fn new(
        cfg: NodeConfig,
        storage: RaftStorage<SharedCore>,
        core: SharedCore,
        status: SharedStatus,
        out: T,
        inbox: Receiver<Inbox>,
    ) -> anyhow::Result<Node<T>> {
        let applied = core.read().sm.applied_index;
        let rcfg = raft::Config {
            id: cfg.id,
            election_tick: cfg.election_ticks,
            heartbeat_tick: 1,
            applied,
            check_quorum: true,
            pre_vote: true,
            max_size_per_msg: 1 << 20,
            max_inflight_msgs: 256,
            read_only_option: raft::ReadOnlyOption::Safe,
            ..Default::default()
        };
        let raw = RawNode::new(&rcfg, storage, &raft_logger())?;
        out.set_members(&core.read().sm.members);
        Ok(Node {
            last_snapshot: applied,
            cfg,
            raw,
            core,
            status,
            out,
            inbox,
            waiting: HashMap::new(),
            queued: Vec::new(),
            conf_queue: VecDeque::new(),
            conf_waiting: HashMap::new(),
            conf_seq: 0,
            reads_queued: Vec::new(),
            reads_asked: HashMap::new(),
            reads_ready: Vec::new(),
            read_seq: 0,
            revoking: HashMap::new(),
            role: StateRole::Follower,
            leader: 0,
        })
    }

    /// Runs until `Inbox::Stop` or the inbox closes. Errors are storage failures: the caller
    /// exits the process (the service manager restarts it and Raft recovers from disk).
    pub fn run(mut self) -> anyhow::Result<()> {
        let mut next_tick = Instant::now() + self.cfg.tick;
        loop {
            let wait = next_tick.saturating_duration_since(Instant::now());
            match self.inbox.recv_timeout(wait) {
                Ok(Inbox::Stop) => return Ok(()),
                Ok(m) => self.handle(m),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            }
            // Take whatever else is waiting: all of it goes into this round's batch.
            for _ in 0..4096 {
                match self.inbox.try_recv() {
                    Ok(Inbox::Stop) => return Ok(()),
                    Ok(m) => self.handle(m),
                    Err(_) => break,
                }
            }
            if Instant::now() >= next_tick {
                next_tick += self.cfg.tick;
                if next_tick < Instant::now() {
                    next_tick = Instant::now() + self.cfg.tick;
                }
                self.on_tick();
            }
            self.flush();
            self.on_ready()?;
            self.publish_status(false);
        }
    }

    fn handle(&mut self, m: Inbox) {
        match m {
            Inbox::Raft(msg) => {
                if let Err(e) = self.raw.step(*msg) {
                    tracing::debug!("raft step: {e}");
                }
            }
            Inbox::Propose(cmd, reply) => {
                if let Some(r) = reply {
                    self.waiting.insert(cmd.id, r);
                }
                self.queued.push(cmd);
            }
            Inbox::Read(r) => self.reads_queued.push(r),
            Inbox::Conf(c) => self.conf_queue.push_back(c),
            Inbox::Unreachable(id) => self.raw.report_unreachable(id),
            Inbox::SnapshotFailed(id) => self.raw.report_snapshot(id, SnapshotStatus::Failure),
            Inbox::TransferLeader(id) => self.raw.transfer_leader(id),
            Inbox::Stop => {}
        }
    }

    fn on_tick(&mut self) {
        self.raw.tick();
        let now = Instant::now();
        if self.role == StateRole::Leader {
            self.expire_leases(now);
        }
        // ReadIndex requests are dropped by raft when there is no leader or the leader has not
        // committed in its term yet; ask again.
        let stale: Vec<u64> = self
            .reads_asked
            .iter()
            .filter(|(_, (at, _))| now.duration_since(*at) > self.cfg.tick * 3)
            .map(|(k, _)| *k)
            .collect();
        for k in stale {
            let (_, rs) = self.reads_asked.remove(&k).expect("listed");
            self.reads_queued.extend(rs.into_iter().filter(|r| !r.is_closed()));
        }
        self.waiting.retain(|_, r| !r.is_closed());
        self.conf_waiting.retain(|_, r| !r.is_closed());
        self.conf_queue.retain(|c| !c.reply.is_closed());
        self.reads_queued.retain(|r| !r.is_closed());
        self.publish_status(true);
    }

    fn expire_leases(&mut self, now: Instant) {
        let expired = self.core.read().sm.leases.expired(now);
        let retry_after = self.cfg.tick * self.cfg.election_ticks as u32 * 2;
        self.revoking.retain(|id, at| expired.contains(id) && now.duration_since(*at) < retry_after);
        for id in expired {
            if self.revoking.contains_key(&id) {
                continue;
            }
            self.revoking.insert(id, now);
            let op = Op::LeaseRevoke(crate::pb::etcdserverpb::LeaseRevokeRequest { id });
            self.queued.push(Command { id: 0, origin: 0, op: Some(op) });
        }
    }

    fn flush(&mut self) {
        if self.raw.raft.leader_id == 0 {
            return; // keep everything until a leader is known; callers time out on their own
        }
        while !self.queued.is_empty() {
            let n = self.queued.len().min(MAX_BATCH);
            let commands: Vec<Command> = self.queued.drain(..n).collect();
            let data = CommandBatch { commands }.encode_to_vec();
            if let Err(e) = self.raw.propose(vec![], data.clone()) {
                // Dropped (e.g. leadership moving): retry next round.
                tracing::debug!("proposal dropped: {e}");
                let back = CommandBatch::decode(&data[..]).expect("just encoded").commands;
                self.queued.splice(0..0, back);
                break;
            }
        }
        if !self.conf_queue.is_empty() && self.role == StateRole::Leader && !self.raw.raft.has_pending_conf() {
            let req = self.conf_queue.pop_front().expect("non-empty");
            self.conf_seq += 1;
            let ctx = ConfContext { id: self.conf_seq, origin: self.cfg.id, member: Some(req.member) };
            let mut cc = ConfChangeV2::default();
            let mut single = ConfChangeSingle::default();
            single.set_change_type(req.change);
            single.node_id = req.node_id;
            cc.mut_changes().push(single);
            cc.context = ctx.encode_to_vec().into();
            match self.raw.propose_conf_change(vec![], cc) {
                Ok(()) => {
                    self.conf_waiting.insert(self.conf_seq, req.reply);
                }
                Err(_) => {
                    let _ = req.reply.send(Err(EtcdError::NotLeader));
                }
            }
        }
        if !self.reads_queued.is_empty() {
            self.read_seq += 1;
            self.raw.read_index(self.read_seq.to_be_bytes().to_vec());
            let rs = std::mem::take(&mut self.reads_queued);
            self.reads_asked.insert(self.read_seq, (Instant::now(), rs));
        }
    }

    fn on_ready(&mut self) -> anyhow::Result<()> {
        if !self.raw.has_ready() {
            return Ok(());
        }
        let mut rd = self.raw.ready();
        if let Some(ss) = rd.ss() {
            self.on_role(ss.raft_state, ss.leader_id);
        }
        self.out.send(rd.take_messages());
        if !rd.snapshot().is_empty() {
            self.install_snapshot(rd.snapshot().clone())?;
        }
        let committed = rd.take_committed_entries();
        self.apply(committed)?;
        let hs = rd.hs().cloned();
        self.raw.mut_store().persist(rd.entries(), hs.as_ref(), rd.must_sync())?;
        for rs in rd.take_read_states() {
            let key = u64::from_be_bytes(rs.request_ctx.as_slice().try_into().unwrap_or_default());
            if let Some((_, waiters)) = self.reads_asked.remove(&key) {
                self.reads_ready.push((rs.index, waiters));
            }
        }
        self.out.send(rd.take_persisted_messages());
        let mut light = self.raw.advance(rd);
        if let Some(c) = light.commit_index() {
            self.raw.mut_store().set_commit(c)?;
        }
        self.out.send(light.take_messages());
        self.apply(light.take_committed_entries())?;
        self.raw.advance_apply();
        self.after_apply()
    }

    fn on_role(&mut self, role: StateRole, leader_id: u64) {
        if leader_id != 0 && leader_id != self.leader {
            // A holder could not renew while there was no leader: one election timeout of
            // grace, on top of the deadline of the last renewal every member applied (see
            // lease.rs for why not etcd's full refresh). Followers do the same so their
            // TimeToLive answers match the leader's clock.
            let grace = self.cfg.tick * self.cfg.election_ticks as u32;
            self.core.write().sm.leases.extend_all(Instant::now(), grace);
        }
        if role == StateRole::Leader && self.role != StateRole::Leader {
            self.revoking.clear();
            tracing::info!(term = self.raw.raft.term, "became leader");
        }
        self.leader = leader_id;
        self.role = role;
    }

    fn install_snapshot(&mut self, snap: Snapshot) -> anyhow::Result<()> {
        let sm = StateMachine::from_snapshot(snap.get_data(), self.core.read().sm.min_lease_ttl, Instant::now())?;
        self.raw.mut_store().install_snapshot(&snap)?;
        self.out.set_members(&sm.members);
        tracing::info!(index = sm.applied_index, "installed snapshot from leader");
        self.last_snapshot = sm.applied_index;
        self.core.write().sm = sm;
        Ok(())
    }

    fn apply(&mut self, entries: Vec<Entry>) -> anyhow::Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let now = Instant::now();
        let core = self.core.clone();
        let mut core = core.write();
        let mut events = Vec::new();
        for e in entries {
            if e.index <= core.sm.applied_index {
                continue; // already in the state machine (replay after a snapshot)
            }
            match e.get_entry_type() {
                EntryType::EntryNormal if !e.data.is_empty() => {
                    let batch = CommandBatch::decode(&e.data[..])?;
                    for cmd in &batch.commands {
                        let applied = core.sm.apply(cmd, now, &mut events);
                        if cmd.origin == self.cfg.id
                            && let Some(w) = self.waiting.remove(&cmd.id) {
                                let _ = w.send(applied);
                            }
                    }
                }
                EntryType::EntryConfChangeV2 => {
                    let mut cc = ConfChangeV2::default();
                    cc.merge_from_bytes(&e.data)?;
                    let ctx = ConfContext::decode(cc.get_context())?;
                    let result = match cc.get_changes() {
                        [single] => {
                            let member = ctx.member.clone().unwrap_or_default();
                            let t = single.get_change_type();
                            let checked = membership::check_change(&core.sm.members, t, single.node_id, &member);
                            if checked.is_ok() {
                                let cs = self.raw.apply_conf_change(&cc)?;
                                core.sm.conf_state = cs.clone();
                                self.raw.mut_store().set_conf_state(cs);
                                membership::apply_change(&mut core.sm.members, t, single.node_id, member);
                                self.out.set_members(&core.sm.members);
                                if t == ConfChangeType::RemoveNode && single.node_id == self.cfg.id {
                                    self.status.set(|s| s.removed = true);
                                }
                            }
                            checked
                        }
                        _ => Err(EtcdError::MemberBadUrls),
                    };
                    if ctx.origin == self.cfg.id
                        && let Some(w) = self.conf_waiting.remove(&ctx.id) {
                            let _ = w.send(result);
                        }
                }
                _ => {}
            }
            core.sm.applied_index = e.index;
            core.sm.applied_term = e.term;
        }
        core.hub.dispatch(&events);
        Ok(())
    }

    fn after_apply(&mut self) -> anyhow::Result<()> {
        let (applied, term) = {
            let c = self.core.read();
            (c.sm.applied_index, c.sm.applied_term)
        };
        let mut i = 0;
        while i < self.reads_ready.len() {
            if self.reads_ready[i].0 <= applied {
                for w in self.reads_ready.swap_remove(i).1 {
                    let _ = w.send(());
                }
            } else {
                i += 1;
            }
        }
        if applied >= self.last_snapshot + self.cfg.snapshot_entries {
            let data = self.core.read().sm.to_snapshot();
            self.raw.mut_store().compact(&data, applied, term)?;
            self.last_snapshot = applied;
            tracing::info!(index = applied, bytes = data.len(), "snapshot written, log compacted");
        }
        Ok(())
    }

    fn publish_status(&self, with_progress: bool) {
        let r = &self.raw.raft;
        let applied = self.core.read().sm.applied_index;
        let learners: Vec<u64> = if with_progress { self.core.read().sm.conf_state.get_learners().to_vec() } else { vec![] };
        self.status.set(|s| {
            s.id = self.cfg.id;
            s.leader_id = r.leader_id;
            s.term = r.term;
            s.is_leader = r.state == StateRole::Leader;
            s.commit = r.raft_log.committed;
            s.applied = applied;
            s.last_index = r.raft_log.last_index();
            if with_progress {
                s.progress = if s.is_leader {
                    r.prs()
                        .iter()
                        .map(|(id, p)| {
                            let active = *id == self.cfg.id || p.recent_active;
                            (*id, PeerProgress { matched: p.matched, recent_active: active, is_learner: learners.contains(id) })
                        })
                        .collect()
                } else {
                    BTreeMap::new()
                };
            }
        });
    }
}
