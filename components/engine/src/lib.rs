//! triad-engine: the in-memory cube engine (docs/engine.md).
//!
//! `model`, `cellvalue`, `csvload` and `log` are triad-changelog's (the model, the one cell
//! check, the change log). `store` (cells in memory, Arrow batches), `view` (the immutable image queries read), `engine` (writes and replication), `group_commit` (writes
//! sharing a transaction), `snapshot` (images in the cluster database), `snapshot_writer` (the loop that writes them), `sql` (the PostgreSQL
//! protocol on DataFusion), `extended` (its extended protocol), `update` (UPDATE of cells),
//! `catalog` (the SQL session: cubes, pg_catalog, information_schema), `colnames` (PostgreSQL's
//! result column names), `loads` (CSV loads with progress), `http` (the
//! HTTP API), `cluster` (registration, fencing, peers; its rules are `cluster_rules`).

pub mod arraymap;
pub mod auth;
pub mod catalog;
#[cfg(test)]
mod catalog_tests;
pub mod cluster;
pub mod cluster_rules;
pub mod colnames;
pub mod compat_parse;
pub mod copy_out;
pub mod cube_keys;
pub mod cursors;
pub mod encode;
pub mod engine;
pub mod extended;
pub mod group_commit;
pub mod group_keys;
pub mod http;
pub mod http_auth;
pub mod int2vector;
pub mod jsonfn;
pub mod lifecycle;
pub mod loads;
pub mod measure_column;
pub mod member_code;
pub mod memory_budget;
pub mod numfmt;
pub mod pgaggregates;
pub mod pgerror;
pub mod pgfunctions;
pub mod pgnumeric;
pub mod pgproc;
pub mod pgtyping;
pub mod query_memory;
pub mod query_runtime;
pub mod regproc;
pub mod rewrite;
pub mod roles;
pub mod session;
pub mod settings;
pub mod single_value;
pub mod snapshot;
pub mod snapshot_codec;
pub mod snapshot_table;
pub mod snapshot_writer;
pub mod spill;
pub mod sql;
pub mod store;
pub mod subqueries;
pub mod txn;
pub mod update;
pub mod user_roles;
pub mod view;
pub mod write_stages;

// The model, the cell check and the change log live in triad-changelog (shared with the
// designer); re-exported under their old paths.
pub use triad_changelog::{cellvalue, csvload, log, model};
