//! The gRPC services: etcd's KV, Lease, Watch, Cluster and Maintenance for clients, and the
//! peer service between members.
pub mod cluster;
pub mod kv;
pub mod lease;
pub mod maintenance;
pub mod peer;
pub mod validate;
pub mod watch;
