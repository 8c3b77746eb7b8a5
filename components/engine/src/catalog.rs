//! The SQL session every query runs in: the cubes (schema `<model>`, table `<cube>`) in the
//! catalog `triad` (the database name clients connect to), PostgreSQL's `pg_catalog` and
//! `information_schema`, so that psql's `\d`, `\dt`, `\dn` and the metadata queries of drivers
//! and BI tools work. `pg_catalog` and its functions come from `datafusion-pg-catalog` (the
//! datafusion-postgres project); its parser also rewrites PostgreSQL-only syntax those tools
//! send (`OPERATOR(pg_catalog.~)`, `::regclass`, unqualified catalog tables) into what
//! DataFusion plans.
//!
//! The catalog is built once (`pg_catalog`'s static tables are large); each query gets a
//! session sharing it, with its own memory pool, after the cube tables are refreshed.

use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{MemorySchemaProvider, SchemaProvider};
use datafusion::datasource::MemTable;
use datafusion::error::Result as DfResult;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::sqlparser::ast::Statement;
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_pg_catalog::sql::PostgresCompatibilityParser;

/// The database (catalog) name: `current_database()`, and `dbname` of clients.
pub const DATABASE: &str = "triad";
/// Schemas that are not models.
const SYSTEM_SCHEMAS: [&str; 3] = ["pg_catalog", "information_schema", "public"];

/// One cube for a query: model, cube, schema and its Arrow batches.
pub type CubeTable = (String, String, SchemaRef, Vec<RecordBatch>);

pub struct Sessions {
    base: SessionContext,
    parser: PostgresCompatibilityParser,
}

impl Sessions {
    pub fn new() -> DfResult<Sessions> {
        let config = SessionConfig::new().with_default_catalog_and_schema(DATABASE, "public").with_information_schema(true);
        let base = SessionContext::new_with_config(config);
        datafusion_pg_catalog::setup_pg_catalog(&base, DATABASE, EmptyContextProvider).map_err(|e| *e)?;
        Ok(Sessions { base, parser: PostgresCompatibilityParser::new() })
    }

    /// Parses PostgreSQL as clients send it, rewritten to what DataFusion plans.
    pub fn parse(&self, sql: &str) -> Result<Vec<Statement>, ParserError> {
        // The rewriting parser's errors lose the location; sqlparser's own error carries it.
        self.parser.parse(sql).map_err(|e| Parser::parse_sql(&PostgreSqlDialect {}, sql).err().unwrap_or(e))
    }

    /// A session over `tables` (every cube as `model.cube`) with a memory pool of `budget`
    /// bytes. Cube schemas are replaced whole, so a query sees each model at one log position.
    pub fn session(&self, tables: Vec<CubeTable>, budget: usize) -> DfResult<SessionContext> {
        let catalog = self.base.catalog(DATABASE).expect("the triad catalog is registered at start");
        let mut models: std::collections::BTreeMap<String, Arc<MemorySchemaProvider>> = Default::default();
        // The chunks dealt round-robin into one partition per core: aggregation runs in parallel.
        let partitions = std::thread::available_parallelism().map_or(1, |n| n.get());
        for (model, cube, table_schema, batches) in tables {
            let schema = models.entry(model).or_insert_with(|| Arc::new(MemorySchemaProvider::new()));
            let mut parts = vec![vec![]; partitions.min(batches.len()).max(1)];
            let n = parts.len();
            for (i, b) in batches.into_iter().enumerate() {
                parts[i % n].push(b);
            }
            schema.register_table(cube, Arc::new(MemTable::try_new(table_schema, parts)?))?;
        }
        for gone in catalog.schema_names().into_iter().filter(|s| !SYSTEM_SCHEMAS.contains(&s.as_str()) && !models.contains_key(s)) {
            catalog.deregister_schema(&gone, true)?;
        }
        for (model, schema) in models {
            catalog.register_schema(&model, schema)?;
        }
        let runtime = RuntimeEnvBuilder::new().with_memory_limit(budget, 1.0).build_arc()?;
        let state = SessionStateBuilder::new_from_existing(self.base.state()).with_runtime_env(runtime).build();
        Ok(SessionContext::new_with_state(state))
    }
}
