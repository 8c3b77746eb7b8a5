//! `triadctl members list|add|remove|promote`: the coordinator's member list through the etcd
//! v3 Cluster API (works against triad-coordinator and against an external etcd).

use crate::coordinator_api::{Member, Target, first_answer, list_members, status};
use crate::table::table;
use anyhow::bail;
use clap::Subcommand;
use etcd_client::MemberAddOptions;
use std::process::ExitCode;

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
                    leader = s.leader();
                    break;
                }
            }
            print!("{}", render_list(&members, leader));
        }
        MembersCmd::Add { target, peer_url, learner } => {
            let eps = target.endpoints()?;
            let m = first_answer(&eps, |mut c| {
                let (urls, options) = (vec![peer_url.clone()], learner.then(|| MemberAddOptions::new().with_is_learner()));
                async move { Ok(c.member_add(urls, options).await?.member().map(Member::from).unwrap_or_default()) }
            })
            .await?;
            println!("added member {:x} ({}) with peer URL {peer_url}", m.id, if m.is_learner { "learner" } else { "voter" });
        }
        MembersCmd::Remove { target, member } => {
            let eps = target.endpoints()?;
            let id = resolve(&list_members(&eps).await?, &member)?;
            first_answer(&eps, |mut c| async move { c.member_remove(id).await }).await?;
            println!("removed member {id:x}");
        }
        MembersCmd::Promote { target, member } => {
            let eps = target.endpoints()?;
            let id = resolve(&list_members(&eps).await?, &member)?;
            first_answer(&eps, |mut c| async move { c.member_promote(id).await }).await?;
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
            m.peer_urls.join(","),
            m.client_urls.join(","),
        ]);
    }
    table(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_marks_leader_and_learners_and_resolves_names() {
        let ms = vec![
            Member { id: 0xa, name: "b".into(), peer_urls: vec!["http://b:2380".into()], client_urls: vec![], is_learner: false },
            Member { id: 0xb, name: "a".into(), peer_urls: vec!["http://a:2380".into()], client_urls: vec![], is_learner: true },
            Member { id: 0xc, name: "c".into(), peer_urls: vec!["http://c:2380".into()], client_urls: vec![], is_learner: false },
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
