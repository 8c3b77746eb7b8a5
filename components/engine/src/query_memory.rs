//! The memory the engine's queries hold together. Each query used to get a pool of its own
//! of `query_memory_budget`: four at once could take four budgets, past the process budget
//! and past the service's limit. Now every query's pool also draws on one engine-wide
//! account, bounded by the process budget less what the cubes hold, so the last query to
//! ask is refused (SQLSTATE 53200) while the engine stays within its memory.
//!
//! DataFusion's accounting is an estimate: four `count(DISTINCT …)` queries over long strings
//! held 790 MiB resident while their pools together counted at most 384 MiB (hash tables' spare
//! capacity, the allocator's own). So a query is also refused when the process's anonymous
//! resident memory (cubes, queries, everything the kernel cannot reclaim but by killing)
//! would pass the process budget: that figure is the kernel's, not an estimate.

use std::fmt;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::memory_pool::{MemoryLimit, MemoryPool, MemoryReservation};

use crate::memory_budget::Budgets;

/// How stale a reading of the process's resident memory may be (reading it costs a system
/// call; DataFusion asks for memory once per batch per operator).
const RESIDENT_READ_EVERY: Duration = Duration::from_millis(10);
/// How often a full engine may hand freed memory back before refusing (it takes milliseconds).
const TRIM_AT_MOST_EVERY: Duration = Duration::from_millis(500);

/// The engine-wide account of memory held by running queries.
#[derive(Debug)]
pub struct QueryMemory {
    used: AtomicUsize,
    /// The budgets: each query's, and the process's (also the anonymous resident memory the
    /// process may reach before queries are refused).
    budgets: Budgets,
    /// The last reading of anonymous resident memory, and when it was taken.
    resident: Mutex<Option<(Instant, usize)>>,
    read_resident: fn() -> Option<usize>,
    /// When freed memory was last handed back to the kernel.
    trimmed: Mutex<Option<Instant>>,
}

impl QueryMemory {
    /// The account for an engine with `budgets`.
    pub fn new(budgets: Budgets) -> QueryMemory {
        QueryMemory { used: AtomicUsize::new(0), budgets, resident: Mutex::new(None), read_resident: anonymous_resident, trimmed: Mutex::new(None) }
    }

    /// The process's anonymous resident memory if `additional` bytes more would pass the
    /// ceiling. Memory freed by queries that ended may still be resident, kept by the
    /// allocator for reuse: before refusing, it is handed back (`malloc_trim`) and read again.
    fn resident_over(&self, additional: usize) -> Option<usize> {
        let over = |r: &usize| r + additional > self.budgets.process as usize;
        let resident = self.resident().filter(over)?;
        let mut trimmed = self.trimmed.lock().unwrap();
        if trimmed.is_some_and(|at| at.elapsed() < TRIM_AT_MOST_EVERY) {
            return Some(resident);
        }
        // SAFETY: malloc_trim only returns free memory of the allocator's arenas to the kernel.
        unsafe { libc::malloc_trim(0) };
        *trimmed = Some(Instant::now());
        *self.resident.lock().unwrap() = None;
        self.resident().filter(over)
    }

    /// The process's anonymous resident memory, read at most every `RESIDENT_READ_EVERY`.
    fn resident(&self) -> Option<usize> {
        let mut last = self.resident.lock().unwrap();
        match *last {
            Some((at, bytes)) if at.elapsed() < RESIDENT_READ_EVERY => Some(bytes),
            _ => {
                let bytes = (self.read_resident)()?;
                *last = Some((Instant::now(), bytes));
                Some(bytes)
            }
        }
    }

    /// A pool for one query: at most the query budget, and never more than the engine's
    /// queries together may hold beside `cubes` bytes of cubes within the process budget.
    pub fn pool(self: &Arc<Self>, cubes: usize) -> Arc<dyn MemoryPool> {
        let (query_budget, process_budget) = (self.budgets.query as usize, self.budgets.process as usize);
        Arc::new(QueryPool { engine: self.clone(), query_budget, shared: process_budget.saturating_sub(cubes), cubes, used: AtomicUsize::new(0) })
    }

    /// Bytes all running queries hold now.
    pub fn held(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }
}

/// One query's pool (DataFusion's `MemoryPool`): its own account and the engine's.
#[derive(Debug)]
struct QueryPool {
    engine: Arc<QueryMemory>,
    query_budget: usize,
    /// What the process budget leaves beside the cubes, for all queries together.
    shared: usize,
    cubes: usize,
    used: AtomicUsize,
}

const MIB: usize = 1 << 20;

impl QueryPool {
    fn refuse(&self, additional: usize, why: String) -> DataFusionError {
        // "Resources exhausted" is what sql::df_error maps to SQLSTATE 53200.
        DataFusionError::ResourcesExhausted(format!(
            "{why}; it asked for {} MiB more while holding {} MiB",
            additional.div_ceil(MIB),
            self.used.load(Ordering::Relaxed) / MIB
        ))
    }
}

impl MemoryPool for QueryPool {
    fn name(&self) -> &str {
        "triad-query"
    }

    fn grow(&self, _reservation: &MemoryReservation, additional: usize) {
        self.used.fetch_add(additional, Ordering::Relaxed);
        self.engine.used.fetch_add(additional, Ordering::Relaxed);
    }

    fn shrink(&self, _reservation: &MemoryReservation, shrink: usize) {
        self.used.fetch_sub(shrink, Ordering::Relaxed);
        self.engine.used.fetch_sub(shrink, Ordering::Relaxed);
    }

    fn try_grow(&self, _reservation: &MemoryReservation, additional: usize) -> DfResult<()> {
        self.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| (used + additional <= self.query_budget).then_some(used + additional))
            .map_err(|_| self.refuse(additional, format!("the query needs more than [engine] query_memory_budget ({} MiB)", self.query_budget / MIB)))?;
        let shared = self.engine.used.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| (held + additional <= self.shared).then_some(held + additional));
        if let Err(held) = shared {
            self.used.fetch_sub(additional, Ordering::Relaxed);
            return Err(self.refuse(
                additional,
                format!(
                    "the engine's running queries hold {} MiB and its cubes {} MiB of its memory budget ({} MiB, [engine] process_memory_budget)",
                    held / MIB,
                    self.cubes / MIB,
                    (self.shared + self.cubes) / MIB
                ),
            ));
        }
        if let Some(resident) = self.engine.resident_over(additional) {
            self.used.fetch_sub(additional, Ordering::Relaxed);
            self.engine.used.fetch_sub(additional, Ordering::Relaxed);
            return Err(self.refuse(
                additional,
                format!("the engine holds {} MiB of memory and may hold {} MiB ([engine] process_memory_budget)", resident / MIB, self.engine.budgets.process as usize / MIB),
            ));
        }
        Ok(())
    }

    fn reserved(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    fn memory_limit(&self) -> MemoryLimit {
        MemoryLimit::Finite(self.query_budget.min(self.shared))
    }
}

/// Resident memory the kernel can only take back by killing the process: `/proc/self/statm`'s
/// resident pages less its file-backed and shared ones.
fn anonymous_resident() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let mut pages = statm.split_whitespace().skip(1).map(|p| p.parse::<usize>().ok());
    let (resident, shared) = (pages.next()??, pages.next()??);
    // SAFETY: sysconf only reads a system constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
    Some(resident.saturating_sub(shared) * page)
}

impl fmt::Display for QueryPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "triad-query(used: {} MiB of {} MiB; all queries {} MiB)", self.used.load(Ordering::Relaxed) / MIB, self.query_budget / MIB, self.engine.held() / MIB)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::execution::memory_pool::MemoryConsumer;


    #[test]
    fn each_query_and_all_queries_together_are_bounded() {
        let budgets = Budgets { process: 100 << 20, query: 50 << 20 };
        let engine = Arc::new(QueryMemory { read_resident: || Some(0), ..QueryMemory::new(budgets) });
        // Process budget 100 MiB, cubes 40 MiB: queries together may hold 60 MiB.
        let a = engine.pool(40 * MIB);
        let b = engine.pool(40 * MIB);
        let ra = MemoryConsumer::new("a").register(&a);
        let rb = MemoryConsumer::new("b").register(&b);

        let over_own = ra.try_grow(51 * MIB).unwrap_err().to_string();
        assert!(over_own.contains("Resources exhausted") && over_own.contains("query_memory_budget (50 MiB)"), "{over_own}");
        assert_eq!(engine.held(), 0, "a refused request holds nothing");

        ra.try_grow(40 * MIB).unwrap();
        let over_all = rb.try_grow(30 * MIB).unwrap_err().to_string();
        assert!(over_all.contains("running queries hold 40 MiB and its cubes 40 MiB") && over_all.contains("(100 MiB"), "{over_all}");
        assert_eq!(b.reserved(), 0, "the refused query holds nothing");
        rb.try_grow(20 * MIB).unwrap();
        assert_eq!(engine.held(), 60 * MIB);

        drop(ra);
        assert_eq!(engine.held(), 20 * MIB, "a finished query gives its memory back");
        rb.try_grow(30 * MIB).unwrap();
        drop(rb);
        assert_eq!(engine.held(), 0);
    }

    #[test]
    fn a_query_is_refused_when_the_process_is_full_whatever_the_pools_count() {
        // What the kernel says the process holds, whatever the pools counted.
        static RESIDENT: AtomicUsize = AtomicUsize::new(300 * MIB);
        let engine = Arc::new(QueryMemory { read_resident: || Some(RESIDENT.load(Ordering::Relaxed)), ..QueryMemory::new(Budgets { process: 384 << 20, query: 1 << 30 }) });
        let pool = engine.pool(0);
        let r = MemoryConsumer::new("q").register(&pool);
        r.try_grow(80 * MIB).unwrap();
        RESIDENT.store(380 * MIB, Ordering::Relaxed);
        std::thread::sleep(RESIDENT_READ_EVERY);
        let full = r.try_grow(10 * MIB).unwrap_err().to_string();
        assert!(full.contains("the engine holds 380 MiB of memory and may hold 384 MiB"), "{full}");
        assert_eq!((pool.reserved(), engine.held()), (80 * MIB, 80 * MIB), "the refused request is not counted");
        RESIDENT.store(300 * MIB, Ordering::Relaxed);
        std::thread::sleep(RESIDENT_READ_EVERY);
        r.try_grow(10 * MIB).unwrap();
    }

    #[test]
    fn the_process_resident_memory_is_read() {
        let anon = anonymous_resident().expect("/proc/self/statm is readable");
        assert!(anon > 0, "{anon}");
    }
}
