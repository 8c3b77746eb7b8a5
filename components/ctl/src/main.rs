//! triadctl: the operator's command line. Each subcommand lives in `cmd/<name>.rs`; this file
//! only parses arguments and dispatches.

mod cmd;
mod coordinator_api;
mod table;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "triadctl", version, about = "Operate a Triad cluster")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The cluster's certificate authority and its hosts' certificates.
    #[command(subcommand)]
    Certs(cmd::certs::CertsCmd),
    /// Check cluster files.
    #[command(subcommand)]
    Config(cmd::config::ConfigCmd),
    /// Render an HAProxy configuration from the cluster file.
    HaproxyConfig(cmd::haproxy::HaproxyArgs),
    /// Print the argon2 hash of a password (for [[users]] password_hash).
    HashPassword,
    /// The coordinator's members: list, add, remove, promote.
    #[command(subcommand)]
    Members(cmd::members::MembersCmd),
    /// The database cluster: members, roles, states, timelines, lag (like patronictl list).
    List(cmd::list::ListArgs),
    /// Move the database primary to a synchronous standby, cleanly.
    Switchover(cmd::switchover::SwitchoverArgs),
    /// Ask the keepers to make a given member primary (when there may be no leader).
    Failover(cmd::switchover::SwitchoverArgs),
    /// The coordinator's health as each member sees it.
    #[command(subcommand)]
    Coordinator(cmd::coordinator::CoordinatorCmd),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Certs(c) => cmd::certs::run(c),
        Command::Config(c) => cmd::config::run(c),
        Command::HaproxyConfig(a) => cmd::haproxy::run(a),
        Command::HashPassword => cmd::hash_password::run(),
        Command::Members(c) => cmd::members::run(c),
        Command::Coordinator(c) => cmd::coordinator::run(c),
        Command::List(a) => cmd::list::run(a),
        Command::Switchover(a) => cmd::switchover::run(a, false),
        Command::Failover(a) => cmd::switchover::run(a, true),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("triadctl: {e:#}");
            ExitCode::from(1)
        }
    }
}
