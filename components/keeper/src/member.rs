//! What the keepers keep in the coordinator, under `/triad/<cluster>/keeper/`:
//!
//! | key | value | written by |
//! |---|---|---|
//! | `initialize` | the host that created the database | the bootstrapping keeper, once |
//! | `leader` | the leader's name, bound to its lease | the leader |
//! | `members/<name>` | [`MemberInfo`] JSON, bound to the member's lease | each keeper, every loop |
//! | `sync` | [`SyncState`] JSON | the leader (fenced) |
//! | `history` | [`History`] JSON: one entry per promotion | the new leader (fenced) |
//! | `failover` | [`FailoverRequest`] JSON | `triadctl switchover/failover`; the new leader deletes it |

use serde::{Deserialize, Serialize};

pub const INITIALIZE: &str = "keeper/initialize";
pub const LEADER: &str = "keeper/leader";
pub const MEMBERS: &str = "keeper/members/";
pub const SYNC: &str = "keeper/sync";
pub const HISTORY: &str = "keeper/history";
pub const FAILOVER: &str = "keeper/failover";

pub fn member_key(name: &str) -> String {
    format!("{MEMBERS}{name}")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct MemberInfo {
    pub name: String,
    /// The host's address (PostgreSQL, keeper API).
    pub host: String,
    pub api_url: String,
    /// "primary", "replica" or "uninitialized".
    pub role: String,
    /// "running", "streaming", "starting", "stopped", "creating replica".
    pub state: String,
    pub timeline: u32,
    pub lsn: u64,
    /// Replicas: bytes behind the primary's position, when known.
    pub lag: Option<u64>,
    /// What the keeper is doing or waiting for.
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SyncState {
    pub leader: Option<String>,
    pub sync_standby: Option<String>,
}

/// Patroni's history format: `[timeline that ended, LSN where it ended, reason, time, new leader]`.
pub type History = Vec<(u32, u64, String, String, String)>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailoverRequest {
    /// The current leader the request is for (switchover), if any.
    pub leader: Option<String>,
    pub candidate: String,
}

/// A PostgreSQL LSN as text (`0/3000060`).
pub fn lsn_text(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xffff_ffff)
}

pub fn parse_lsn(text: &str) -> Option<u64> {
    let (hi, lo) = text.split_once('/')?;
    Some((u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsn_round_trips() {
        assert_eq!(parse_lsn("0/3000060"), Some(0x3000060));
        assert_eq!(parse_lsn("1A/FF"), Some((0x1a << 32) | 0xff));
        assert_eq!(lsn_text(0x1a_0000_00ff), "1A/FF");
        assert_eq!(parse_lsn("garbage"), None);
    }
}
