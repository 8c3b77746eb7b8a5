//! The keeper's HA decision: what one keeper should do next, from what it observes of its
//! PostgreSQL and of the coordinator. A pure function, no I/O: `ha.rs` observes, calls
//! [`decide`] and executes the actions.
//!
//! The rules, Patroni's:
//! - exactly one leader: the holder of the `leader` key, which is bound to the holder's lease;
//!   a keeper that no longer holds it stops being primary (the lease watchdog in `ha.rs`
//!   stops PostgreSQL before the lease can expire elsewhere, even if this loop is stuck);
//! - a standby takes the key only once it is gone (the lease expired: the full TTL) and only if
//!   it is a safe choice: in synchronous mode the standby the `sync` key names (it holds every
//!   acknowledged commit) or the last leader itself; in asynchronous mode a standby within
//!   `maximum_lag_on_failover` of the best known position;
//! - synchronous mode: a standby is required (`synchronous_standby_names`) before it is
//!   recorded in `sync`; a lost standby is removed from `sync` before the requirement is
//!   dropped (strict mode never drops it). So `sync` never names a node that lacks a commit.

use std::time::Duration;

use triad_config::SyncMode;

/// What the keeper sees of its own PostgreSQL.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PgView {
    pub data: DataState,
    pub running: bool,
    pub timeline: u32,
    /// Current WAL position (primary: written; standby: replayed).
    pub lsn: u64,
    /// Standby: the primary it streams from, when its WAL receiver is streaming.
    pub streaming_from: Option<String>,
    /// Standby: the primary it was started to follow.
    pub following: Option<String>,
    /// Primary: the standbys streaming from it, and whether PostgreSQL counts each as sync.
    pub replicas: Vec<(String, bool)>,
    /// Primary: the current `synchronous_standby_names`.
    pub sync_names: String,
    /// Standby running for a leader: how long its WAL receiver has not been streaming.
    pub receiver_down_for: Option<Duration>,
    /// Asked only once `receiver_down_for` reached `STANDBY_STUCK_AFTER`: whether the
    /// leader's PostgreSQL answers this host as a primary.
    pub leader_answers: Option<bool>,
}

/// A standby whose WAL receiver has not streamed for this long while its leader's PostgreSQL
/// answers it is stuck for good (its history forked from the leader's, or the WAL it needs
/// is gone): a chaos run saw one wait for WAL 22 minutes while it looked like a replica, and
/// no failover was possible. Long enough for a restarted primary, a failover and a rewind.
pub const STANDBY_STUCK_AFTER: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DataState {
    /// No data directory (a new or wiped host).
    #[default]
    Missing,
    /// A data directory that runs (or would run) as a primary.
    Primary,
    /// A data directory set up as a standby (`standby.signal`).
    Standby,
}

/// What the keeper sees of the coordinator this round.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DcsView {
    /// The `initialize` key exists: the cluster's database was created once.
    pub initialized: bool,
    /// Holder of the `leader` key.
    pub leader: Option<String>,
    /// The `sync` key: the leader that wrote it and the standby it names.
    pub sync_leader: Option<String>,
    pub sync_standby: Option<String>,
    /// Every keeper's published state (members/<name>), this one included.
    pub members: Vec<MemberView>,
    /// A switchover or failover request: the member that should lead.
    pub failover_candidate: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberView {
    pub name: String,
    pub lsn: u64,
    pub running: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub me: String,
    pub mode: SyncMode,
    pub maximum_lag: u64,
    /// None: the coordinator did not answer this round.
    pub dcs: Option<DcsView>,
    pub pg: PgView,
    /// This keeper holds the leader key under a lease it renewed in time.
    pub holds_leadership: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Claim the `initialize` key; if won, create the database and take the leader key.
    Bootstrap,
    /// Take the free leader key (then promote if the data is a standby).
    AcquireLeader,
    /// The leader key names this keeper from before a restart: rebind it to the new lease.
    Reclaim,
    /// Promote the local standby (this keeper holds the leader key).
    Promote,
    /// Start PostgreSQL as the primary (this keeper holds the leader key).
    StartPrimary,
    /// Stop being primary: stop PostgreSQL at once, release the key if `resign`.
    Demote { resign: bool },
    /// Start (or restart) PostgreSQL as a standby of `leader` (None: without a primary yet).
    StartStandby { leader: Option<String> },
    /// Create the data directory as a copy of the leader's (pg_basebackup).
    Clone { leader: String },
    /// An old primary rejoins: pg_rewind from the leader (re-clone if that fails).
    Rewind { leader: String },
    /// A standby stuck for good (`STANDBY_STUCK_AFTER`): set its directory aside and clone.
    Reclone { leader: String },
    /// Synchronous replication, step by step (see the module docs).
    RequireStandby { names: String },
    RecordSync { standby: Option<String> },
    /// Nothing to do now, and why (shown in logs and `/cluster`).
    Wait(String),
}

pub fn decide(o: &Observed) -> Vec<Action> {
    let Some(dcs) = &o.dcs else {
        // The lease watchdog demotes a primary that cannot renew; nothing else is safe to do.
        return vec![Action::Wait("coordinator unreachable".into())];
    };
    if !dcs.initialized {
        return vec![Action::Bootstrap];
    }
    match dcs.leader.as_deref() {
        Some(l) if l == o.me => as_leader(o, dcs),
        Some(l) => {
            if o.holds_leadership {
                return vec![Action::Demote { resign: false }];
            }
            as_follower(o, l)
        }
        None => {
            if o.holds_leadership {
                return vec![Action::Demote { resign: false }];
            }
            no_leader(o, dcs)
        }
    }
}

fn as_leader(o: &Observed, dcs: &DcsView) -> Vec<Action> {
    if !o.holds_leadership {
        // The key names us but this process does not hold it: a restarted keeper. While the
        // key exists nobody else can have been promoted, so a primary's data directory (left
        // running, or stopped cleanly by the previous keeper) is still the newest: take the key
        // back (then start PostgreSQL). A standby waits for the key to expire.
        return match o.pg.data {
            DataState::Primary => vec![Action::Reclaim],
            _ => vec![Action::Wait("the leader key names this host from before a restart; waiting for it to expire".into())],
        };
    }
    match o.pg.data {
        DataState::Missing => return vec![Action::Demote { resign: true }],
        DataState::Standby if o.pg.running => return vec![Action::Promote],
        DataState::Standby => return vec![Action::StartStandby { leader: None }],
        DataState::Primary if !o.pg.running => return vec![Action::StartPrimary],
        DataState::Primary => {}
    }
    if let Some(candidate) = &dcs.failover_candidate
        && candidate != &o.me
    {
        // Hand over only to a candidate that can safely lead.
        let ready = o.pg.replicas.iter().any(|(n, sync)| n == candidate && (*sync || o.mode == SyncMode::Off));
        return if ready {
            vec![Action::Demote { resign: true }]
        } else {
            vec![Action::Wait(format!("switchover to {candidate}: waiting until it is a streaming synchronous standby"))]
        };
    }
    sync_steps(o, dcs)
}

/// One step of synchronous-replication management on the leader.
fn sync_steps(o: &Observed, dcs: &DcsView) -> Vec<Action> {
    // Only members count: pg_basebackup cloning a new standby (or any other WAL sender) shows
    // in pg_stat_replication too, and must never become the synchronous standby.
    let streaming: Vec<&str> = o.pg.replicas.iter().map(|(n, _)| n.as_str()).filter(|n| dcs.members.iter().any(|m| m.name == *n)).collect();
    let recorded_here = dcs.sync_leader.as_deref() == Some(o.me.as_str());
    match o.mode {
        SyncMode::Off => {
            let mut acts = vec![];
            if !o.pg.sync_names.is_empty() {
                acts.push(Action::RequireStandby { names: String::new() });
            }
            if dcs.sync_standby.is_some() || !recorded_here {
                acts.push(Action::RecordSync { standby: None });
            }
            acts
        }
        SyncMode::On | SyncMode::Strict => {
            let strict = o.mode == SyncMode::Strict;
            let recorded = if recorded_here { dcs.sync_standby.clone() } else { None };
            match recorded {
                Some(s) if streaming.contains(&s.as_str()) => {
                    if o.pg.sync_names != s {
                        vec![Action::RequireStandby { names: s }]
                    } else {
                        vec![]
                    }
                }
                Some(s) if strict => {
                    // Never run without it: commits wait until it (or another) is back.
                    if o.pg.sync_names != s {
                        vec![Action::RequireStandby { names: s }]
                    } else {
                        vec![Action::Wait(format!("strict synchronous mode: {s} is not streaming; commits wait"))]
                    }
                }
                // Lost: record that first, drop the requirement on a later round.
                Some(_) => vec![Action::RecordSync { standby: None }],
                None => {
                    if !recorded_here {
                        return vec![Action::RecordSync { standby: None }];
                    }
                    if let Some(c) = streaming.first() {
                        if o.pg.sync_names != *c {
                            vec![Action::RequireStandby { names: c.to_string() }]
                        } else if o.pg.replicas.iter().any(|(n, sync)| n == c && *sync) {
                            vec![Action::RecordSync { standby: Some(c.to_string()) }]
                        } else {
                            vec![Action::Wait(format!("waiting for {c} to become synchronous"))]
                        }
                    } else if strict {
                        if o.pg.sync_names != "*" {
                            vec![Action::RequireStandby { names: "*".into() }]
                        } else {
                            vec![Action::Wait("strict synchronous mode: no standby; commits wait".into())]
                        }
                    } else if !o.pg.sync_names.is_empty() {
                        vec![Action::RequireStandby { names: String::new() }]
                    } else {
                        vec![]
                    }
                }
            }
        }
    }
}

fn as_follower(o: &Observed, leader: &str) -> Vec<Action> {
    match o.pg.data {
        DataState::Missing => vec![Action::Clone { leader: leader.to_string() }],
        DataState::Primary => vec![Action::Rewind { leader: leader.to_string() }],
        DataState::Standby if !o.pg.running || o.pg.following.as_deref() != Some(leader) => {
            vec![Action::StartStandby { leader: Some(leader.to_string()) }]
        }
        DataState::Standby if stuck(&o.pg) => vec![Action::Reclone { leader: leader.to_string() }],
        DataState::Standby => vec![],
    }
}

/// A standby that cannot follow its leader although the leader answers (not one that is only
/// cut off from it: its data may be the only copy left if the leader is lost meanwhile).
fn stuck(pg: &PgView) -> bool {
    pg.receiver_down_for.is_some_and(|d| d >= STANDBY_STUCK_AFTER) && pg.leader_answers == Some(true)
}

fn no_leader(o: &Observed, dcs: &DcsView) -> Vec<Action> {
    if o.pg.data == DataState::Missing {
        return vec![Action::Wait("no leader to clone from".into())];
    }
    if let Err(why) = eligible(o, dcs) {
        return vec![Action::Wait(why)];
    }
    if o.pg.data == DataState::Standby && !o.pg.running {
        return vec![Action::StartStandby { leader: None }];
    }
    vec![Action::AcquireLeader]
}

/// May this keeper take the free leader key?
fn eligible(o: &Observed, dcs: &DcsView) -> Result<(), String> {
    if let Some(c) = &dcs.failover_candidate
        && c != &o.me
    {
        return Err(format!("a failover to {c} was requested"));
    }
    match o.mode {
        SyncMode::On | SyncMode::Strict => {
            let me = Some(o.me.as_str());
            if dcs.sync_standby.as_deref() == me || dcs.sync_leader.as_deref() == me {
                Ok(())
            } else {
                let holders = [dcs.sync_standby.as_deref(), dcs.sync_leader.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" or ");
                Err(format!(
                    "synchronous mode: only {holders} may take over (it holds every acknowledged commit); if it is gone for good, `triadctl failover --candidate {}` makes this host the primary and loses the commits only {holders} acknowledged",
                    o.me
                ))
            }
        }
        SyncMode::Off => {
            let best = dcs.members.iter().filter(|m| m.name != o.me).map(|m| m.lsn).max().unwrap_or(0);
            if best > o.pg.lsn.saturating_add(o.maximum_lag) {
                return Err(format!("{} bytes behind the best known position, more than maximum_lag_on_failover", best - o.pg.lsn));
            }
            let better = dcs.members.iter().find(|m| m.name != o.me && m.running && m.lsn > o.pg.lsn);
            match better {
                Some(m) => Err(format!("{} is further ahead", m.name)),
                None => Ok(()),
            }
        }
    }
}

#[cfg(test)]
mod tests;
