//! One module per subcommand. Each exposes its clap arguments and `run(args) -> Result<ExitCode>`.

pub mod certs;
pub mod config;
pub mod coordinator;
pub mod haproxy;
pub mod hash_password;
pub mod list;
pub mod members;
pub mod switchover;
