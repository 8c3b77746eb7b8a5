//! `triadctl coordinator status`: every coordinator endpoint's view (id, leader, learner,
//! Raft term and indexes, errors), or why it did not answer.

use crate::coordinator_api::{Target, status};
use crate::table::table;
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum CoordinatorCmd {
    /// One line per coordinator endpoint.
    Status(Target),
}

pub fn run(cmd: CoordinatorCmd) -> anyhow::Result<ExitCode> {
    let CoordinatorCmd::Status(t) = cmd;
    let eps = t.endpoints()?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let answers = rt.block_on(async { futures::future::join_all(eps.iter().map(|u| status(u))).await });
    let mut rows = vec![["Endpoint", "ID", "Leader", "Learner", "Term", "Raft index", "Applied", "Revision", "Errors"].map(String::from)];
    let mut healthy = 0;
    for (url, s) in eps.iter().zip(&answers) {
        match s {
            Some(s) => {
                let (member_id, revision) = s.header().map_or((0, 0), |h| (h.member_id(), h.revision()));
                if s.leader() != 0 && s.errors().is_empty() {
                    healthy += 1;
                }
                rows.push([
                    url.clone(),
                    format!("{member_id:x}"),
                    if s.leader() == member_id { "yes".into() } else { format!("{:x}", s.leader()) },
                    s.is_learner().to_string(),
                    s.raft_term().to_string(),
                    s.raft_index().to_string(),
                    s.raft_applied_index().to_string(),
                    revision.to_string(),
                    s.errors().join("; "),
                ]);
            }
            None => rows.push([url.clone(), "-".into(), "-".into(), "-".into(), "-".into(), "-".into(), "-".into(), "-".into(), "unreachable".into()]),
        }
    }
    print!("{}", table(&rows));
    // Healthy when a majority of the endpoints answer with a leader.
    Ok(if healthy * 2 > eps.len() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
