//! triad-testkit: what the tests of several crates share, kept out of the production crates
//! (only `[dev-dependencies]` name it): `etcd` (real etcd members on private loopback
//! addresses), `lincheck` (a linearizability checker for histories of a key-value store) and
//! `prometheus` (a strict reader of `/metrics` answers).

pub mod etcd;
pub mod lincheck;
pub mod prometheus;
