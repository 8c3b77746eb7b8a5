//! `triadctl certs`: the cluster's certificate authority and its hosts' certificates, as files
//! (docs/security.md has the layout). Keys are written readable by their owner only, and a
//! file is never overwritten but by `--renew`, which replaces it whole (write, then rename),
//! so a daemon reading it never sees half a certificate.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use time::OffsetDateTime;
use triad_config::{Cluster, Role};
use triad_ctl::ca::{self, Identity, Pem};

#[derive(Subcommand)]
pub enum CertsCmd {
    /// Create the cluster's certificate authority: DIR/ca.crt and DIR/ca.key.
    Init(InitArgs),
    /// Issue a host's certificate from the CA in DIR, naming the FQDN, short name and address
    /// the cluster file gives it: OUT/HOST.crt and OUT/HOST.key.
    Issue(IssueArgs),
}

#[derive(Args)]
pub struct InitArgs {
    /// The cluster file (its cluster name goes into the CA's name).
    #[arg(long, env = "TRIAD_CONFIG", default_value = "/etc/triad/cluster.toml")]
    config: PathBuf,
    /// Where the CA's files go. Keep ca.key off the cluster's hosts.
    #[arg(long, default_value = "triad-ca")]
    dir: PathBuf,
    /// Days the CA is valid.
    #[arg(long, default_value_t = 3650)]
    days: i64,
}

#[derive(Args)]
pub struct IssueArgs {
    /// The host, by its name in the cluster file.
    host: String,
    #[arg(long, env = "TRIAD_CONFIG", default_value = "/etc/triad/cluster.toml")]
    config: PathBuf,
    /// Where the CA's files are.
    #[arg(long, default_value = "triad-ca")]
    dir: PathBuf,
    /// Where the host's files go (default: DIR).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Days the certificate is valid.
    #[arg(long, default_value_t = 365)]
    days: i64,
    /// Replace an existing certificate and key (rotation).
    #[arg(long)]
    renew: bool,
}

pub fn run(c: CertsCmd) -> Result<ExitCode> {
    match c {
        CertsCmd::Init(a) => init(a),
        CertsCmd::Issue(a) => issue(a),
    }
}

fn init(a: InitArgs) -> Result<ExitCode> {
    let cluster = Cluster::load(&a.config)?;
    let name = &cluster.file().cluster.name;
    let (cert, key) = (a.dir.join("ca.crt"), a.dir.join("ca.key"));
    for f in [&cert, &key] {
        if f.exists() {
            bail!("{} exists: a cluster has one CA (remove it first to start over; every host then needs a new certificate)", f.display());
        }
    }
    fs::create_dir_all(&a.dir).with_context(|| format!("creating {}", a.dir.display()))?;
    let pem = ca::new_ca(name, OffsetDateTime::now_utc(), a.days)?;
    write(&key, &pem.key, 0o600, false)?;
    write(&cert, &pem.cert, 0o644, false)?;
    println!("CA of cluster {name}: {} (certificate), {} (key, keep it off the hosts)", cert.display(), key.display());
    Ok(ExitCode::SUCCESS)
}

fn issue(a: IssueArgs) -> Result<ExitCode> {
    let cluster = Cluster::load(&a.config)?;
    let host = cluster.host(&a.host)?;
    let read = |f: &str| fs::read_to_string(a.dir.join(f)).with_context(|| format!("reading {} (create the CA with `triadctl certs init`)", a.dir.join(f).display()));
    let authority = Pem { cert: read("ca.crt")?, key: read("ca.key")? };
    // An app host's engine answers SQL passed through by the balancers (TCP, not terminated):
    // its certificate also names them and their virtual address.
    let balancers: Vec<_> = if host.roles.contains(&Role::App) { cluster.file().hosts.iter().filter(|h| h.roles.contains(&Role::Balancer)).collect() } else { vec![] };
    let mut via_addresses: Vec<_> = balancers.iter().map(|b| b.address).collect();
    via_addresses.extend(cluster.file().balancer.virtual_ip.as_ref().filter(|_| !balancers.is_empty()).map(|v| v.address));
    let identity = Identity {
        name: host.name.clone(),
        fqdn: host.fqdn.clone(),
        address: host.address,
        via_names: balancers.iter().flat_map(|b| [b.fqdn.clone(), b.name.clone()]).collect(),
        via_addresses,
    };
    let pem = ca::issue(&authority, &identity, OffsetDateTime::now_utc(), a.days)?;
    let out = a.out.unwrap_or(a.dir);
    fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let (cert, key) = (out.join(format!("{}.crt", host.name)), out.join(format!("{}.key", host.name)));
    write(&key, &pem.key, 0o600, a.renew)?;
    write(&cert, &pem.cert, 0o644, a.renew)?;
    let via = if identity.via_names.is_empty() { String::new() } else { format!("; through {}", identity.via_names.join(", ")) };
    println!("{}: {} and {} ({}, {}, {}{via}; {} days)", host.name, cert.display(), key.display(), host.fqdn, host.name, host.address, a.days);
    Ok(ExitCode::SUCCESS)
}

/// Writes `text` to `path` with `mode`: a new file, or with `replace` a whole new version
/// renamed over the old one.
fn write(path: &Path, text: &str, mode: u32, replace: bool) -> Result<()> {
    if !replace && path.exists() {
        bail!("{} exists (use --renew to replace it)", path.display());
    }
    let tmp = path.with_extension(format!("{}.new", path.extension().and_then(|e| e.to_str()).unwrap_or("")));
    let _ = fs::remove_file(&tmp);
    let mut f = fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    // The mode of create_new is masked by the umask; the key must be 0600 whatever it is.
    fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))?;
    fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
