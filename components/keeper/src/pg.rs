//! Running the local PostgreSQL: initdb, start as primary or standby, stop, promote, clone with
//! pg_basebackup, rejoin with pg_rewind.
//!
//! PostgreSQL is started directly (`postgres -D ...`, not `pg_ctl`, which detaches it into its
//! own session) as a child of the keeper, so it shares the keeper's service cgroup and session;
//! systemd's `KillMode=process` keeps it running while the keeper restarts, and a restarted
//! keeper adopts it through `postmaster.pid`. Every host-specific setting is given on the
//! command line, never stored in the data directory: a clone copies the data directory of
//! another host, and must not inherit its addresses. `synchronous_standby_names` alone is set
//! with `ALTER SYSTEM` (it changes at run time).
//!
//! As root (the scenario driver, the demo as root), PostgreSQL runs as the `postgres` OS user
//! (`TRIAD_KEEPER_PG_OS_USER` to change it): it refuses to run as root.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::{Gid, Pid, Uid, User};
use triad_config::{Cluster, ParamValue};

use crate::decision::DataState;

#[derive(Debug, Clone)]
pub struct Postgres {
    pub bin_dir: PathBuf,
    /// `<state_dir>/postgres`: data/, run/ (socket), pg_hba.conf, aside copies.
    pub home: PathBuf,
    pub address: String,
    pub port: u16,
    pub me: String,
    pub superuser: String,
    pub replication_user: String,
    pub app_user: String,
    pub database: String,
    pub password: Option<String>,
    /// Addresses of the cluster's hosts (trusted, or password-authenticated).
    pub peers: Vec<String>,
    pub parameters: Vec<(String, String)>,
    pub os_user: Option<(Uid, Gid)>,
}

impl Postgres {
    pub fn new(cluster: &Cluster, me: &str, state_dir: &Path) -> Result<Postgres> {
        let file = cluster.file();
        let host = cluster.host(me)?;
        let db = &file.database;
        let bin_dir = match &db.bin_dir {
            Some(d) => d.clone(),
            None => find_bin_dir().context("PostgreSQL binaries not found: set [database] bin_dir in the cluster file")?,
        };
        let password = match &db.password_file {
            Some(p) => Some(fs::read_to_string(p).with_context(|| format!("reading [database] password_file {}", p.display()))?.trim().to_string()),
            None => None,
        };
        let os_user = if Uid::effective().is_root() {
            let name = std::env::var("TRIAD_KEEPER_PG_OS_USER").unwrap_or_else(|_| "postgres".into());
            let u = User::from_name(&name)?.with_context(|| format!("running as root, PostgreSQL needs an OS user: no user {name:?}"))?;
            Some((u.uid, u.gid))
        } else {
            None
        };
        let parameters = db
            .parameters
            .iter()
            .map(|(k, v): (&String, &ParamValue)| (k.clone(), v.to_string()))
            .collect();
        Ok(Postgres {
            bin_dir,
            home: state_dir.join("postgres"),
            address: host.address.to_string(),
            port: triad_config::Ports::get(file.ports.postgres),
            me: me.to_string(),
            superuser: db.superuser.clone(),
            replication_user: db.replication_user.clone(),
            app_user: db.app_user.clone(),
            database: db.name.clone(),
            password,
            peers: file.hosts.iter().filter(|h| h.has(triad_config::Role::App)).map(|h| h.address.to_string()).collect(),
            parameters,
            os_user,
        })
    }

    pub fn data_dir(&self) -> PathBuf {
        self.home.join("data")
    }

    fn run_dir(&self) -> PathBuf {
        self.home.join("run")
    }

    /// Present while a rejoin (pg_basebackup, pg_rewind) changes the data directory: a
    /// directory it was interrupted in is neither a primary's nor a standby's.
    fn rejoin_marker(&self) -> PathBuf {
        self.home.join("rejoin-in-progress")
    }

    fn begin_rejoin(&self, how: &str) -> Result<()> {
        let m = self.rejoin_marker();
        let mut f = fs::File::create(&m).with_context(|| format!("creating {}", m.display()))?;
        std::io::Write::write_all(&mut f, how.as_bytes())?;
        f.sync_all()?;
        fs::File::open(&self.home)?.sync_all()?;
        Ok(())
    }

    fn end_rejoin(&self) -> Result<()> {
        fs::remove_file(self.rejoin_marker()).or_else(|e| if e.kind() == std::io::ErrorKind::NotFound { Ok(()) } else { Err(e) })?;
        fs::File::open(&self.home)?.sync_all()?;
        Ok(())
    }

    /// At start-up: a data directory whose rejoin was interrupted (the keeper killed, the
    /// host lost) is set aside, so that the keeper clones afresh instead of starting it or
    /// rewinding it again. Returns where it went.
    pub fn set_aside_interrupted_rejoin(&self) -> Result<Option<PathBuf>> {
        let Ok(how) = fs::read_to_string(self.rejoin_marker()) else { return Ok(None) };
        tracing::warn!(rejoin = how.trim(), "the last rejoin of this data directory was interrupted: cloning afresh");
        let to = if self.data_dir().exists() { Some(self.set_aside("interrupted-rejoin")?) } else { None };
        self.end_rejoin()?;
        Ok(to)
    }

    pub fn data_state(&self) -> DataState {
        let d = self.data_dir();
        if !d.join("PG_VERSION").exists() || self.rejoin_marker().exists() {
            DataState::Missing
        } else if d.join("standby.signal").exists() {
            DataState::Standby
        } else {
            DataState::Primary
        }
    }

    /// The postmaster's pid, if one runs on this data directory.
    pub fn running_pid(&self) -> Option<i32> {
        let text = fs::read_to_string(self.data_dir().join("postmaster.pid")).ok()?;
        let pid: i32 = text.lines().next()?.trim().parse().ok()?;
        kill(Pid::from_raw(pid), None).ok().map(|_| pid)
    }

    /// The replication slot name of a member (slot names allow `[a-z0-9_]` only).
    pub fn slot(name: &str) -> String {
        name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect()
    }

    /// Connection string for this host's own PostgreSQL, as the superuser.
    pub fn local_dsn(&self, dbname: &str) -> String {
        self.dsn(&self.address, &self.superuser, dbname)
    }

    pub fn dsn(&self, host: &str, user: &str, dbname: &str) -> String {
        let mut s = format!("host={host} port={} user={user} dbname={dbname} connect_timeout=3 application_name=triad-keeper", self.port);
        if let Some(p) = &self.password {
            s += &format!(" password='{}'", p.replace('\\', "\\\\").replace('\'', "\\'"));
        }
        s
    }

    /// Connection string for libpq's tools (psql, pg_rewind) to `host` as the superuser. A
    /// soak wedged when a rewind's source lost power while the keeper waited for its answer to
    /// CHECKPOINT: the request had been acknowledged, nothing more was sent, and without
    /// keepalives the keeper waited for good. Probes after 2 s idle, 1 s apart, 3 lost; data
    /// unacknowledged for 10 s also ends the connection. (libpq's spelling: tokio-postgres
    /// refuses `keepalives_count`, so `dsn` leaves these out.)
    pub fn tool_dsn(&self, host: &str, user: &str, dbname: &str) -> String {
        format!("{} keepalives=1 keepalives_idle=2 keepalives_interval=1 keepalives_count=3 tcp_user_timeout=10000", self.dsn(host, user, dbname))
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(self.bin_dir.join(program));
        c.current_dir(&self.home).env_remove("PGDATA");
        if let Some(p) = &self.password {
            c.env("PGPASSWORD", p);
        }
        if let Some((uid, gid)) = self.os_user {
            c.uid(uid.as_raw()).gid(gid.as_raw());
        }
        c
    }

    /// Runs a tool to its end. The tool dies with the keeper: a chaos run killed the keeper
    /// during pg_rewind (`KillMode=process` leaves its children), and the restarted keeper
    /// rewound the same directory while the orphan still wrote to it. PostgreSQL itself is not
    /// run through here: it must outlive a keeper restart, and its fence service stops it.
    fn run(&self, c: Command, what: &str) -> Result<()> {
        output(c, what, None).map(drop)
    }

    /// The keeper's directories, owned by PostgreSQL's OS user.
    pub fn prepare_dirs(&self) -> Result<()> {
        fs::create_dir_all(self.run_dir())?;
        if let Some(parent) = self.home.parent() {
            // PostgreSQL's user must be able to reach its home inside the state directory.
            let mode = fs::metadata(parent)?.permissions().mode();
            if self.os_user.is_some() && mode & 0o001 == 0 {
                fs::set_permissions(parent, fs::Permissions::from_mode(mode | 0o711))?;
            }
        }
        fs::set_permissions(&self.home, fs::Permissions::from_mode(0o700))?;
        if let Some((uid, gid)) = self.os_user {
            for p in [&self.home, &self.run_dir()] {
                nix::unistd::chown(p.as_path(), Some(uid), Some(gid))?;
            }
        }
        Ok(())
    }

    pub fn initdb(&self) -> Result<()> {
        self.prepare_dirs()?;
        let mut c = self.command("initdb");
        c.arg("-D").arg(self.data_dir()).args(["-U", &self.superuser, "--data-checksums", "-A", "trust", "-E", "UTF8", "--locale=C"]);
        self.run(c, "initdb")
    }

    fn write_hba(&self) -> Result<PathBuf> {
        let method = if self.password.is_some() { "scram-sha-256" } else { "trust" };
        let mut text = String::from("# Written by triad-keeper at every start: the cluster's hosts only.\nlocal all all trust\nlocal replication all trust\n");
        let mut nets: Vec<String> = self.peers.iter().chain(std::iter::once(&self.address)).map(|a| format!("{a}/32")).collect();
        // A cluster on one machine (demo, tests) on 127.x addresses: clients connect from
        // 127.0.0.1, whichever loopback address they reach.
        if self.address.starts_with("127.") {
            nets.push("127.0.0.0/8".into());
        }
        for net in nets {
            text += &format!("host all all {net} {method}\nhost replication all {net} {method}\n");
        }
        let path = self.home.join("pg_hba.conf");
        fs::write(&path, text)?;
        if let Some((uid, gid)) = self.os_user {
            nix::unistd::chown(path.as_path(), Some(uid), Some(gid))?;
        }
        Ok(path)
    }

    /// Starts the postmaster (as a standby of `primary` when given, as configured by the data
    /// directory otherwise) and waits until it accepts connections.
    pub async fn start(&self, primary: Option<&str>) -> Result<()> {
        self.prepare_dirs()?;
        let hba = self.write_hba()?;
        let mut c = self.command("postgres");
        c.arg("-D").arg(self.data_dir());
        let mut set = |k: &str, v: String| {
            c.arg("-c").arg(format!("{k}={v}"));
        };
        set("listen_addresses", self.address.clone());
        set("port", self.port.to_string());
        set("unix_socket_directories", self.run_dir().display().to_string());
        set("hba_file", hba.display().to_string());
        set("wal_level", "replica".into());
        set("hot_standby", "on".into());
        set("wal_log_hints", "on".into());
        set("max_wal_senders", "10".into());
        set("max_replication_slots", "10".into());
        set("hot_standby_feedback", "on".into());
        set("wal_keep_size", "128MB".into());
        // Slots of hosts that stay down must not fill the disk: past this the slot is
        // invalidated and that host is cloned afresh when it returns.
        set("max_slot_wal_keep_size", "4GB".into());
        set("cluster_name", self.me.clone());
        // A client whose host vanished (cut off, powered off) while idle in a transaction
        // would keep its locks for good: nothing is sent to an idle client, so without
        // keepalives no error ever comes. A chaos run saw a session from a cut-off host hold
        // the change log's lock, and every engine's commit wait behind it, for 100 s and more.
        // Probes after 2 s idle, 1 s apart, 3 lost: the backend ends within about 5 s.
        set("tcp_keepalives_idle", "2".into());
        set("tcp_keepalives_interval", "1".into());
        set("tcp_keepalives_count", "3".into());
        if let Some(p) = primary {
            set(
                "primary_conninfo",
                format!("host={p} port={} user={} application_name={}", self.port, self.replication_user, self.me),
            );
            set("primary_slot_name", Postgres::slot(&self.me));
            set("recovery_target_timeline", "latest".into());
        }
        for (k, v) in &self.parameters {
            set(k, v.clone());
        }
        let mut child = c.stdin(Stdio::null()).spawn().context("starting postgres")?;
        let pid = child.id();
        // Reap the postmaster when it exits; its output goes to the keeper's journal.
        std::thread::spawn(move || {
            let _ = child.wait();
        });
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if tokio_postgres::connect(&self.local_dsn("postgres"), tokio_postgres::NoTls).await.is_ok() {
                tracing::info!(pid, standby_of = primary, "PostgreSQL accepts connections");
                return Ok(());
            }
            if kill(Pid::from_raw(pid as i32), None).is_err() {
                bail!("postgres exited during start-up (see the log above)");
            }
            // A standby may need its primary (a slot, WAL) before it accepts connections:
            // the keeper must go on publishing its member key meanwhile, not block here.
            if primary.is_some() && Instant::now() + Duration::from_secs(110) > deadline {
                tracing::info!(pid, standby_of = primary, "PostgreSQL started; still recovering");
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("postgres did not accept connections within 120 s");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Stops the postmaster: `fast` (clean, checkpoint) or immediate (as fast as possible: the
    /// fencing path). Waits until it is gone.
    pub async fn stop(&self, fast: bool) -> Result<()> {
        let Some(pid) = self.running_pid() else { return Ok(()) };
        let pid = Pid::from_raw(pid);
        let _ = kill(pid, if fast { Signal::SIGINT } else { Signal::SIGQUIT });
        let deadline = Instant::now() + Duration::from_secs(if fast { 60 } else { 10 });
        while kill(pid, None).is_ok() {
            if Instant::now() > deadline {
                tracing::warn!(%pid, "postgres did not stop in time: killing it");
                let _ = kill(pid, Signal::SIGKILL);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// Promotes the running standby and waits until it accepts writes.
    pub fn promote(&self) -> Result<()> {
        let mut c = self.command("pg_ctl");
        c.arg("promote").arg("-D").arg(self.data_dir()).args(["-w", "-t", "60"]);
        self.run(c, "pg_ctl promote")
    }

    /// Creates the data directory as a copy of `primary`'s, set up as its standby.
    pub fn clone_from(&self, primary: &str) -> Result<()> {
        self.prepare_dirs()?;
        let d = self.data_dir();
        if d.exists() {
            self.set_aside("partial-clone")?;
        }
        self.begin_rejoin("pg_basebackup")?;
        let mut c = self.command("pg_basebackup");
        c.arg("-D").arg(&d).arg("-d").arg(self.tool_dsn(primary, &self.replication_user, "replication")).args(["-X", "stream", "-c", "fast", "--no-password"]);
        self.run(c, &format!("pg_basebackup from {primary}"))?;
        self.mark_standby()?;
        self.end_rejoin()
    }

    /// Makes an old primary a standby of `primary` with pg_rewind. On failure the caller
    /// re-clones; the old directory is set aside, never deleted.
    pub fn rewind_from(&self, primary: &str) -> Result<()> {
        // pg_rewind needs a cleanly shut down target: finish crash recovery in single-user mode.
        let mut single = self.command("postgres");
        single.arg("--single").arg("-D").arg(self.data_dir()).args(["-c", "wal_log_hints=on", "postgres"]);
        let _ = self.run(single, "crash recovery in single-user mode");
        let mut attempt = 1;
        loop {
            let rewound = self.source_promoted(primary).and_then(|()| {
                self.begin_rejoin("pg_rewind")?;
                let mut c = self.command("pg_rewind");
                c.arg("--target-pgdata").arg(self.data_dir()).arg("--source-server").arg(self.tool_dsn(primary, &self.superuser, "postgres"));
                self.run(c, &format!("pg_rewind from {primary}"))
            });
            match rewound {
                Ok(()) => break,
                Err(e) if momentary(&format!("{e:#}")) => {
                    // Nothing was changed: the marker goes, the directory is the old primary's.
                    self.end_rejoin()?;
                    if !rewind_again(attempt, &format!("{e:#}")) {
                        return Err(e);
                    }
                    tracing::warn!(error = format!("{e:#}"), attempt, "pg_rewind cannot start yet: trying again");
                    std::thread::sleep(std::time::Duration::from_secs(2));
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
        self.mark_standby()?;
        self.end_rejoin()
    }

    /// The rewind's source is out of recovery and its new timeline is in its control file,
    /// where pg_rewind reads it. A keeper that sees the new leader's key may act before that
    /// leader has promoted and checkpointed: pg_rewind then finds both on the same timeline,
    /// answers "no rewind required", and the old primary starts as a standby whose WAL runs
    /// past the fork: it waits for WAL for good (seen in a switchover while a scenario ran).
    fn source_promoted(&self, primary: &str) -> Result<()> {
        let sql = |query: &str| {
            let mut c = self.command("psql");
            c.args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d"]).arg(self.tool_dsn(primary, &self.superuser, "postgres")).args(["-c", query]);
            // Nothing is changed yet: whatever goes wrong, the next round may try again.
            output(c, &format!("asking {primary} ({query})"), Some(ASK_WITHIN)).with_context(|| format!("the rewind's source {primary} did not answer"))
        };
        if sql("SELECT pg_is_in_recovery()")?.trim() != "f" {
            bail!("the rewind's source {primary} is not yet promoted (still in recovery)");
        }
        sql("CHECKPOINT").map(drop)
    }

    fn mark_standby(&self) -> Result<()> {
        let signal = self.data_dir().join("standby.signal");
        fs::write(&signal, "")?;
        if let Some((uid, gid)) = self.os_user {
            nix::unistd::chown(signal.as_path(), Some(uid), Some(gid))?;
        }
        Ok(())
    }

    /// Moves the data directory aside (kept for the operator, named with the reason).
    pub fn set_aside(&self, why: &str) -> Result<PathBuf> {
        let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
        let to = self.home.join(format!("data.{why}-{stamp}"));
        fs::rename(self.data_dir(), &to).with_context(|| format!("moving the data directory aside to {}", to.display()))?;
        tracing::warn!(to = %to.display(), "data directory set aside (not deleted)");
        Ok(to)
    }

    /// Removes `standby.signal` after a promotion (PostgreSQL does it too; this keeps
    /// `data_state` right if the keeper restarts in between).
    pub fn clear_standby_mark(&self) {
        let _ = fs::remove_file(self.data_dir().join("standby.signal"));
    }
}

/// Runs a tool to its end and returns its standard output; killed with its process group
/// when `within` passes (a question to another host's PostgreSQL has no business taking
/// long; copying a data directory may take as long as it needs, its connection's keepalives
/// end it if the other host is gone).
pub fn output(mut c: Command, what: &str, within: Option<std::time::Duration>) -> Result<String> {
    // SAFETY: only async-signal-safe calls (prctl(2), setpgid(2)) run between fork and exec.
    unsafe {
        c.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)?;
            nix::unistd::setpgid(nix::unistd::Pid::from_raw(0), nix::unistd::Pid::from_raw(0)).map_err(std::io::Error::from)
        });
    }
    let child = c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().with_context(|| format!("{what}: cannot run {:?}", c.get_program()))?;
    let pid = child.id() as i32;
    let (done, waited) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let out = child.wait_with_output();
        let _ = done.send(());
        out
    });
    if let Some(within) = within
        && waited.recv_timeout(within).is_err()
    {
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
        let _ = waiter.join();
        bail!("{what} did not finish within {} s: stopped", within.as_secs());
    }
    let out = waiter.join().map_err(|_| anyhow::anyhow!("{what}: waiting for it panicked"))?.with_context(|| format!("{what}: waiting for it"))?;
    if !out.status.success() {
        bail!("{what} failed ({}): {}{}", out.status, String::from_utf8_lossy(&out.stderr).trim(), String::from_utf8_lossy(&out.stdout).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// How long a question to another host's PostgreSQL (in recovery? CHECKPOINT) may take.
const ASK_WITHIN: std::time::Duration = std::time::Duration::from_secs(30);

/// Whether a failed pg_rewind (attempt `attempt`, its error `error`) is tried again rather
/// than the directory cloned afresh: only when it never reached the source (refused, or the
/// source starting up or shutting down, or not yet promoted, as right after a switchover), so
/// it changed nothing; five attempts at most. A chaos run saw a momentary refusal cost a full clone.
pub fn rewind_again(attempt: u32, error: &str) -> bool {
    attempt < 5 && momentary(error)
}

const MOMENTARY: [&str; 7] = ["could not connect to server", "connection to server at", "Connection refused", "the database system is starting up", "the database system is shutting down", "is not yet promoted", "did not answer"];

/// Whether a rejoin failed for a reason that passes (see `rewind_again`): the directory is
/// as it was, and the keeper's next round tries again rather than cloning afresh.
pub fn momentary(error: &str) -> bool {
    MOMENTARY.iter().any(|m| error.contains(m))
}

fn find_bin_dir() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("postgres").exists() && dir.join("initdb").exists() {
                return Some(fs::canonicalize(dir.join("postgres")).ok()?.parent()?.to_path_buf());
            }
        }
    }
    let mut versions: Vec<PathBuf> = fs::read_dir("/usr/lib/postgresql").ok()?.flatten().map(|e| e.path().join("bin")).filter(|p| p.join("postgres").exists()).collect();
    versions.sort();
    versions.pop()
}

#[cfg(test)]
mod tests {
    use super::{output, rewind_again};
    use std::process::Command;
    use std::time::{Duration, Instant};

    #[test]
    fn a_tool_past_its_deadline_is_stopped_with_its_children() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("child");
        let mut c = Command::new("sh");
        c.arg("-c").arg(format!("sleep 60 & echo $! > {}; wait", pidfile.display()));
        let started = Instant::now();
        let e = output(c, "asking a host that never answers", Some(Duration::from_secs(1))).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        assert_eq!(format!("{e:#}"), "asking a host that never answers did not finish within 1 s: stopped");
        let child: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
        let gone = (0..50).any(|_| {
            std::thread::sleep(Duration::from_millis(100));
            std::fs::read_to_string(format!("/proc/{child}/stat")).map_or(true, |s| s.contains(") Z "))
        });
        assert!(gone, "the tool's own child {child} was stopped too");

        let mut ok = Command::new("sh");
        ok.args(["-c", "echo answered"]);
        assert_eq!(output(ok, "asking", Some(Duration::from_secs(10))).unwrap(), "answered\n");
        let mut failing = Command::new("sh");
        failing.args(["-c", "echo refused >&2; exit 2"]);
        assert_eq!(format!("{:#}", output(failing, "asking", None).unwrap_err()), "asking failed (exit status: 2): refused");
    }

    #[test]
    fn a_rewind_is_tried_again_only_when_it_never_reached_the_source() {
        for (attempt, error, again) in [
            (1, "pg_rewind from 10.0.0.2 failed (exit status: 1): pg_rewind: error: could not connect to server: Connection refused", true),
            (1, "pg_rewind: error: connection to server at \"10.0.0.2\", port 5432 failed: FATAL:  the database system is starting up", true),
            (2, "pg_rewind: error: connection to server at \"10.0.0.2\", port 5432 failed: FATAL:  the database system is shutting down", true),
            (4, "the rewind's source 10.0.0.2 is not yet promoted (still in recovery)", true),
            (2, "the rewind's source 10.0.0.2 did not answer: asking 10.0.0.2 (CHECKPOINT) did not finish within 30 s: stopped", true),
            (1, "the rewind's source 10.0.0.2 did not answer: asking 10.0.0.2 (CHECKPOINT) failed (exit status: 2): psql: error: server closed the connection unexpectedly", true),
            (1, "pg_rewind from 10.0.0.2 failed (exit status: 1): pg_rewind: error: could not receive data from server: Connection timed out", false),
            (5, "pg_rewind: error: could not connect to server: Connection refused", false),
            (1, "pg_rewind: fatal: could not find common ancestor of the source and target cluster's timelines", false),
            (1, "pg_rewind: error: could not open file \"base/1/1259\": No such file or directory", false),
        ] {
            assert_eq!(rewind_again(attempt, error), again, "attempt {attempt}: {error}");
        }
    }
}
