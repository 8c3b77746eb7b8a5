//! The threads queries execute on, apart from the engine's own work. DataFusion runs a query
//! to the end of whatever it is computing before yielding; on the threads that renew the
//! engine's registration, answer its peers and apply the change log, twenty busy dashboards
//! once starved those duties until both engines left the cluster. Queries run here instead,
//! on threads with a lower scheduling priority (nice 10): the kernel gives the engine's own
//! threads the CPU whenever they want it, and queries everything else.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Builder, Runtime};

/// How much lower query threads are scheduled (the kernel's nice value, 0..=19).
const QUERY_NICE: i32 = 10;

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        Builder::new_multi_thread()
            .worker_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
            .thread_name("triad-query")
            .on_thread_start(|| {
                // On Linux the nice value is per thread: this lowers only the query thread,
                // below wherever the engine itself runs (an engine started at nice 15 must not
                // get query threads at 10, above its own).
                // SAFETY: setpriority has no memory effects; `0` names the calling thread.
                let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, (current_nice() + QUERY_NICE).min(19)) };
                if rc != 0 {
                    tracing::warn!(error = %std::io::Error::last_os_error(), "could not lower a query thread's priority");
                }
            })
            .enable_all()
            .build()
            .expect("the query runtime starts")
    })
}

/// Runs `work` on the query threads and waits for its result.
pub async fn run<F>(work: F) -> Result<F::Output, String>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    runtime().spawn(work).await.map_err(|e| format!("the query stopped: {e}"))
}

/// The current thread's nice value (for the test).
pub fn current_nice() -> i32 {
    // SAFETY: getpriority only reads the calling thread's scheduling priority.
    unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn queries_run_at_a_lower_priority_than_the_engine() {
        let mine = super::current_nice();
        let theirs = super::run(async { super::current_nice() }).await.unwrap();
        assert_eq!(theirs, (mine + super::QUERY_NICE).min(19), "query threads are nice {theirs}, the engine's {mine}");
    }
}
