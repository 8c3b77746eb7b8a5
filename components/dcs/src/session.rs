//! A session: one lease, kept alive in the background, with one rule for "am I still the
//! holder" (etcd's `concurrency.Session`).
//!
//! The rule ([`holder_deadline`]): a holder may act as holder until `sent + ttl − margin`,
//! where `sent` is when the last *successful* renewal (or the grant) was sent. The coordinator
//! counts the TTL from its receipt of that request, which is later than `sent`, so the holder
//! always stops believing it holds the lease before the coordinator can expire it and hand
//! its keys to someone else. `margin` covers what the holder still has to do once its belief
//! ends (stop a database, leave a cluster) and the coarseness of the coordinator's expiry tick.
//!
//! Renewal runs in its own task, so a holder whose main loop is busy (a promotion, a
//! pg_basebackup) keeps its lease; a holder that is frozen or cut off stops renewing, and its
//! deadline passes.

use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::endpoints::Dcs;

/// The one deadline rule: until when a holder whose renewal sent at `sent` succeeded may act.
pub fn holder_deadline(sent: Instant, ttl: Duration, margin: Duration) -> Instant {
    sent + ttl.saturating_sub(margin)
}

/// What the session knows right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionState {
    /// The current lease (`None`: not granted yet, or it expired and a new one is being asked).
    pub lease: Option<i64>,
    /// Until when the current lease is certainly held ([`holder_deadline`]).
    pub deadline: Option<Instant>,
}

impl SessionState {
    /// The lease `id` is held now, by the deadline rule.
    pub fn holds(&self, id: i64, now: Instant) -> bool {
        self.lease == Some(id) && self.deadline.is_some_and(|d| now < d)
    }
}

/// A lease renewed every `interval` in a background task until the session is dropped.
pub struct Session {
    state: watch::Receiver<SessionState>,
    task: tokio::task::JoinHandle<()>,
}

impl Session {
    /// Starts a session of `ttl`: grants a lease (at once, in the background) and renews it
    /// every `interval`. `margin` is the deadline rule's (see the module docs).
    pub fn start(dcs: Dcs, ttl: Duration, interval: Duration, margin: Duration) -> Session {
        let (tx, rx) = watch::channel(SessionState::default());
        let task = tokio::spawn(async move {
            let mut state = SessionState::default();
            loop {
                let sent = Instant::now();
                match state.lease {
                    None => match dcs.grant(ttl).await {
                        Ok(id) => state = SessionState { lease: Some(id), deadline: Some(holder_deadline(sent, ttl, margin)) },
                        Err(e) => tracing::warn!(error = %e, "lease grant failed"),
                    },
                    Some(id) => match dcs.keep_alive_once(id).await {
                        Ok(Some(_)) => state.deadline = Some(holder_deadline(sent, ttl, margin)),
                        Ok(None) => {
                            tracing::warn!(lease = id, "lease expired");
                            state = SessionState::default();
                        }
                        Err(e) => tracing::warn!(lease = id, error = %e, "lease renewal failed"),
                    },
                }
                tx.send_replace(state);
                // A new lease is asked for at once; renewals keep their cadence from the send.
                if state.lease.is_some() {
                    tokio::time::sleep(interval.saturating_sub(sent.elapsed())).await;
                }
            }
        });
        Session { state: rx, task }
    }

    pub fn state(&self) -> SessionState {
        *self.state.borrow()
    }

    /// A receiver that is notified at every renewal attempt's outcome.
    pub fn subscribe(&self) -> watch::Receiver<SessionState> {
        self.state.clone()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holder_stops_believing_before_the_coordinator_can_expire() {
        let sent = Instant::now();
        let ttl = Duration::from_secs(3);
        let d = holder_deadline(sent, ttl, Duration::from_millis(500));
        assert_eq!(d, sent + Duration::from_millis(2500));
        // The coordinator counts from its receipt, never earlier than the send.
        assert!(d < sent + ttl);
        // A margin larger than the TTL means "never held", not an overflow.
        assert_eq!(holder_deadline(sent, ttl, Duration::from_secs(9)), sent);
    }

    #[test]
    fn holding_needs_the_same_lease_and_an_unexpired_deadline() {
        let now = Instant::now();
        let s = SessionState { lease: Some(7), deadline: Some(now + Duration::from_secs(1)) };
        assert!(s.holds(7, now));
        assert!(!s.holds(8, now), "a leadership bound to an older lease is not held");
        assert!(!s.holds(7, now + Duration::from_secs(1)), "the deadline itself is already too late");
        assert!(!SessionState::default().holds(7, now));
    }
}
