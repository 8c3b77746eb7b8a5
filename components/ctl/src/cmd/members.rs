//! `triadctl members list|add|remove|promote`: the coordinator's member list through the etcd
//! v3 Cluster API (works against triad-coordinator and against an external etcd).

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};
use triad_coordinator::pb::etcdserverpb::{
    Member, MemberAddRequest, MemberListRequest, MemberPromoteRequest, MemberRemoveRequest, StatusRequest, StatusResponse,
    cluster_client::ClusterClient, maintenance_client::MaintenanceClient,
};

/// Where the coordinator is: the cluster file's coordinator hosts, or explicit endpoints.
#[derive(Args, Clone)]
pub struct Target {
    /// The cluster file (its coordinator hosts, or `coordinator.external_endpoints`).
    #[arg(long, env = "TRIAD_CONFIG", default_value = "/etc/triad/cluster.toml")]
    pub config: PathBuf,
    /// Comma-separated client URLs instead of the cluster file's (e.g. http://10.0.0.1:2379).
    #[arg(long, value_delimiter = ',')]
    pub endpoints: Vec<String>,
}

impl Target {
    pub fn endpoints(&self) -> anyhow::Result<Vec<String>> {
        if !self.endpoints.is_empty() {
            return Ok(self.endpoints.clone());
        }
        let cluster = triad_config::Cluster::load(&self.config)?;
        Ok(cluster.dcs_endpoints())
    }
}

pub fn channel(url: &str) -> anyhow::Result<Channel> {
    Ok(Endpoint::from_shared(url.to_string())
        .with_context(|| format!("bad endpoint {url:?}"))?
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .connect_lazy())
}

/// Runs `f` against each endpoint in turn until one answers.
pub async fn first_answer<T, F, Fut>(endpoints: &[String], mut f: F) -> anyhow::Result<T>
where
    F: FnMut(Channel) -> Fut,
    Fut: std::future::Future<Output = Result<T, tonic::Status>>,
{
    let mut last = None;
    for url in endpoints {
        match f(channel(url)?).await {
            Ok(v) => return Ok(v),
            // An answer from the server is final (e.g. "member not found"); try others only
            // when this endpoint could not be reached.
            Err(s) if s.code() != tonic::Code::Unavailable && s.code() != tonic::Code::DeadlineExceeded => {
                bail!("{url}: {}", s.message())
            }
            Err(s) => last = Some(format!("{url}: {}", s.message())),
        }
    }
    bail!("no coordinator endpoint answered ({})", last.unwrap_or_else(|| "no endpoints".into()))
}

pub async fn status(url: &str) -> Option<StatusResponse> {
    let mut m = MaintenanceClient::new(channel(url).ok()?);
    tokio::time::timeout(Duration::from_secs(3), m.status(StatusRequest {})).await.ok()?.ok().map(|r| r.into_inner())
}

#[derive(Subcommand)]
pub enum MembersCmd {
    /// Members with their role (voter or learner) and who leads.
    List(Target),
    /// Add a member by peer URL (as a learner with --learner; it is promoted once caught up).
    Add {
        #[command(flatten)]
        target: Target,
        /// The new member's peer URL, e.g. http://10.0.0.4:2380.
        #[arg(long)]
        peer_url: String,
        #[arg(long)]
        learner: bool,
    },
    /// Remove a member, by name or hexadecimal id.
    Remove {
        #[command(flatten)]
        target: Target,
        member: String,
    },
    /// Promote a caught-up learner to voter, by name or hexadecimal id.
    Promote {
        #[command(flatten)]
        target: Target,
        member: String,
    },
}

pub fn run(cmd: MembersCmd) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(run_async(cmd))
}

async fn list_members(eps: &[String]) -> anyhow::Result<Vec<Member>> {
    first_answer(eps, |ch| async move {
        Ok(ClusterClient::new(ch).member_list(MemberListRequest { linearizable: true }).await?.into_inner().members)
    })
    .await
}

/// A member named either by its name or by its id in hexadecimal.
fn resolve(members: &[Member], which: &str) -> anyhow::Result<u64> {
    if let Some(m) = members.iter().find(|m| m.name == which) {
        return Ok(m.id);
    }
    if let Ok(id) = u64::from_str_radix(which, 16) {
        if members.iter().any(|m| m.id == id) {
            return Ok(id);
        }
    }
    let known: Vec<String> = members.iter().map(|m| format!("{} ({:x})", if m.name.is_empty() { "unstarted" } else { &m.name }, m.id)).collect();
    bail!("no member {which:?}; members are: {}", known.join(", "))
}

async fn run_async(cmd: MembersCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        MembersCmd::List(t) => {
            let eps = t.endpoints()?;
            let members = list_members(&eps).await?;
            let mut leader = 0;
            for url in &eps {
                if let Some(s) = status(url).await {
                    leader = s.leader;
                    break;
                }
            }
            print!("{}", render_list(&members, leader));
        }
        MembersCmd::Add { target, peer_url, learner } => {
            let eps = target.endpoints()?;
            let r = first_answer(&eps, |ch| {
                let req = MemberAddRequest { peer_ur_ls: vec![peer_url.clone()], is_learner: learner };
                async move { Ok(ClusterClient::new(ch).member_add(req).await?.into_inner()) }
            })
            .await?;
            let m = r.member.unwrap_or_default();
            println!("added member {:x} ({}) with peer URL {peer_url}", m.id, if m.is_learner { "learner" } else { "voter" });
        }
        MembersCmd::Remove { target, member } => {
            let eps = target.endpoints()?;
            let id = resolve(&list_members(&eps).await?, &member)?;
            first_answer(&eps, |ch| async move { Ok(ClusterClient::new(ch).member_remove(MemberRemoveRequest { id }).await?.into_inner()) }).await?;
            println!("removed member {id:x}");
        }
        MembersCmd::Promote { target, member } => {
            let eps = target.endpoints()?;
            let id = resolve(&list_members(&eps).await?, &member)?;
            first_answer(&eps, |ch| async move { Ok(ClusterClient::new(ch).member_promote(MemberPromoteRequest { id }).await?.into_inner()) }).await?;
            println!("promoted member {id:x} to voter");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The member table, leader first-class in the Role column.
pub fn render_list(members: &[Member], leader: u64) -> String {
    let mut rows = vec![["ID".to_string(), "Name".into(), "Role".into(), "Peer URL".into(), "Client URL".into()]];
    let mut sorted = members.to_vec();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    for m in &sorted {
        let role = if m.id == leader { "leader" } else if m.is_learner { "learner" } else { "voter" };
        rows.push([
            format!("{:x}", m.id),
            if m.name.is_empty() { "(unstarted)".into() } else { m.name.clone() },
            role.into(),
            m.peer_ur_ls.join(","),
            m.client_ur_ls.join(","),
        ]);
    }
    table(&rows)
}

pub fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let widths: Vec<usize> = (0..N).map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for r in rows {
        let cells: Vec<String> = r.iter().zip(&widths).map(|(s, w)| format!("{s:<w$}")).collect();
        out += cells.join("  ").trim_end();
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_marks_leader_and_learners_and_resolves_names() {
        let ms = vec![
            Member { id: 0xa, name: "b".into(), peer_ur_ls: vec!["http://b:2380".into()], client_ur_ls: vec![], is_learner: false },
            Member { id: 0xb, name: "a".into(), peer_ur_ls: vec!["http://a:2380".into()], client_ur_ls: vec![], is_learner: true },
            Member { id: 0xc, name: "c".into(), peer_ur_ls: vec!["http://c:2380".into()], client_ur_ls: vec![], is_learner: false },
        ];
        let t = render_list(&ms, 0xc);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[1].starts_with("b   a") && lines[1].contains("learner"), "{t}");
        assert!(lines[3].contains("leader"), "{t}");
        assert_eq!(resolve(&ms, "a").unwrap(), 0xb);
        assert_eq!(resolve(&ms, "c").unwrap(), 0xc);
        assert!(resolve(&ms, "zz").unwrap_err().to_string().contains("members are: b (a), a (b), c (c)"));
    }
}
