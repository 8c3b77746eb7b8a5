//! What operators ask the keepers, through the coordinator: the cluster table (`triadctl
//! list`, like `patronictl list`) and switchover/failover requests. The leader hands over only
//! to a candidate that is a streaming synchronous standby (asynchronous mode: any streaming
//! standby), so a switchover never loses a commit.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use triad_dcs::Dcs;

use crate::member::{self, FailoverRequest, MemberInfo, SyncState};

/// The keepers' keys, as one consistent read.
pub struct KeeperState {
    pub cluster: String,
    pub leader: Option<String>,
    pub sync: SyncState,
    pub members: Vec<MemberInfo>,
}

pub async fn read_state(dcs: &Dcs, cluster: &str) -> anyhow::Result<KeeperState> {
    let (kvs, _) = dcs.list("keeper/").await?;
    let find = |k: &str| kvs.iter().find(|kv| kv.key == k);
    let mut members: Vec<MemberInfo> = kvs.iter().filter(|kv| kv.key.starts_with(member::MEMBERS)).filter_map(|kv| serde_json::from_slice(&kv.value).ok()).collect();
    members.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(KeeperState {
        cluster: cluster.to_string(),
        leader: find(member::LEADER).map(|kv| String::from_utf8_lossy(&kv.value).into_owned()),
        sync: find(member::SYNC).and_then(|kv| serde_json::from_slice(&kv.value).ok()).unwrap_or_default(),
        members,
    })
}

pub fn render(s: &KeeperState) -> String {
    let leader_lsn = s.members.iter().find(|m| Some(&m.name) == s.leader.as_ref()).map(|m| m.lsn);
    let mut rows = vec![["Cluster", "Member", "Host", "Role", "State", "TL", "Lag in MB"].map(String::from)];
    for m in &s.members {
        let role = if Some(&m.name) == s.leader.as_ref() {
            "Leader"
        } else if Some(&m.name) == s.sync.sync_standby.as_ref() {
            "Sync Standby"
        } else {
            "Replica"
        };
        let lag = match (role, leader_lsn) {
            ("Leader", _) | (_, None) => String::new(),
            (_, Some(l)) => format!("{}", l.saturating_sub(m.lsn) / (1 << 20)),
        };
        rows.push([s.cluster.clone(), m.name.clone(), m.host.clone(), role.into(), m.state.clone(), m.timeline.to_string(), lag]);
    }
    bordered(&rows)
}

/// Asks for `candidate` (default: the synchronous standby) to become the leader and waits up
/// to `wait`; returns the final state. `failover` allows asking when there is no leader.
pub async fn request_leader(dcs: &Dcs, cluster: &str, candidate: Option<&str>, failover: bool, wait: Duration) -> anyhow::Result<KeeperState> {
    let state = read_state(dcs, cluster).await?;
    if !failover && state.leader.is_none() {
        bail!("no leader: a switchover needs one (use `triadctl failover --candidate HOST`)");
    }
    let candidate = match (candidate, &state.sync.sync_standby) {
        (Some(c), _) => c.to_string(),
        (None, Some(s)) => s.clone(),
        (None, None) => bail!("no synchronous standby to switch over to: name one with --candidate"),
    };
    if !state.members.iter().any(|m| m.name == candidate) {
        bail!("--candidate {candidate}: no such member (members: {})", state.members.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", "));
    }
    if state.leader.as_deref() == Some(candidate.as_str()) {
        bail!("{candidate} is already the leader");
    }
    let request = FailoverRequest { leader: state.leader.clone(), candidate: candidate.clone() };
    dcs.put(member::FAILOVER, serde_json::to_vec(&request)?, None).await.context("writing the request")?;
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let s = read_state(dcs, cluster).await?;
        if s.leader.as_deref() == Some(candidate.as_str()) && s.members.iter().any(|m| m.name == candidate && m.role == "primary") {
            return Ok(s);
        }
    }
    // Do not leave a request behind that would act later, unexpectedly.
    let _ = dcs.delete(member::FAILOVER).await;
    bail!("{candidate} did not become the leader within {wait:?}; request withdrawn (is it a streaming synchronous standby? see `triadctl list`)")
}

/// patronictl's table: `+---+` rules around a header and the rows, `| a | b |` cells.
fn bordered<const N: usize>(rows: &[[String; N]]) -> String {
    let widths: Vec<usize> = (0..N).map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0)).collect();
    let rule = format!("+{}+\n", widths.iter().map(|w| "-".repeat(w + 2)).collect::<Vec<_>>().join("+"));
    let line = |r: &[String; N]| format!("| {} |\n", r.iter().zip(&widths).map(|(s, w)| format!("{s:<w$}")).collect::<Vec<_>>().join(" | "));
    let mut out = rule.clone() + &line(&rows[0]) + &rule;
    for r in &rows[1..] {
        out += &line(r);
    }
    out + &rule
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::member::{MemberInfo, SyncState};

    #[test]
    fn renders_patronictl_style() {
        let m = |name: &str, lsn, state: &str| MemberInfo { name: name.into(), host: format!("10.0.0.{}", &name[3..]), state: state.into(), timeline: 2, lsn, ..Default::default() };
        let s = KeeperState {
            cluster: "prod".into(),
            leader: Some("app1".into()),
            sync: SyncState { leader: Some("app1".into()), sync_standby: Some("app2".into()) },
            members: vec![m("app1", 50 << 20, "running"), m("app2", 47 << 20, "streaming"), m("app3", 10 << 20, "streaming")],
        };
        let text = render(&s);
        let rows: Vec<Vec<&str>> = text.lines().filter(|l| l.starts_with('|')).map(|l| l.trim_matches('|').split('|').map(str::trim).collect()).collect();
        assert_eq!(rows[0], ["Cluster", "Member", "Host", "Role", "State", "TL", "Lag in MB"]);
        assert_eq!(rows[1], ["prod", "app1", "10.0.0.1", "Leader", "running", "2", ""]);
        assert_eq!(rows[2], ["prod", "app2", "10.0.0.2", "Sync Standby", "streaming", "2", "3"]);
        assert_eq!(rows[3], ["prod", "app3", "10.0.0.3", "Replica", "streaming", "2", "40"]);
        assert!(text.starts_with("+---------+"));
    }
}
