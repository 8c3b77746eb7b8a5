//! triad-coordinator: a Raft replicated key-value store speaking the etcd v3 gRPC API.
pub mod errors;
pub mod lease;
pub mod mvcc;
pub mod pb;
pub mod state;
