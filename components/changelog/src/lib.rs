//! triad-changelog: what the engine and the designer share of the cluster database.
//!
//! `model` (the cube model format), `cellvalue` (the canonical form of a written value),
//! `cell` (the one check a cell write goes through, when it is acknowledged and again when any
//! engine applies it), `csvload` (CSV files checked row by row with that check), `change` (the
//! typed entries of the log), `log` (the log table: append and tail), `db` (how a daemon
//! reaches the cluster database). No SQL engine and no protocol server here: the designer
//! links this crate, not the engine.

pub mod cell;
pub mod cellvalue;
pub mod change;
pub mod csvload;
pub mod db;
pub mod log;
pub mod model;

pub use change::Change;
