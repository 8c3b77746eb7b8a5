//! `triad-coordinator --config FILE --host NAME [--state-dir DIR]`: one member of the
//! coordinator's Raft group, serving the etcd v3 API on the host's address. Start-up, logging
//! and signals are triad-daemon's.

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use triad_daemon::DaemonArgs;

#[derive(Parser)]
#[command(name = "triad-coordinator", version, about = "Triad's Raft key-value store speaking the etcd v3 API")]
struct Args {
    #[command(flatten)]
    daemon: DaemonArgs,
    /// Overrides [cluster] state_dir; data goes to <state-dir>/coordinator.
    #[arg(long)]
    state_dir: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let host = args.daemon.host.clone();
    // The member stops itself on a signal (gracefully: its Raft storage is closed first).
    triad_daemon::main_graceful("triad-coordinator", triad_daemon::Role::Coordinator, &args.daemon, move |cluster, stop| async move {
        let settings = triad_coordinator::server::Settings::new(cluster, &host, args.state_dir)?;
        triad_coordinator::server::run(settings, stop).await
    })
}
