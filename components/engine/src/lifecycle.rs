//! The engine's lifecycle as one value in one watch channel: what it has achieved (registered
//! in the coordinator, caught up with the change log, every registered peer reached) and what
//! ends its service (it left the cluster, or it cannot apply the log). The phase is derived
//! from it by one pure function, so "is this engine serving?" has one answer everywhere (SQL,
//! HTTP writes and loads, /health, the snapshot writer), and waiting for a change is
//! subscribing to the channel.
//!
//! Starting → CatchingUp → Serving, and from anywhere Leaving (final: the process exits) or
//! Faulted (an entry of the log cannot be applied; it ends only if a later attempt applies it).

/// What the engine has achieved and what stops it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lifecycle {
    pub registered: bool,
    pub caught_up: bool,
    pub peers_seen: bool,
    /// Why it left the engine cluster (fenced).
    pub left: Option<String>,
    /// Why it cannot apply the change log.
    pub fault: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Not registered in the coordinator yet.
    Starting,
    /// Registered; still applying the log, or not every registered peer reached yet.
    CatchingUp,
    Serving,
    Leaving(String),
    Faulted(String),
}

impl Lifecycle {
    pub fn phase(&self) -> Phase {
        match (&self.left, &self.fault) {
            (Some(why), _) => Phase::Leaving(why.clone()),
            (None, Some(why)) => Phase::Faulted(why.clone()),
            (None, None) if !self.registered => Phase::Starting,
            (None, None) if !(self.caught_up && self.peers_seen) => Phase::CatchingUp,
            (None, None) => Phase::Serving,
        }
    }

    pub fn serving(&self) -> bool {
        self.phase() == Phase::Serving
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_phase_of_every_combination() {
        let l = |registered, caught_up, peers_seen, left: Option<&str>, fault: Option<&str>| Lifecycle { registered, caught_up, peers_seen, left: left.map(Into::into), fault: fault.map(Into::into) };
        let leaving = || Phase::Leaving("lost the coordinator".into());
        let faulted = || Phase::Faulted("bad entry".into());
        for (state, want) in [
            (l(false, false, false, None, None), Phase::Starting),
            (l(false, true, true, None, None), Phase::Starting),
            (l(true, false, false, None, None), Phase::CatchingUp),
            (l(true, true, false, None, None), Phase::CatchingUp),
            (l(true, false, true, None, None), Phase::CatchingUp),
            (l(true, true, true, None, None), Phase::Serving),
            (l(true, true, true, None, Some("bad entry")), faulted()),
            (l(false, false, false, None, Some("bad entry")), faulted()),
            (l(true, true, true, Some("lost the coordinator"), None), leaving()),
            // Leaving wins over a fault: the process is on its way out either way.
            (l(true, true, true, Some("lost the coordinator"), Some("bad entry")), leaving()),
        ] {
            assert_eq!(state.phase(), want, "{state:?}");
            assert_eq!(state.serving(), want == Phase::Serving);
        }
    }
}
