//! Active/passive: the designer holding the `designer/active` key (bound to its lease of
//! `designer_lease_ttl`) serves; the other answers 503 until the key is free, then takes it.
//!
//! A designer competes for the key only after two TTLs of running, so a crashed and restarted
//! designer does not race the one that was standing by.
//!
//! The decision is `serving`: pure, tested without I/O. The loop around it renews the lease
//! every third of the TTL and stops serving once a renewal is older than the TTL minus one
//! renewal period — before the key can expire at the coordinator and the other designer take
//! over — so two designers never serve at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use triad_dcs::{Dcs, Leadership};

pub const KEY: &str = "designer/active";

/// Serving iff this process holds the key and its last successful renewal (counted from when
/// it was sent) is recent enough that the key cannot have expired anywhere.
pub fn serving(holds_key: bool, renewed_at: Option<Instant>, now: Instant, ttl: Duration, period: Duration) -> bool {
    holds_key && renewed_at.is_some_and(|t| now.saturating_duration_since(t) + period < ttl)
}

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
    let mut lease: Option<i64> = None;
    let mut leadership: Option<Leadership> = None;
    let mut renewed: Option<Instant> = None;
    let started = Instant::now();
    // The passive designer looks at the key every tick, so it takes over soon after the
    // lease expires; renewals go out every period.
    let tick = ttl / 10;
    loop {
        let sent = Instant::now();
        let due = renewed.is_none_or(|r| sent.duration_since(r) + tick >= period);
        match lease {
            Some(_) if !due => {}
            Some(id) => match dcs.keep_alive_once(id).await {
                Ok(Some(_)) => renewed = Some(sent),
                Ok(None) => {
                    lease = None;
                    leadership = None;
                }
                Err(e) => tracing::warn!(error = %e, "renewing the designer lease"),
            },
            None => match dcs.grant(ttl).await {
                Ok(id) => {
                    lease = Some(id);
                    renewed = Some(sent);
                }
                Err(e) => tracing::warn!(error = %e, "granting the designer lease"),
            },
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
        let now_serving = serving(leadership.is_some(), renewed, Instant::now(), ttl, period);
        if now_serving {
            *status.holder.lock().unwrap() = Some(me.clone());
        }
        if status.active.swap(now_serving, Ordering::SeqCst) != now_serving {
            tracing::warn!(active = now_serving, "designer role changed");
        }
        if !now_serving && leadership.is_some() {
            // Renewals failed for too long: give the key up (it may expire any moment).
            leadership = None;
            lease = None;
        }
        tokio::time::sleep(tick.saturating_sub(sent.elapsed())).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_only_with_the_key_and_a_fresh_renewal() {
        let (ttl, period) = (Duration::from_secs(6), Duration::from_secs(2));
        let t0 = Instant::now();
        assert!(serving(true, Some(t0), t0, ttl, period));
        assert!(serving(true, Some(t0), t0 + Duration::from_millis(3900), ttl, period));
        // At TTL minus one period the key may expire before the next renewal: stop.
        assert!(!serving(true, Some(t0), t0 + Duration::from_secs(4), ttl, period));
        assert!(!serving(false, Some(t0), t0, ttl, period));
        assert!(!serving(true, None, t0, ttl, period));
    }
}
