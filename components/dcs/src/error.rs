//! Errors of the coordinator client: either no member answered (`Unavailable`, the caller's
//! fencing logic counts these) or a member answered with a refusal (`Refused`).

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DcsError {
    /// No member answered in time; one line per endpoint tried.
    Unavailable(Vec<String>),
    /// A member answered, and refused the request (bad argument, lease not found, ...).
    Refused(String),
    /// A watch could not resume because the revisions it needed were compacted away: the
    /// caller must read the current state again and watch from there.
    Compacted { requested: i64, compacted: i64 },
    /// A value that is not what the caller stored (not UTF-8, not the expected format).
    Malformed { key: String, reason: String },
}

pub type Result<T> = std::result::Result<T, DcsError>;

impl DcsError {
    /// True when the coordinator could not be reached, as opposed to answering "no".
    pub fn is_unavailable(&self) -> bool {
        matches!(self, DcsError::Unavailable(_))
    }
}

impl fmt::Display for DcsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DcsError::Unavailable(tries) => write!(f, "coordinator unavailable: {}", tries.join("; ")),
            DcsError::Refused(why) => write!(f, "coordinator refused the request: {why}"),
            DcsError::Compacted { requested, compacted } => {
                write!(f, "watch from revision {requested} impossible: history compacted up to {compacted}")
            }
            DcsError::Malformed { key, reason } => write!(f, "key {key}: {reason}"),
        }
    }
}

impl std::error::Error for DcsError {}

/// Whether an error from one member means "try another member" (it is down, cut off, has no
/// leader or is too slow) rather than a definite answer.
pub(crate) fn is_retryable(e: &etcd_client::Error) -> bool {
    use etcd_client::Error as E;
    match e {
        E::TransportError(_) | E::IoError(_) | E::EndpointError(_) => true,
        E::GRpcStatus(s) => {
            use tonic::Code;
            let msg = s.message();
            matches!(s.code(), Code::Unavailable | Code::DeadlineExceeded | Code::Unknown | Code::Cancelled | Code::Aborted | Code::ResourceExhausted)
                || msg.contains("no leader")
                || msg.contains("leader changed")
                || msg.contains("timed out")
                || msg.contains("not ready")
        }
        E::WatchError(_) | E::LeaseKeepAliveError(_) => true,
        _ => false,
    }
}
