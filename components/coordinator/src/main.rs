//! `triad-coordinator --config FILE --host NAME [--state-dir DIR]`: one member of the
//! coordinator's Raft group, serving the etcd v3 API on the host's address.

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "triad-coordinator", version, about = "Triad's Raft key-value store speaking the etcd v3 API")]
struct Args {
    /// The cluster file.
    #[arg(long, env = "TRIAD_CONFIG", default_value = "/etc/triad/cluster.toml")]
    config: PathBuf,
    /// This host's name in the cluster file.
    #[arg(long, env = "TRIAD_HOST")]
    host: String,
    /// Overrides [cluster] state_dir; data goes to <state-dir>/coordinator.
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// One JSON object per log line.
    #[arg(long)]
    log_json: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let fmt = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if args.log_json { fmt.json().init() } else { fmt.init() }
    let settings = match triad_config::Cluster::load(&args.config)
        .map_err(anyhow::Error::from)
        .and_then(|c| triad_coordinator::server::Settings::new(c, &args.host, args.state_dir))
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("triad-coordinator: {e:#}");
            return ExitCode::from(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    match rt.block_on(triad_coordinator::server::run(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("triad-coordinator: {e:#}");
            ExitCode::from(1)
        }
    }
}
