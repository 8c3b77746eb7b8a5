//! triad-daemon: the start-up and the life of every Triad daemon, written once.
//!
//! [`main`] reads the cluster file (exit 2 when it is unusable: a configuration error is not a
//! crash to restart into), sets up logging, builds the runtime and runs the daemon until it
//! fails (exit 1, the error logged) or SIGTERM/SIGINT asks it to stop (exit 0). [`Servers`]
//! holds the daemon's listeners: a listener that ends, with an error or without one, ends the
//! daemon with an error naming it, so a dead port never hides behind a live process.

pub mod metrics;
pub mod tls;

use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::anyhow;
use tokio::task::JoinSet;
pub use triad_config::Role;
use triad_config::Cluster;

/// The arguments every daemon takes (flattened into its own).
#[derive(clap::Args, Debug, Clone)]
pub struct DaemonArgs {
    /// The cluster file.
    #[arg(long, env = "TRIAD_CONFIG", default_value = "/etc/triad/cluster.toml")]
    pub config: PathBuf,
    /// This host's name in the cluster file.
    #[arg(long, env = "TRIAD_HOST")]
    pub host: String,
    /// One JSON object per log line.
    #[arg(long)]
    pub log_json: bool,
}

/// Exit codes: 0 stopped on request, 1 failed, 2 the cluster file is unusable or does not give
/// this host the daemon's role.
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_CONFIG: u8 = 2;

/// Runs daemon `name`: logging, the cluster file, the runtime, `run` until it fails or a
/// signal stops it.
pub fn main<F, Fut>(name: &str, role: Role, args: &DaemonArgs, run: F) -> ExitCode
where
    F: FnOnce(Cluster) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    match start(name, role, args) {
        Ok((cluster, runtime)) => ExitCode::from(runtime.block_on(until_stopped(name, run(cluster), stop_requested()))),
        Err(code) => code,
    }
}

/// Logging, then the cluster file and this host in it with `role` (exit 2 when either is
/// wrong: restarting would not help), then the runtime.
fn start(name: &str, role: Role, args: &DaemonArgs) -> Result<(Cluster, tokio::runtime::Runtime), ExitCode> {
    init_logging(args.log_json);
    let refuse = |e: String| {
        eprintln!("{name}: {e}");
        ExitCode::from(EXIT_CONFIG)
    };
    let cluster = Cluster::load(&args.config).map_err(|e| refuse(e.to_string()))?;
    let host = cluster.host(&args.host).map_err(|e| refuse(format!("--host: {e}")))?;
    if !host.has(role) {
        return Err(refuse(format!("{}: host {:?} has no {:?} role; {name} runs only on {} hosts", args.config.display(), host.name, role.as_str(), role.as_str())));
    }
    Ok((cluster, tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime")))
}

/// Like [`main`] for a daemon that stops itself gracefully: `run` gets the stop request (a
/// future that completes on SIGTERM/SIGINT) and must return soon after it completes.
pub fn main_graceful<F, Fut>(name: &str, role: Role, args: &DaemonArgs, run: F) -> ExitCode
where
    F: FnOnce(Cluster, std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    match start(name, role, args) {
        Ok((cluster, runtime)) => ExitCode::from(runtime.block_on(until_stopped(name, run(cluster, Box::pin(stop_requested())), std::future::pending()))),
        Err(code) => code,
    }
}

/// The exit code of `daemon` run until `stop` (a signal) completes.
pub async fn until_stopped(name: &str, daemon: impl Future<Output = anyhow::Result<()>>, stop: impl Future<Output = ()>) -> u8 {
    tokio::select! {
        r = daemon => match r {
            Ok(()) => 0,
            Err(e) => {
                tracing::error!("{e:#}");
                eprintln!("{name}: {e:#}");
                EXIT_FAILED
            }
        },
        () = stop => {
            tracing::info!("stopping on request");
            0
        }
    }
}

fn init_logging(json: bool) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let fmt = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json {
        fmt.json().init();
    } else {
        fmt.with_ansi(std::io::stderr().is_terminal()).init();
    }
}

/// SIGTERM (systemd's stop) or SIGINT.
pub async fn stop_requested() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
}

/// A daemon's listeners, each a task that serves until the daemon stops.
#[derive(Default)]
pub struct Servers {
    tasks: JoinSet<(String, Result<(), String>)>,
}

impl Servers {
    /// Serves `what` (for example "SQL on 10.0.0.1:5433") in its own task.
    pub fn spawn<E: std::fmt::Display>(&mut self, what: impl Into<String>, server: impl Future<Output = Result<(), E>> + Send + 'static) {
        let what = what.into();
        self.tasks.spawn(async move { (what, server.await.map_err(|e| e.to_string())) });
    }

    /// Waits for the first listener to end and says which and why. Servers run until the
    /// daemon stops, so any end is a failure; with no server it waits forever.
    pub async fn failed(&mut self) -> anyhow::Error {
        match self.tasks.join_next().await {
            Some(Ok((what, Ok(())))) => anyhow!("the {what} server stopped"),
            Some(Ok((what, Err(e)))) => anyhow!("the {what} server failed: {e}"),
            Some(Err(panic)) => anyhow!("a server task ended: {panic}"),
            None => std::future::pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_listener_that_fails_ends_the_daemon_with_an_error_naming_it() {
        let mut servers = Servers::default();
        servers.spawn("HTTP on 127.0.0.1:1", async { std::future::pending::<Result<(), std::io::Error>>().await });
        servers.spawn("SQL on 127.0.0.1:2", async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Err::<(), _>(std::io::Error::other("accept: too many open files"))
        });
        let daemon = async move { Err::<(), _>(servers.failed().await) };
        let code = until_stopped("triad-test", daemon, std::future::pending()).await;
        assert_eq!(code, EXIT_FAILED);
    }

    #[tokio::test]
    async fn a_listener_that_returns_is_a_failure_too() {
        let mut servers = Servers::default();
        servers.spawn("peer on 127.0.0.1:3", async { Ok::<(), std::io::Error>(()) });
        let e = servers.failed().await.to_string();
        assert_eq!(e, "the peer on 127.0.0.1:3 server stopped");
    }

    #[tokio::test]
    async fn a_stop_request_exits_zero_and_success_exits_zero() {
        assert_eq!(until_stopped("t", std::future::pending(), async {}).await, 0);
        assert_eq!(until_stopped("t", async { Ok(()) }, std::future::pending()).await, 0);
    }

    #[tokio::test]
    async fn no_servers_means_no_failure() {
        let mut servers = Servers::default();
        assert!(tokio::time::timeout(Duration::from_millis(50), servers.failed()).await.is_err());
    }
}
