//! Fencing that does not live only inside the keeper: the keeper writes, at every successful
//! renewal of its lease while it leads, the deadline until which it certainly holds the lease
//! into a file; `triad-keeper fence` (its own service, beside PostgreSQL) kills PostgreSQL when
//! that deadline passes. A keeper that is frozen (SIGSTOP), crash-looping or killed while
//! PostgreSQL runs as primary therefore cannot leave a writable primary behind: its deadline
//! passes before the coordinator can expire its lease and a standby can be promoted.
//!
//! The deadline is absolute on the boot-time clock (`/proc/uptime`, 10 ms resolution), which
//! both processes share and which survives either one's restart: a keeper that comes back
//! inherits the deadline its predecessor wrote, it cannot reset it, and only a fresh renewal
//! of a lease it leads under moves it. The file is rewritten atomically (rename).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// What the fence file says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fence {
    /// PostgreSQL may run as primary until this boot-time instant (milliseconds).
    Armed { deadline_ms: u64 },
    /// This host does not lead: nothing to enforce.
    Disarmed,
}

impl Fence {
    pub fn parse(text: &str) -> Option<Fence> {
        let mut words = text.split_whitespace();
        match words.next()? {
            "armed" => Some(Fence::Armed { deadline_ms: words.next()?.parse().ok()? }),
            "disarmed" => Some(Fence::Disarmed),
            _ => None,
        }
    }

    pub fn render(&self) -> String {
        match self {
            Fence::Armed { deadline_ms } => format!("armed {deadline_ms}\n"),
            Fence::Disarmed => "disarmed\n".into(),
        }
    }

    /// Must PostgreSQL (running as primary) be stopped at boot-time `now_ms`?
    pub fn expired(&self, now_ms: u64) -> bool {
        matches!(self, Fence::Armed { deadline_ms } if now_ms >= *deadline_ms)
    }
}

/// The boot-time clock in milliseconds (CLOCK_BOOTTIME, as `/proc/uptime` reports it).
pub fn boot_ms() -> Result<u64> {
    let text = std::fs::read_to_string("/proc/uptime").context("reading /proc/uptime")?;
    let secs: f64 = text.split_whitespace().next().context("empty /proc/uptime")?.parse().context("parsing /proc/uptime")?;
    Ok((secs * 1000.0) as u64)
}

/// The fence file of a keeper state directory.
pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join("fence")
}

/// Writes the file atomically.
pub fn write(file: &Path, fence: Fence) -> Result<()> {
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, fence.render()).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, file).with_context(|| format!("renaming to {}", file.display()))?;
    Ok(())
}

/// Arms the fence until `deadline` (a monotonic instant of this process), on the shared clock.
/// Rounded down, so the file never grants more than the lease rule does.
pub fn arm(file: &Path, deadline: Instant) -> Result<()> {
    let now = Instant::now();
    let left = deadline.saturating_duration_since(now);
    write(file, Fence::Armed { deadline_ms: boot_ms()? + left.as_millis() as u64 })
}

pub fn read(file: &Path) -> Option<Fence> {
    Fence::parse(&std::fs::read_to_string(file).ok()?)
}

/// Kills a postmaster and its children at once (SIGKILL: also works on a stopped process,
/// which SIGQUIT would only reach once it is continued). Same as a power cut for the data:
/// PostgreSQL recovers from its WAL at the next start.
pub fn kill_postgres(postmaster: i32) {
    let children = children_of(postmaster);
    let _ = kill(Pid::from_raw(postmaster), Signal::SIGKILL);
    for c in children {
        let _ = kill(Pid::from_raw(c), Signal::SIGKILL);
    }
}

fn children_of(pid: i32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return vec![] };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat")).ok().and_then(|s| {
                // pid (comm) state ppid ...: comm may contain spaces, so split after the ')'.
                let rest = &s[s.rfind(')')? + 1..];
                rest.split_whitespace().nth(1)?.parse::<i32>().ok()
            }) == Some(pid)
        })
        .collect()
}

/// The kernel watchdog (softdog), kicked by the fence at every check it completes: if the
/// fence itself stops running (the host frozen or starved), the kernel resets the host before
/// a primary could outlive its lease unfenced. Patroni kicks it after each leader-lock update;
/// here the fence's check is that point, since it kills an expired primary before kicking.
struct Watchdog(std::fs::File);

impl Watchdog {
    fn open() -> Option<Watchdog> {
        let path = std::env::var_os("TRIAD_KEEPER_WATCHDOG")?;
        match std::fs::OpenOptions::new().write(true).open(&path) {
            Ok(f) => {
                tracing::info!(device = ?path, "kicking the kernel watchdog at every fence check");
                Some(Watchdog(f))
            }
            Err(e) => {
                tracing::warn!(device = ?path, error = %e, "no kernel watchdog: fencing without it");
                None
            }
        }
    }

    fn kick(&mut self) {
        use std::io::Write;
        let _ = self.0.write_all(b"k").and_then(|_| self.0.flush());
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        // The magic close: a fence that is stopped on purpose disarms the watchdog.
        use std::io::Write;
        let _ = self.0.write_all(b"V");
    }
}

/// `triad-keeper fence`: enforces the fence file every 100 ms until stopped.
pub fn run(pg: &crate::pg::Postgres, state_dir: &Path) -> Result<()> {
    let file = path(state_dir);
    if std::env::var_os("TRIAD_KEEPER_TEST_DISABLE_FENCE").is_some_and(|v| v == "1") {
        // Test-only: proves the scenario checks see a primary nobody fences.
        tracing::warn!("TRIAD_KEEPER_TEST_DISABLE_FENCE=1: the fence does nothing (test-only setting)");
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    tracing::info!(file = %file.display(), "fencing PostgreSQL by the keeper's lease deadline");
    let mut watchdog = Watchdog::open();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [nix::libc::SIGTERM, nix::libc::SIGINT] {
        signal_hook_flag(sig, stop.clone());
    }
    let mut last_kill: Option<i32> = None;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        if let Some(fence) = read(&file)
            && fence.expired(boot_ms()?)
            && pg.data_state() == crate::decision::DataState::Primary
            && let Some(pid) = pg.running_pid()
        {
            if last_kill != Some(pid) {
                tracing::error!(pid, "the keeper's lease deadline passed without renewal: killing PostgreSQL (fencing)");
            }
            kill_postgres(pid);
            last_kill = Some(pid);
        }
        if let Some(w) = watchdog.as_mut() {
            w.kick();
        }
    }
    tracing::info!("stopping");
    Ok(())
}

/// Sets `flag` when `sig` arrives (a plain handler: the fence is one thread, no runtime).
fn signal_hook_flag(sig: i32, flag: std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use std::sync::OnceLock;
    static FLAG: OnceLock<std::sync::Arc<std::sync::atomic::AtomicBool>> = OnceLock::new();
    let _ = FLAG.set(flag);
    extern "C" fn on_signal(_: i32) {
        if let Some(f) = FLAG.get() {
            f.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
    let action = nix::sys::signal::SigAction::new(nix::sys::signal::SigHandler::Handler(on_signal), nix::sys::signal::SaFlags::empty(), nix::sys::signal::SigSet::empty());
    // SAFETY: the handler only stores into an atomic.
    unsafe {
        let _ = nix::sys::signal::sigaction(nix::sys::signal::Signal::try_from(sig).expect("a signal"), &action);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_round_trips_and_expires_at_its_deadline() {
        for f in [Fence::Armed { deadline_ms: 12_345 }, Fence::Disarmed] {
            assert_eq!(Fence::parse(&f.render()), Some(f));
        }
        assert_eq!(Fence::parse("garbage"), None);
        let f = Fence::Armed { deadline_ms: 1000 };
        assert!(!f.expired(999));
        assert!(f.expired(1000));
        assert!(!Fence::Disarmed.expired(u64::MAX));
    }

    #[test]
    fn arming_never_grants_more_than_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let file = path(dir.path());
        let before = boot_ms().unwrap();
        arm(&file, Instant::now() + Duration::from_millis(2500)).unwrap();
        let Some(Fence::Armed { deadline_ms }) = read(&file) else { panic!("not armed") };
        let after = boot_ms().unwrap();
        assert!(deadline_ms <= after + 2500 && deadline_ms + 20 >= before + 2500, "{before} {deadline_ms} {after}");
    }
}
