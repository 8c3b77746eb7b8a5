//! Durable Raft storage: log entries and hard state in raft-engine, the state machine in a
//! snapshot file. The log starts right after the last snapshot point (`log_start`); entries
//! before it were compacted away. Snapshots sent to followers are cut from the live state
//! machine on demand, so a lagging or new member always gets the newest state.
// rust-protobuf messages (raft-rs types) have hidden fields: they are built by assignment.
#![allow(clippy::field_reassign_with_default)]

use crate::state::StateMachine;
use protobuf::Message as _;
use raft::prelude::*;
use raft::{GetEntriesContext, RaftState, StorageError};
use raft_engine::{Engine, LogBatch, MessageExt};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// raft-engine region holding the entries; metadata lives in its own region so that dropping
/// every entry (on an incoming snapshot) leaves the metadata alone.
const LOG: u64 = 1;
const META: u64 = 2;
const KEY_HARD_STATE: &[u8] = b"hard_state";
const KEY_LOG_START: &[u8] = b"log_start";

struct EntryExt;
impl MessageExt for EntryExt {
    type Entry = Entry;
    fn index(e: &Entry) -> u64 {
        e.index
    }
}

pub type SharedState<T> = Arc<RwLock<T>>;

/// Gives read access to the applied state machine for on-demand snapshots.
pub trait StateSource: Send + Sync {
    fn with_state<R>(&self, f: impl FnOnce(&StateMachine) -> R) -> R;
}

pub struct RaftStorage<S: StateSource> {
    engine: Arc<Engine>,
    dir: PathBuf,
    hard_state: HardState,
    conf_state: ConfState,
    /// Index and term of the last entry folded into a snapshot (the log holds later ones).
    log_start: (u64, u64),
    state: S,
}

/// What `open` found on disk.
pub struct Recovered {
    /// The state machine of the newest snapshot file, if any.
    pub snapshot: Option<Vec<u8>>,
}

impl<S: StateSource> RaftStorage<S> {
    /// Opens (or creates) the log under `dir/raft` and reads the snapshot file `dir/snapshot`.
    pub fn open(dir: &Path, state: S) -> anyhow::Result<(Self, Recovered)> {
        let cfg = raft_engine::Config {
            dir: dir.join("raft").to_string_lossy().into_owned(),
            // Flushing by bytes would add fsyncs outside our group commit; we sync per batch.
            bytes_per_sync: None,
            target_file_size: raft_engine::ReadableSize::mb(32),
            purge_threshold: raft_engine::ReadableSize::mb(256),
            ..Default::default()
        };
        let engine = Arc::new(Engine::open(cfg)?);
        let hard_state: HardState = engine.get_message(META, KEY_HARD_STATE)?.unwrap_or_default();
        let start: SnapshotMetadata = engine.get_message(META, KEY_LOG_START)?.unwrap_or_default();
        let snapshot = match fs::read(dir.join("snapshot")) {
            Ok(b) => Some(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e.into()),
        };
        let mut s = RaftStorage {
            engine,
            dir: dir.to_path_buf(),
            hard_state,
            conf_state: ConfState::default(),
            log_start: (start.index, start.term),
            state,
        };
        if let Some(b) = &snapshot {
            let sm = crate::pb::internal::StateSnapshot::decode_meta(b)?;
            s.conf_state = sm.conf_state;
            // A crash after writing a received snapshot but before resetting the log leaves a
            // log that ends before the snapshot: finish the reset now.
            if sm.index > s.last_index_raw() {
                s.reset_log(sm.index, sm.term)?;
            }
        }
        Ok((s, Recovered { snapshot }))
    }

    fn last_index_raw(&self) -> u64 {
        self.engine.last_index(LOG).unwrap_or(self.log_start.0).max(self.log_start.0)
    }

    pub fn hard_state(&self) -> &HardState {
        &self.hard_state
    }

    /// Appends entries and the hard state in one write, fsynced when `sync` (group commit: one
    /// fsync covers every proposal gathered into this Ready).
    pub fn persist(&mut self, entries: &[Entry], hs: Option<&HardState>, sync: bool) -> anyhow::Result<()> {
        let mut batch = LogBatch::default();
        batch.add_entries::<EntryExt>(LOG, entries)?;
        if let Some(hs) = hs {
            self.hard_state = hs.clone();
            batch.put_message(META, KEY_HARD_STATE.to_vec(), hs)?;
        }
        if !batch.is_empty() {
            self.engine.write(&mut batch, sync)?;
        }
        Ok(())
    }

    pub fn set_commit(&mut self, commit: u64) -> anyhow::Result<()> {
        let mut hs = self.hard_state.clone();
        hs.commit = commit;
        self.persist(&[], Some(&hs), false)
    }

    pub fn set_conf_state(&mut self, cs: ConfState) {
        self.conf_state = cs;
    }

    /// Installs a snapshot received from the leader: state file first, then an empty log
    /// starting after it.
    pub fn install_snapshot(&mut self, snap: &Snapshot) -> anyhow::Result<()> {
        let meta = snap.get_metadata();
        write_atomically(&self.dir.join("snapshot"), snap.get_data())?;
        self.conf_state = meta.get_conf_state().clone();
        self.reset_log(meta.index, meta.term)?;
        let mut hs = self.hard_state.clone();
        hs.commit = hs.commit.max(meta.index);
        hs.term = hs.term.max(meta.term);
        self.persist(&[], Some(&hs), true)
    }

    fn reset_log(&mut self, index: u64, term: u64) -> anyhow::Result<()> {
        let mut batch = LogBatch::default();
        batch.add_command(LOG, raft_engine::Command::Clean);
        let mut meta = SnapshotMetadata::default();
        meta.index = index;
        meta.term = term;
        batch.put_message(META, KEY_LOG_START.to_vec(), &meta)?;
        self.engine.write(&mut batch, true)?;
        self.log_start = (index, term);
        Ok(())
    }

    /// Saves the applied state as the new snapshot file, then drops the log up to it.
    pub fn compact(&mut self, snapshot: &[u8], index: u64, term: u64) -> anyhow::Result<()> {
        write_atomically(&self.dir.join("snapshot"), snapshot)?;
        let mut batch = LogBatch::default();
        let mut meta = SnapshotMetadata::default();
        meta.index = index;
        meta.term = term;
        batch.put_message(META, KEY_LOG_START.to_vec(), &meta)?;
        self.engine.write(&mut batch, true)?;
        self.engine.compact_to(LOG, index + 1);
        self.log_start = (index, term);
        self.engine.purge_expired_files()?;
        Ok(())
    }

    pub fn log_start(&self) -> u64 {
        self.log_start.0
    }
}

impl crate::pb::internal::StateSnapshot {
    /// The Raft position and membership recorded in a state snapshot.
    pub fn decode_meta(data: &[u8]) -> anyhow::Result<SnapMeta> {
        use prost::Message as _;
        let s = crate::pb::internal::StateSnapshot::decode(data)?;
        let mut cs = ConfState::default();
        cs.merge_from_bytes(&s.conf_state)?;
        Ok(SnapMeta { index: s.applied_index, term: s.applied_term, conf_state: cs })
    }
}

pub struct SnapMeta {
    pub index: u64,
    pub term: u64,
    pub conf_state: ConfState,
}

/// Write-then-rename with fsyncs, so a crash leaves the old file or the new one.
pub fn write_atomically(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = fs::File::create(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    fs::rename(&tmp, path)?;
    if let Some(parent) = path.parent() {
        fs::File::open(parent)?.sync_all()?;
    }
    Ok(())
}

fn other(e: impl std::fmt::Display) -> raft::Error {
    raft::Error::Store(StorageError::Other(e.to_string().into()))
}

impl<S: StateSource> raft::Storage for RaftStorage<S> {
    fn initial_state(&self) -> raft::Result<RaftState> {
        Ok(RaftState::new(self.hard_state.clone(), self.conf_state.clone()))
    }

    fn entries(&self, low: u64, high: u64, max_size: impl Into<Option<u64>>, _ctx: GetEntriesContext) -> raft::Result<Vec<Entry>> {
        if low <= self.log_start.0 {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if high > self.last_index_raw() + 1 {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        let mut out = Vec::with_capacity((high - low) as usize);
        let max = max_size.into().map(|m| m as usize);
        self.engine.fetch_entries_to::<EntryExt>(LOG, low, high, max, &mut out).map_err(other)?;
        Ok(out)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        if idx == self.log_start.0 {
            return Ok(self.log_start.1);
        }
        if idx < self.log_start.0 {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        match self.engine.get_entry::<EntryExt>(LOG, idx).map_err(other)? {
            Some(e) => Ok(e.term),
            None => Err(raft::Error::Store(StorageError::Unavailable)),
        }
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.log_start.0 + 1)
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.last_index_raw())
    }

    fn snapshot(&self, request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        self.state.with_state(|sm| {
            if sm.applied_index < request_index || sm.applied_index == 0 {
                return Err(raft::Error::Store(StorageError::SnapshotTemporarilyUnavailable));
            }
            let mut snap = Snapshot::default();
            snap.data = sm.to_snapshot().into();
            let meta = snap.mut_metadata();
            meta.index = sm.applied_index;
            meta.term = sm.applied_term;
            meta.set_conf_state(sm.conf_state.clone());
            Ok(snap)
        })
    }
}
