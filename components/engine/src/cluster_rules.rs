//! The engine cluster's rules as pure functions, so each is stated and tested once; `cluster`
//! observes (renewals, pings, registrations) and acts on what these decide.
//!
//! - Fencing deadline: an engine whose registration was not renewed for TTL minus one beat
//!   leaves; the coordinator expires the lease only after the full TTL, so the engine has
//!   stopped serving before any other engine can see it gone. A renewal that the coordinator
//!   answers with "no such lease" means it expired already: leave at once.
//! - Newer of two: engines that both reach the coordinator but not each other cannot both
//!   serve (each would accept writes the other does not see until the log delivers them, and
//!   clients balanced to both would read different images). The newer registration (the higher
//!   revision) leaves, the older keeps serving. A peer counts as cut off only after it stayed
//!   registered yet unreachable for `peer_timeout`, and at least twice the TTL: a crashed
//!   host's registration outlives it by up to a TTL, and a coordinator election grants every
//!   lease a fresh TTL.
//! - Peer lost: a peer whose registration disappeared is lost (or left, when it announced it);
//!   it no longer counts for the newer-of-two rule.

use std::time::Duration;

/// The engine's cluster timings (`[timings] engine_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    pub ttl: Duration,
    pub beat: Duration,
    pub peer_timeout: Duration,
}

/// The outcome of one renewal of the registration's lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewal {
    Renewed,
    /// The coordinator answered: the lease is gone.
    Expired,
    /// No answer in time (or an error): the last renewal stands.
    NoAnswer,
}

/// Why an engine must leave the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leave {
    RegistrationExpired,
    CoordinatorUnreachable { since_renewal: Duration },
    NewerOfTwo { peer: String },
}

impl std::fmt::Display for Leave {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Leave::RegistrationExpired => write!(f, "its registration expired in the coordinator"),
            Leave::CoordinatorUnreachable { since_renewal } => write!(f, "it cannot reach the coordinator (no renewal for {since_renewal:?})"),
            Leave::NewerOfTwo { peer } => write!(f, "engine {peer} is unreachable and this engine is the newer one"),
        }
    }
}

/// The fencing deadline, after a renewal attempt: `since_renewal` is the time since the last
/// renewal the coordinator confirmed (counted from when that request was sent).
pub fn after_renewal(outcome: Renewal, since_renewal: Duration, t: Timings) -> Option<Leave> {
    match outcome {
        Renewal::Expired => Some(Leave::RegistrationExpired),
        _ if since_renewal + t.beat >= t.ttl => Some(Leave::CoordinatorUnreachable { since_renewal }),
        _ => None,
    }
}

/// What this engine sees of one registered peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub host: String,
    /// The revision of the peer's registration (its last write).
    pub revision: i64,
    /// How long it has been registered but not answering pings (zero when it answers).
    pub unreachable_for: Duration,
}

/// The newer-of-two rule for one peer; `mine` is this engine's registration revision.
pub fn newer_of_two(mine: i64, peer: &Peer, t: Timings) -> Option<Leave> {
    let cut_off = peer.unreachable_for >= t.peer_timeout.max(2 * t.ttl);
    (cut_off && mine > peer.revision).then(|| Leave::NewerOfTwo { peer: peer.host.clone() })
}

/// How long one coordinator request may take: long enough that a loaded machine's slow
/// answer still renews the registration, short enough that two attempts fit before the
/// engine must leave (no renewal for TTL minus one beat). A fixed 400 ms once made both
/// engines leave under query load.
pub fn request_timeout(ttl: Duration, beat: Duration) -> Duration {
    (ttl.saturating_sub(beat) / 2).max(Duration::from_millis(500))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;
    const MS: fn(u64) -> Duration = Duration::from_millis;

    fn timings() -> Timings {
        Timings { ttl: S(5), beat: S(1), peer_timeout: S(4) }
    }

    #[test]
    fn the_fencing_deadline_is_ttl_minus_one_beat() {
        let t = timings();
        let unreachable = |d| Some(Leave::CoordinatorUnreachable { since_renewal: d });
        for (outcome, since, want) in [
            (Renewal::Renewed, S(0), None),
            (Renewal::NoAnswer, S(1), None),
            (Renewal::NoAnswer, MS(3999), None),
            (Renewal::NoAnswer, S(4), unreachable(S(4))),
            (Renewal::NoAnswer, S(9), unreachable(S(9))),
            // A renewal that came back, but for a request sent long ago, does not help.
            (Renewal::Renewed, S(4), unreachable(S(4))),
            (Renewal::Expired, S(0), Some(Leave::RegistrationExpired)),
            (Renewal::Expired, S(9), Some(Leave::RegistrationExpired)),
        ] {
            assert_eq!(after_renewal(outcome, since, t), want, "{outcome:?} after {since:?}");
        }
    }

    #[test]
    fn the_engine_leaves_before_its_lease_can_expire_for_others() {
        // Whatever the timings, the deadline comes at least one beat before the TTL.
        for (ttl, beat) in [(S(5), S(1)), (S(10), S(2)), (S(2), MS(500)), (S(1), S(1))] {
            let t = Timings { ttl, beat, peer_timeout: S(1) };
            let mut since = Duration::ZERO;
            while after_renewal(Renewal::NoAnswer, since, t).is_none() {
                since += MS(10);
            }
            assert!(since + beat <= ttl.max(beat), "ttl {ttl:?} beat {beat:?}: left after {since:?}");
        }
    }

    #[test]
    fn of_two_engines_cut_off_from_each_other_the_newer_leaves() {
        let t = timings(); // cut off after max(4 s, 2 × 5 s) = 10 s
        let peer = |revision, secs| Peer { host: "app1".into(), revision, unreachable_for: S(secs) };
        let newer = Some(Leave::NewerOfTwo { peer: "app1".into() });
        for (mine, p, want) in [
            (20, peer(10, 0), None),            // reachable
            (20, peer(10, 9), None),            // not yet: a crashed host's lease may still run
            (20, peer(10, 10), newer.clone()),  // newer: leaves
            (20, peer(10, 60), newer),
            (10, peer(20, 60), None),           // older: stays, the other one leaves
            (10, peer(10, 60), None),           // equal revisions cannot happen; never both leave
        ] {
            assert_eq!(newer_of_two(mine, &p, t), want, "mine {mine} peer {p:?}");
        }
    }

    #[test]
    fn exactly_one_of_two_cut_off_engines_leaves() {
        let t = timings();
        for (a, b) in [(5, 9), (9, 5), (100, 101)] {
            let sees = |host: &str, revision| Peer { host: host.into(), revision, unreachable_for: S(30) };
            let a_leaves = newer_of_two(a, &sees("b", b), t).is_some();
            let b_leaves = newer_of_two(b, &sees("a", a), t).is_some();
            assert!(a_leaves != b_leaves, "revisions {a} and {b}");
        }
    }

    #[test]
    fn a_peer_timeout_longer_than_twice_the_ttl_rules() {
        let t = Timings { ttl: S(2), beat: MS(500), peer_timeout: S(7) };
        let p = |secs| Peer { host: "x".into(), revision: 1, unreachable_for: S(secs) };
        assert_eq!(newer_of_two(2, &p(6), t), None);
        assert!(newer_of_two(2, &p(7), t).is_some());
    }

    #[test]
    fn coordinator_requests_may_take_what_the_lease_allows() {
        // (lease TTL, heartbeat, request timeout)
        for (ttl, beat, want) in [(S(10), S(2), S(4)), (S(4), S(1), MS(1500)), (S(1), S(1), MS(500))] {
            assert_eq!(request_timeout(ttl, beat), want, "ttl {ttl:?} beat {beat:?}");
        }
    }
}
