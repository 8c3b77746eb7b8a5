//! triad-engine: the in-memory cube engine (docs/engine.md).
//!
//! `model` (the cube model format), `store` (cells in memory, Arrow batches), `log` (the change
//! log in the cluster database), `engine` (writes and replication), `group_commit` (writes
//! sharing a transaction), `snapshot` (images in the cluster database), `sql` (the PostgreSQL
//! protocol on DataFusion), `extended` (its extended protocol), `update` (UPDATE of cells),
//! `catalog` (the SQL session: cubes, pg_catalog, information_schema), `colnames` (PostgreSQL's
//! result column names), `csvload` (CSV checks), `loads` (CSV loads with progress), `http` (the
//! HTTP API), `cluster` (registration, fencing, peers), `probe` (status-code HTTP probes).

pub mod arraymap;
pub mod auth;
pub mod catalog;
#[cfg(test)]
mod catalog_tests;
pub mod cellvalue;
pub mod cluster;
pub mod colnames;
pub mod compat_parse;
pub mod copy_out;
pub mod csvload;
pub mod cube_keys;
pub mod cursors;
pub mod encode;
pub mod engine;
pub mod extended;
pub mod group_commit;
pub mod http;
pub mod int2vector;
pub mod jsonfn;
pub mod loads;
pub mod log;
pub mod model;
pub mod numfmt;
pub mod pgaggregates;
pub mod pgfunctions;
pub mod pgnumeric;
pub mod pgproc;
pub mod pgtyping;
pub mod probe;
pub mod query_runtime;
pub mod regproc;
pub mod rewrite;
pub mod roles;
pub mod session;
pub mod settings;
pub mod single_value;
pub mod snapshot;
pub mod sql;
pub mod store;
pub mod subqueries;
pub mod txn;
pub mod update;
