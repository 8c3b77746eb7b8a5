//! The state shared between the Raft thread (which applies) and the gRPC handlers (which read
//! and watch): the state machine and the watch hub, under one lock.

use crate::state::StateMachine;
use crate::storage::StateSource;
use crate::watch::WatchHub;
use std::sync::{Arc, RwLock};

pub struct Core {
    pub sm: StateMachine,
    pub hub: WatchHub,
}

#[derive(Clone)]
pub struct SharedCore(pub Arc<RwLock<Core>>);

impl SharedCore {
    pub fn new(sm: StateMachine) -> SharedCore {
        SharedCore(Arc::new(RwLock::new(Core { sm, hub: WatchHub::default() })))
    }

    pub fn read(&self) -> std::sync::RwLockReadGuard<'_, Core> {
        self.0.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn write(&self) -> std::sync::RwLockWriteGuard<'_, Core> {
        self.0.write().unwrap_or_else(|p| p.into_inner())
    }
}

impl StateSource for SharedCore {
    fn with_state<R>(&self, f: impl FnOnce(&StateMachine) -> R) -> R {
        f(&self.read().sm)
    }
}

/// What the Raft thread publishes about itself for status, membership checks and headers.
#[derive(Debug, Clone, Default)]
pub struct NodeStatus {
    pub id: u64,
    pub leader_id: u64,
    pub term: u64,
    pub is_leader: bool,
    pub commit: u64,
    pub applied: u64,
    pub last_index: u64,
    /// Leader only: per member, matched index and whether it was heard from recently.
    pub progress: std::collections::BTreeMap<u64, PeerProgress>,
    /// Set when this member learns it was removed from the cluster.
    pub removed: bool,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct PeerProgress {
    pub matched: u64,
    pub recent_active: bool,
    pub is_learner: bool,
}

#[derive(Clone, Default)]
pub struct SharedStatus(pub Arc<RwLock<NodeStatus>>);

impl SharedStatus {
    pub fn get(&self) -> NodeStatus {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
    pub fn term(&self) -> u64 {
        self.0.read().unwrap_or_else(|p| p.into_inner()).term
    }
    pub fn set(&self, f: impl FnOnce(&mut NodeStatus)) {
        f(&mut self.0.write().unwrap_or_else(|p| p.into_inner()))
    }
}
