//! The engine cluster's rules as pure functions, so each is stated and tested once; `cluster`
//! observes (renewals, pings, registrations) and acts on what these decide.
//!
//! - Fencing deadline: the registration is a `triad_dcs::Session`, whose one deadline rule
//!   (last renewal sent + TTL − one beat) ends before the coordinator can expire the lease, so
//!   the engine has stopped serving before any other engine can see it gone; a lease the
//!   session had to replace (the coordinator said it expired) means leave at once.
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

/// Why an engine must leave the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leave {
    RegistrationExpired,
    /// Past the registration session's deadline (`triad_dcs::Session`: last renewal sent +
    /// TTL − one heartbeat) without a renewal.
    CoordinatorUnreachable,
    NewerOfTwo { peer: String },
}

impl std::fmt::Display for Leave {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Leave::RegistrationExpired => write!(f, "its registration expired in the coordinator"),
            Leave::CoordinatorUnreachable => write!(f, "it cannot reach the coordinator"),
            Leave::NewerOfTwo { peer } => write!(f, "engine {peer} is unreachable and this engine is the newer one"),
        }
    }
}

/// The fencing rule on the registration's session: `current` is the session's lease now
/// (another one, or none, once the registered one expired), `holds` whether the registered
/// lease is held by the session's deadline rule (tested once, in triad-dcs).
pub fn registration(current: Option<i64>, registered: i64, holds: bool) -> Option<Leave> {
    if current != Some(registered) {
        Some(Leave::RegistrationExpired)
    } else if !holds {
        Some(Leave::CoordinatorUnreachable)
    } else {
        None
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
    fn an_engine_leaves_when_its_registration_is_gone_or_past_its_deadline() {
        for (current, holds, want) in [
            (Some(7), true, None),
            (Some(7), false, Some(Leave::CoordinatorUnreachable)),
            (Some(8), true, Some(Leave::RegistrationExpired)),
            (None, false, Some(Leave::RegistrationExpired)),
        ] {
            assert_eq!(registration(current, 7, holds), want, "{current:?} holds {holds}");
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
