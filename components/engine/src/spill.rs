//! Where queries spill to disk, and how much they may. DataFusion's default is a fresh
//! directory under `/tmp` for each query, up to 100 GB: an engine killed while a query spilled
//! (the kernel's OOM killer, a power cut, the soak's SIGKILL) left its files behind, and a run
//! of the memory scenarios left 31 GB in `/tmp` until the disk was full and the next build
//! failed. So the engine spills into `<state-dir>/engine/spill`, which it owns and empties at
//! start, and all its queries together may spill at most the spill budget.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use datafusion::execution::disk_manager::{DiskManager, DiskManagerBuilder, DiskManagerMode};

/// The most an unset spill budget becomes, however large the disk.
const DEFAULT_SPILL_MAX: u64 = 16 << 30;

/// The rule: `configured` (`None`: unset) and the space available to the engine on the spill
/// directory's file system at start. Unset: a quarter of that space, at most 16 GiB, so a
/// query never takes the space PostgreSQL's WAL and the coordinator's log need. Returns the
/// budget and, when the configuration asks for more than there is, a warning for the log.
pub fn budget(configured: Option<u64>, available: u64) -> (u64, Option<String>) {
    match configured {
        Some(b) if b > available => (
            b,
            Some(format!(
                "[engine] spill_disk_budget ({} MiB) is above the space available for spilling ({} MiB): a spilling query can fill the disk the host's PostgreSQL writes to",
                b >> 20,
                available >> 20
            )),
        ),
        Some(b) => (b, None),
        None => ((available / 4).min(DEFAULT_SPILL_MAX), None),
    }
}

/// The spill directory of an engine whose state lives under `state_dir`.
pub fn directory(state_dir: &Path) -> PathBuf {
    state_dir.join("engine").join("spill")
}

/// Empties (or makes) `dir` and returns the engine's one disk manager over it, with its
/// budget; `configured` is `[engine] spill_disk_budget`. Every query's session shares it, so
/// the budget bounds all running queries together.
pub fn disk_manager(dir: &Path, configured: Option<u64>) -> anyhow::Result<(Arc<DiskManager>, u64)> {
    let left = remove_leftovers(dir).with_context(|| format!("emptying the spill directory {}", dir.display()))?;
    if left > 0 {
        tracing::warn!(dir = %dir.display(), mib = left >> 20, "removed spill files a previous run left (it was stopped while a query spilled)");
    }
    std::fs::create_dir_all(dir).with_context(|| format!("making the spill directory {}", dir.display()))?;
    let available = available_bytes(dir).with_context(|| format!("reading the free space of {}", dir.display()))?;
    let (budget, warning) = budget(configured, available);
    if let Some(w) = warning {
        tracing::warn!("{w}");
    }
    let manager = DiskManagerBuilder::default().with_mode(DiskManagerMode::Directories(vec![dir.to_path_buf()])).with_max_temp_directory_size(budget).build()?;
    Ok((Arc::new(manager), budget))
}

/// Removes everything in `dir` (a missing `dir` is empty); returns the bytes removed.
fn remove_leftovers(dir: &Path) -> std::io::Result<u64> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut bytes = 0;
    for entry in entries {
        let path = entry?.path();
        bytes += size_of(&path);
        if path.is_dir() { std::fs::remove_dir_all(&path)? } else { std::fs::remove_file(&path)? }
    }
    Ok(bytes)
}

fn size_of(path: &Path) -> u64 {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::read_dir(path).map(|es| es.filter_map(Result::ok).map(|e| size_of(&e.path())).sum()).unwrap_or(0),
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}

/// Bytes an unprivileged writer may still use on `dir`'s file system.
fn available_bytes(dir: &Path) -> std::io::Result<u64> {
    let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).map_err(std::io::Error::other)?;
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated path and `s` a statvfs the call fills in.
    if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(s.f_bavail as u64 * s.f_frsize as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    #[test]
    fn the_budget_rule() {
        // (configured, available) -> (budget, warns)
        let table = [
            (None, 40 * GIB, 10 * GIB, false),
            (None, 200 * GIB, 16 * GIB, false),
            (None, 0, 0, false),
            (Some(2 * GIB), 40 * GIB, 2 * GIB, false),
            (Some(100 * GIB), 40 * GIB, 100 * GIB, true),
        ];
        for (configured, available, want, warns) in table {
            let (got, warning) = budget(configured, available);
            assert_eq!((got, warning.is_some()), (want, warns), "configured {configured:?}, available {available}");
        }
    }

    #[test]
    fn leftovers_are_removed_and_the_directory_kept() {
        let root = tempfile::tempdir().unwrap();
        let dir = directory(root.path());
        std::fs::create_dir_all(dir.join("datafusion-old")).unwrap();
        std::fs::write(dir.join("datafusion-old").join("spill"), vec![0u8; 4096]).unwrap();
        std::fs::write(dir.join("stray"), b"x").unwrap();
        let (manager, budget) = disk_manager(&dir, Some(GIB)).unwrap();
        assert_eq!(budget, GIB);
        assert_eq!(manager.max_temp_directory_size(), GIB);
        // Left: DataFusion's own (empty) directory for this run's spills.
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        assert!(left.len() == 1 && left[0].file_name().unwrap().to_str().unwrap().starts_with("datafusion-"), "{left:?}");
        assert_eq!(std::fs::read_dir(&left[0]).unwrap().count(), 0, "the previous run's files are gone");
        assert_eq!(remove_leftovers(&root.path().join("missing")).unwrap(), 0);
    }

    /// A sort of 400 000 strings (8 MB) in a 4 MiB pool: `(spill budget) -> the answer's first row or
    /// the error`, with what was in the spill directory while it ran.
    async fn sort_spilling(budget: Option<u64>) -> (Result<String, datafusion::error::DataFusionError>, std::path::PathBuf, (tempfile::TempDir, crate::catalog::Sessions)) {
        use datafusion::arrow::array::{RecordBatch, StringArray};
        use datafusion::arrow::datatypes::{DataType, Field, Schema};
        let root = tempfile::tempdir().unwrap();
        let dir = directory(root.path());
        let mut sessions = crate::catalog::Sessions::new().unwrap();
        if let Some(b) = budget {
            sessions = sessions.spilling_to(disk_manager(&dir, Some(b)).unwrap().0);
        }
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Utf8, false)]));
        let batches = (0..200)
            .map(|b| RecordBatch::try_new(schema.clone(), vec![Arc::new(StringArray::from_iter_values((0..2_000).map(|i| format!("{:08}-{b}", (i * 7919 + b * 13) % 100_000))))]).unwrap())
            .collect();
        let pool = Arc::new(datafusion::execution::memory_pool::GreedyMemoryPool::new(4 << 20));
        let ctx = sessions.session(vec![("m".into(), "c".into(), schema, batches)], vec![], pool).unwrap();
        let run = async {
            // DataFusion keeps 10 MB aside to merge spilled runs; a small pool needs less.
            ctx.sql("SET datafusion.execution.sort_spill_reservation_bytes = 65536").await?.collect().await?;
            ctx.sql("SELECT v FROM m.c ORDER BY v").await?.collect().await
        };
        let answer = run.await.map(|b| datafusion::arrow::util::pretty::pretty_format_batches(&b[..1]).unwrap().to_string().lines().nth(3).unwrap_or("").replace(" ", ""));
        (answer, dir, (root, sessions))
    }

    #[tokio::test]
    async fn queries_spill_into_the_engines_directory_within_the_budget() {
        let (answer, dir, _keep) = sort_spilling(Some(1 << 30)).await;
        assert_eq!(answer.unwrap(), "|00000000-0|");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "DataFusion's one directory for this engine's spills");
        let files: usize = std::fs::read_dir(&dir).unwrap().map(|d| std::fs::read_dir(d.unwrap().path()).unwrap().count()).sum();
        assert_eq!(files, 0, "a finished query's spill files are removed");

        let (answer, _, _keep) = sort_spilling(Some(64 << 10)).await;
        let pgwire::error::PgWireError::UserError(e) = crate::sql::df_error(answer.unwrap_err(), "") else { panic!("not a user error") };
        assert_eq!((e.code.as_str(), e.message.as_str()), ("53100", "the query was stopped: its spill files would pass the engine's spill_disk_budget of 64.0 KB"));

        let (answer, _, _keep) = sort_spilling(None).await;
        let e = answer.unwrap_err().to_string();
        assert!(e.contains("DiskManager is disabled"), "without a spill directory a query never spills under /tmp: {e}");
    }
}
