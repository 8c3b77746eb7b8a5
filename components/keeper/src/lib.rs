//! triad-keeper: keeps exactly one PostgreSQL primary among the app hosts, the way Patroni
//! does, with the coordinator as its DCS. See docs/keeper.md.
//!
//! Modules: `decision` (the pure HA rules), `pg` (running PostgreSQL), `sql` (asking it),
//! `ha` (the loop: observe, decide, act, and the lease watchdog), `fence` (the deadline file
//! and `triad-keeper fence`, the fencing outside the keeper), `api` (REST on 8008),
//! `member` (what each keeper publishes, read by `triadctl list`).

pub mod api;
pub mod client;
pub mod decision;
pub mod fence;
pub mod ha;
pub mod member;
pub mod pg;
pub mod sql;
