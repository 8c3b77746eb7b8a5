//! `triad-dcs`: the coordinator client every Triad daemon uses.
//!
//! It speaks the etcd v3 API through the `etcd-client` crate, so it works against
//! `triad-coordinator` and against a real etcd cluster alike. What it adds to the raw client:
//!
//! - **Endpoint failover** ([`endpoints`]): one connection per member, requests go to the member
//!   that last answered and move on to the next when one fails or does not answer within its
//!   share of the request timeout. A partitioned member never stalls a daemon for longer than
//!   the request timeout.
//! - **A key space** rooted at the cluster's prefix (`/triad/<cluster>/`): callers name keys
//!   relative to it (`keeper/leader`), see [`Kv`].
//! - **Leases** ([`lease`]): grant, one-shot keep-alive, revoke; and [`session`]: a lease kept
//!   alive in the background with the one deadline rule every holder uses.
//! - **Fenced leadership** ([`leadership`]): a leader key created only if absent and bound to a
//!   lease; every write the holder makes afterwards is a transaction comparing the leader key's
//!   `create_revision` with the one it won, so a deposed leader's late write fails instead of
//!   overwriting its successor's (etcd#11456, the lesson of Jepsen's etcd 3.4.3 analysis).
//! - **Watches** that resume ([`watch`]): a watch reconnects to another member from the next
//!   revision it has not seen, so no event is lost or repeated across a member's loss.

pub mod endpoints;
pub mod error;
pub mod kv;
pub mod lease;
pub mod leadership;
pub mod session;
pub mod watch;

pub use endpoints::Dcs;
pub use error::{DcsError, Result};
pub use kv::{Kv, Op};
pub use leadership::Leadership;
pub use session::{Session, SessionState, holder_deadline};
pub use watch::{Watch, WatchEvent};
