//! triad-coordinator: a Raft replicated key-value store speaking the etcd v3 gRPC API.
//!
//! See the crate README section in `docs` for operators; module docs explain the design.
pub mod core;
pub mod errors;
pub mod handle;
pub mod identity;
pub mod lease;
pub mod lincheck;
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
