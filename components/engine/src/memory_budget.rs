//! How much memory the engine lets its cubes and queries take. A budget above what the
//! service may use is no budget at all: with `MemoryMax=512M` and the old fixed 4GiB, one
//! query ran the process into its limit, the kernel's reclaim stalled every thread, and
//! the engine missed its registration renewals and left the cluster instead of refusing the
//! query (a chaos run, issue 18). Unset budgets are therefore derived from the limit; set
//! ones are honoured, with a warning when they exceed it.
//!
//! Half the limit, because the budget bounds what the engine counts and the kernel charges
//! more: between two checks queries allocate past it (up to 100 MiB was seen), and the
//! service's file pages (the binary's own code among them) need room, or the kernel's
//! reclaim takes them back over and over and every thread stalls.

use std::path::{Path, PathBuf};

/// The most an unset process budget becomes, however large the machine.
const DEFAULT_PROCESS_MAX: u64 = 4 << 30;
/// The most an unset query budget becomes.
const DEFAULT_QUERY_MAX: u64 = 1 << 30;
/// Values cgroup v1 reports for "no limit" are near `i64::MAX` rounded to pages.
const NO_LIMIT_ABOVE: u64 = 1 << 60;

/// The budgets the engine runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budgets {
    /// Cubes and running queries together.
    pub process: u64,
    /// One query's intermediate results.
    pub query: u64,
}

/// The rule: `process` and `query` as configured (`None`: unset), `limit` the memory the
/// service may use. Returns the budgets and, when the configuration asks for more than the
/// limit, a warning for the log.
pub fn budgets(process: Option<u64>, query: Option<u64>, limit: u64) -> (Budgets, Vec<String>) {
    let mib = |b: u64| b >> 20;
    let mut warnings = vec![];
    let process = match process {
        Some(p) => {
            if p > limit {
                warnings.push(format!(
                    "[engine] process_memory_budget ({} MiB) is above the memory this service may use ({} MiB): a load or queries can get the engine killed by the kernel instead of refused",
                    mib(p),
                    mib(limit)
                ));
            }
            p
        }
        None => (limit / 2).min(DEFAULT_PROCESS_MAX),
    };
    let query = match query {
        Some(q) if q > process => {
            warnings.push(format!("[engine] query_memory_budget ({} MiB) is above the process budget ({} MiB); using the process budget", mib(q), mib(process)));
            process
        }
        Some(q) => q,
        None => DEFAULT_QUERY_MAX.min(process),
    };
    (Budgets { process, query }, warnings)
}

/// The memory this process may use: the lowest memory limit of its cgroup and the cgroup's
/// ancestors (v1 or v2), else the host's memory.
pub fn service_limit() -> u64 {
    let cgroup = std::fs::read_to_string("/proc/self/cgroup").ok().and_then(|text| {
        memory_cgroups(&text)
            .into_iter()
            .filter_map(|(root, path)| lowest_limit(&root, &path))
            .min()
    });
    cgroup.or_else(host_memory).unwrap_or(DEFAULT_PROCESS_MAX * 4 / 3)
}

/// Where this process's memory limits live, per `/proc/self/cgroup`: for cgroup v1 the line
/// whose controllers include `memory`, for v2 the unified `0::` line; each as the hierarchy's
/// mount point and the cgroup's path in it.
fn memory_cgroups(proc_self_cgroup: &str) -> Vec<(PathBuf, String)> {
    let mut found = vec![];
    for line in proc_self_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next()) else { continue };
        if controllers.split(',').any(|c| c == "memory") {
            found.push((PathBuf::from("/sys/fs/cgroup/memory"), path.to_string()));
        } else if id == "0" && controllers.is_empty() {
            found.push((PathBuf::from("/sys/fs/cgroup"), path.to_string()));
        }
    }
    found
}

/// The lowest limit from the cgroup at `path` up to the hierarchy's root.
fn lowest_limit(root: &Path, path: &str) -> Option<u64> {
    let mut dir = PathBuf::from(path);
    let mut lowest: Option<u64> = None;
    loop {
        let here = root.join(dir.strip_prefix("/").unwrap_or(&dir));
        for file in ["memory.max", "memory.limit_in_bytes"] {
            if let Some(limit) = std::fs::read_to_string(here.join(file)).ok().and_then(|t| parse_limit(&t)) {
                lowest = Some(lowest.map_or(limit, |l| l.min(limit)));
            }
        }
        if !dir.pop() {
            return lowest;
        }
    }
}

/// A limit file's value: bytes, or `None` for "max" (v2) and v1's near-`i64::MAX` no-limit.
fn parse_limit(text: &str) -> Option<u64> {
    text.trim().parse::<u64>().ok().filter(|&b| b < NO_LIMIT_ABOVE)
}

fn host_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;

    #[test]
    fn the_budgets_follow_the_limit_unless_set() {
        // (process set, query set, limit) -> (process, query, warnings)
        let cases: &[(Option<u64>, Option<u64>, u64, u64, u64, usize)] = &[
            (None, None, 512 * MIB, 256 * MIB, 256 * MIB, 0),
            (None, None, 24 * GIB, 4 * GIB, GIB, 0),
            (None, None, 3 * GIB, 1536 * MIB, GIB, 0),
            (Some(4 * GIB), Some(GIB), 512 * MIB, 4 * GIB, GIB, 1),
            (Some(256 * MIB), None, 512 * MIB, 256 * MIB, 256 * MIB, 0),
            (None, Some(2 * GIB), 512 * MIB, 256 * MIB, 256 * MIB, 1),
            (None, Some(100 * MIB), 512 * MIB, 256 * MIB, 100 * MIB, 0),
            (Some(48 * GIB), Some(4 * GIB), 64 * GIB, 48 * GIB, 4 * GIB, 0),
        ];
        for &(process, query, limit, want_process, want_query, want_warnings) in cases {
            let (got, warnings) = budgets(process, query, limit);
            assert_eq!(got, Budgets { process: want_process, query: want_query }, "{process:?} {query:?} under {limit}");
            assert_eq!(warnings.len(), want_warnings, "{process:?} {query:?} under {limit}: {warnings:?}");
        }
    }

    #[test]
    fn the_memory_cgroup_is_found_in_either_version() {
        let v1 = "12:pids:/user.slice\n4:memory:/triad-vmtest/app1/triad-engine\n3:cpu,cpuacct:/\n";
        assert_eq!(memory_cgroups(v1), vec![(PathBuf::from("/sys/fs/cgroup/memory"), "/triad-vmtest/app1/triad-engine".to_string())]);
        let v2 = "0::/system.slice/triad-engine.service\n";
        assert_eq!(memory_cgroups(v2), vec![(PathBuf::from("/sys/fs/cgroup"), "/system.slice/triad-engine.service".to_string())]);
        assert_eq!(memory_cgroups("5:cpu:/\n"), vec![]);
    }

    #[test]
    fn no_limit_reads_as_none() {
        assert_eq!(parse_limit("536870912\n"), Some(512 * MIB));
        assert_eq!(parse_limit("max\n"), None);
        assert_eq!(parse_limit("9223372036854771712\n"), None);
    }

    #[test]
    fn the_lowest_limit_up_the_tree_counts() {
        let dir = std::env::temp_dir().join(format!("triad-cgroup-test-{}", std::process::id()));
        let leaf = dir.join("parent/leaf");
        std::fs::create_dir_all(&leaf).unwrap();
        std::fs::write(dir.join("parent/memory.limit_in_bytes"), "268435456\n").unwrap();
        std::fs::write(leaf.join("memory.limit_in_bytes"), "9223372036854771712\n").unwrap();
        assert_eq!(lowest_limit(&dir, "/parent/leaf"), Some(256 * MIB));
        std::fs::write(leaf.join("memory.limit_in_bytes"), "134217728\n").unwrap();
        assert_eq!(lowest_limit(&dir, "/parent/leaf"), Some(128 * MIB));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
