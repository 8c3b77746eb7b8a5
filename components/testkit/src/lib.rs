//! triad-testkit: what the tests of several crates share, kept out of the production crates
//! (only `[dev-dependencies]` name it): `etcd` (real etcd members on private loopback
//! addresses) and `lincheck` (a linearizability checker for histories of a key-value store).

pub mod etcd;
pub mod lincheck;
