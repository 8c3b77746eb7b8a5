//! triad-coordinator: a Raft replicated key-value store speaking the etcd v3 gRPC API.
//!
//! # For operators
//!
//! Run one member on every host with the `coordinator` role in `cluster.toml`:
//!
//! ```text
//! triad-coordinator --config /etc/triad/cluster.toml --host NAME [--state-dir DIR] [--log-json]
//! ```
//!
//! * Listens on the host's `address`: clients on `ports.coordinator_client` (2379), peers on
//!   `ports.coordinator_peer` (2380). Outgoing peer connections also leave from that address,
//!   so firewall rules per host pair work.
//! * Keeps its data in `<state_dir>/coordinator/`: `member` (member and cluster id), `raft/`
//!   (raft-engine log and hard state) and `snapshot` (the state machine at the last snapshot).
//!   A snapshot is cut and the log compacted every `coordinator.snapshot_entries` (default
//!   10 000) applied entries.
//! * Timing: Raft heartbeat `timings.coordinator_heartbeat_interval`, election timeout
//!   `timings.coordinator_election_timeout`. Leases shorter than 1.5 election timeouts are
//!   raised to that (etcd's rule).
//! * Exit status: 0 after SIGTERM/SIGINT; 2 for a bad command line or cluster file (the
//!   message names the file and key); 1 for a fatal error (storage failure, or this member
//!   was removed from the cluster — its data directory is then moved aside to
//!   `coordinator.removed-<pid>` so that a restart joins afresh if the file still names it).
//!
//! Clients: any etcd v3 client (`etcdctl` with `ETCDCTL_API=3`, the `etcd-client` crate,
//! Triad's own components). Supported: KV (Range, Put, DeleteRange, Txn, Compact), Lease
//! (Grant, Revoke, KeepAlive, TimeToLive, Leases), Watch, Cluster (MemberList, MemberAdd,
//! MemberRemove, MemberPromote) and Maintenance (Status, Alarm). Reads are linearizable
//! (ReadIndex) unless `serializable` is set. Errors carry etcd's gRPC codes and messages.
//! Not supported: auth, the HTTP/JSON gateway, Maintenance Snapshot/Defragment/Hash/
//! MoveLeader, automatic compaction (clients compact, as with a default etcd). With etcdctl
//! 3.4, give `endpoint status|health` endpoints as `host:port` (that version sends a URL as
//! the HTTP/2 `:authority`, which only Go's server accepts).
//!
//! ## Membership is declarative
//!
//! * First start of a cluster: every coordinator host of the file starts with an empty data
//!   directory; members probe each other and bootstrap once a quorum of them is present. Ids
//!   derive from the cluster name, host name and peer URL, so all agree.
//! * A member that finds its data directory empty while the others have data (a rebuilt host,
//!   a new host) never bootstraps: it asks the leader to add it as a learner under a **new
//!   member id** — any old member of the same name or peer URL is removed first, so a member
//!   that lost its disk never votes with its old id. It is promoted to voter once it has
//!   caught up (90% of the leader's log).
//! * The leader reconciles the member list with its cluster file every second: it promotes
//!   caught-up learners the file names and removes members the file no longer names once
//!   they are down — and only when the remaining voters keep a healthy quorum. A member that
//!   is up is never removed automatically (a leader still running the old file must not
//!   remove the host that replaces one).
//! * Replacing a host under another name/address: change its entry in `cluster.toml`, start
//!   the new host (it joins as a learner), then restart the other coordinator hosts with the
//!   new file one at a time; once the leader runs the new file it removes the old member
//!   (down) and promotes the new one. Same name, new disk: just start it empty.
//! * By hand: `triadctl members list|add|remove|promote` and `triadctl coordinator status`
//!   (or `etcdctl member ...`). Removing a live member that the file still names is undone:
//!   it restarts, rejoins with a new id and is promoted again.
//!
//! # Design (one concern per module)
//!
//! `node` drives raft-rs (`check_quorum`, `pre_vote`, ReadIndex, ConfChangeV2) and batches all
//! proposals that arrive while a Ready is being written into one entry and one fsync;
//! `storage` keeps the log in raft-engine and cuts snapshots from the live state machine;
//! `state` applies commands deterministically to `mvcc` (revisions, versions, compaction) and
//! `lease`; `membership` holds the membership rules as pure functions; `member_ops` executes
//! them on the leader; `service/*` are the gRPC services; `server` wires a member together.
pub mod client_tls;
pub mod core;
pub mod errors;
pub mod handle;
pub mod identity;
pub mod lease;
pub mod member_ops;
pub mod membership;
pub mod mvcc;
pub mod node;
pub mod pb;
pub mod server;
pub mod service;
pub mod state;
pub mod storage;
pub mod transport;
pub mod watch;
