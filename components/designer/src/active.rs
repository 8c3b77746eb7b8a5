//! Active/passive: the designer holding the `designer/active` key (bound to its lease of
//! `designer_lease_ttl`) serves; the other answers 503 until the key is free, then takes it.
//!
//! A designer competes for the key only after two TTLs of running, so a crashed and restarted
//! designer does not race the one that was standing by.
//!
//! The lease is a [`Session`] (renewed every third of the TTL in the background); the designer
//! serves while it holds the key under a lease the session holds by its one deadline rule
//! (renewal sent + TTL − one renewal period): before the key can expire at the coordinator
//! and the other designer take over, so two designers never serve at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use triad_dcs::{Dcs, Leadership, Session};

pub const KEY: &str = "designer/active";

#[derive(Default)]
pub struct Status {
    pub active: AtomicBool,
    /// The host holding the key, as last seen (for the passive instance's 503 message).
    pub holder: std::sync::Mutex<Option<String>>,
}

impl Status {
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::SeqCst)
    }
    pub fn holder(&self) -> Option<String> {
        self.holder.lock().unwrap().clone()
    }
}

pub async fn run(dcs: Dcs, me: String, ttl: Duration, status: Arc<Status>) {
    let period = ttl / 3;
    let dcs = dcs.with_request_timeout(period.max(Duration::from_millis(300)));
    let session = Session::start(dcs.clone(), ttl, period, period);
    let mut leadership: Option<Leadership> = None;
    let started = Instant::now();
    // The passive designer looks at the key every tick, so it takes over soon after the
    // lease expires; the session renews every period.
    let tick = ttl / 10;
    loop {
        let sent = Instant::now();
        let lease = session.state().lease;
        if leadership.as_ref().is_some_and(|l| Some(l.lease) != lease) {
            leadership = None; // the lease it was won under expired
        }
        // A designer that just started (typically: restarted after a crash) leaves the key to
        // the designer that has been standing by for two TTLs, so a crash moves the service
        // to the other host instead of racing it; at cluster start both wait alike.
        if leadership.is_none()
            && started.elapsed() >= 2 * ttl
            && let Some(id) = lease
        {
            match dcs.try_acquire(KEY, me.clone(), id).await {
                Ok(Some(l)) => {
                    tracing::info!(revision = l.create_revision, "this designer is now the active one");
                    leadership = Some(l);
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "taking the designer key"),
            }
        }
        if leadership.is_none()
            && let Ok(Some(kv)) = dcs.holder(KEY).await
        {
            *status.holder.lock().unwrap() = kv.text().ok().map(str::to_string);
        }
        let now_serving = leadership.as_ref().is_some_and(|l| session.state().holds(l.lease, Instant::now()));
        if now_serving {
            *status.holder.lock().unwrap() = Some(me.clone());
        }
        if status.active.swap(now_serving, Ordering::SeqCst) != now_serving {
            tracing::warn!(active = now_serving, "designer role changed");
        }
        if !now_serving && leadership.is_some() {
            // Renewals failed for too long: stop counting on the key (it may expire any
            // moment); it is taken again, under a lease renewed in time, once that is so.
            leadership = None;
        }
        tokio::time::sleep(tick.saturating_sub(sent.elapsed())).await;
    }
}

// The deadline rule is tested once, in triad_dcs::session.
