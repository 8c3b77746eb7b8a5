//! `triadctl config validate FILE...`: parse and validate cluster files, print every problem.

use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;
use triad_config::Cluster;

#[derive(Subcommand)]
pub enum ConfigCmd {
    /// Validate cluster files; prints every problem as FILE:LINE:COL: KEY: MESSAGE.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print the file with every default filled in after validating it.
        #[arg(long)]
        print: bool,
    },
}

pub fn run(cmd: ConfigCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        ConfigCmd::Validate { files, print } => {
            let mut failed = false;
            for f in &files {
                match Cluster::load(f) {
                    Ok(c) => {
                        let hosts = c.hosts.len();
                        eprintln!("{}: ok (cluster {:?}, {hosts} hosts)", f.display(), c.cluster.name);
                        if print {
                            print!("{}", c.to_toml());
                        }
                    }
                    Err(e) => {
                        println!("{e}");
                        failed = true;
                    }
                }
            }
            Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
    }
}
