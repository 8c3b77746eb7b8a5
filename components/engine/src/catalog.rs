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

use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility};
use datafusion::prelude::create_udf;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{CatalogProvider, CatalogProviderList, MemoryCatalogProvider, MemoryCatalogProviderList, MemorySchemaProvider, SchemaProvider};
use datafusion::datasource::MemTable;
use datafusion::error::Result as DfResult;
use datafusion::execution::FunctionRegistry;
use datafusion::execution::memory_pool::MemoryPool;
use datafusion::execution::disk_manager::{DiskManager, DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::sqlparser::ast::Statement;
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};

/// The database (catalog) name: `current_database()`, and `dbname` of clients.
pub const DATABASE: &str = "triad";
/// Schemas that are not models.
const SYSTEM_SCHEMAS: [&str; 3] = ["pg_catalog", "information_schema", "public"];

/// One cube for a query: model, cube, schema and its Arrow batches.
pub type CubeTable = (String, String, SchemaRef, Vec<RecordBatch>);

pub struct Sessions {
    base: SessionContext,
    parser: crate::compat_parse::CompatParser,
    /// The users `pg_roles` lists.
    users: crate::roles::Users,
    /// Where queries spill, shared by all (`spill`); none: queries never spill.
    spill: Option<Arc<DiskManager>>,
}

impl Sessions {
    pub fn new() -> DfResult<Sessions> {
        let mut config = SessionConfig::new().with_default_catalog_and_schema(DATABASE, "public").with_information_schema(true);
        // `1.5` is numeric, as in PostgreSQL (DataFusion's default: float8).
        config.options_mut().sql_parser.parse_float_as_decimal = true;
        let base = with_pg_typing(SessionContext::new_with_config(config))?;
        let users = crate::roles::Users::default();
        datafusion_pg_catalog::setup_pg_catalog(&base, DATABASE, users.clone()).map_err(|e| *e)?;
        // An (empty) schema of its own, so that pg_namespace lists information_schema as
        // PostgreSQL does (pgJDBC's getSchemas); DataFusion answers its tables before it.
        let catalog = base.catalog(DATABASE).expect("the triad catalog");
        catalog.register_schema("information_schema", Arc::new(MemorySchemaProvider::new()))?;
        let pg_catalog = catalog.schema("pg_catalog").expect("pg_catalog is set up");
        let indexes = crate::cube_keys::Indexes::default();
        catalog.register_schema("pg_catalog", Arc::new(crate::cube_keys::WithKeys::new(pg_catalog, indexes.clone())))?;
        crate::pgfunctions::replace(&base, indexes.udf());
        crate::int2vector::register(&base);
        crate::pgfunctions::register(&base);
        crate::pgproc::register(&base)?;
        crate::jsonfn::register(&base);
        crate::single_value::register(&base);
        crate::arraymap::register(&base);
        crate::pgaggregates::register(&base);
        crate::pgnumeric::register(&base);
        crate::pgfunctions::replace(&base, text_constant("version", &format!("PostgreSQL {} (Triad {}, the cube engine) on {}-linux, 64-bit", crate::settings::SERVER_VERSION, env!("CARGO_PKG_VERSION"), std::env::consts::ARCH)));
        Ok(Sessions { base, parser: crate::compat_parse::CompatParser::new(), users, spill: None })
    }

    /// These sessions' queries spill through `disk` (`spill::disk_manager`).
    pub fn spilling_to(mut self, disk: Arc<DiskManager>) -> Sessions {
        self.spill = Some(disk);
        self
    }

    /// The users who can log in, as `pg_roles` lists them from now on.
    pub fn set_users(&self, names: Vec<String>) {
        self.users.set(names);
    }

    /// Parses PostgreSQL as clients send it, rewritten to what DataFusion plans.
    pub fn parse(&self, sql: &str) -> Result<Vec<Statement>, ParserError> {
        // The rewriting parser's errors lose the location; sqlparser's own error carries it.
        self.parser.parse(sql).map_err(|e| Parser::parse_sql(&PostgreSqlDialect {}, sql).err().unwrap_or(e))
    }

    /// A session over `tables` (every cube as `model.cube`) whose queries draw on `pool`. Cube schemas are replaced whole, so a query sees each model at one log position.
    /// `private` tables (a transaction's cubes with its uncommitted writes) replace theirs in
    /// this session only: the shared catalog, which `pg_catalog` reads, never holds them.
    pub fn session(&self, tables: Vec<CubeTable>, private: Vec<CubeTable>, pool: Arc<dyn MemoryPool>) -> DfResult<SessionContext> {
        let catalog = self.base.catalog(DATABASE).expect("the triad catalog is registered at start");
        let models = schemas(tables)?;
        for gone in catalog.schema_names().into_iter().filter(|s| !SYSTEM_SCHEMAS.contains(&s.as_str()) && !models.contains_key(s)) {
            catalog.deregister_schema(&gone, true)?;
        }
        for (model, schema) in &models {
            catalog.register_schema(model, schema.clone())?;
        }
        let mut runtime = RuntimeEnvBuilder::new().with_memory_pool(pool);
        runtime.disk_manager = Some(self.spill.clone().unwrap_or_else(no_spilling));
        let runtime = runtime.build_arc()?;
        let mut state = SessionStateBuilder::new_from_existing(self.base.state()).with_runtime_env(runtime);
        if !private.is_empty() {
            let mine = Arc::new(MemoryCatalogProvider::new());
            for name in catalog.schema_names() {
                if let Some(schema) = models.get(&name) {
                    // A copy of the model's schema: its tables are shared, the mine replaced.
                    let copy = Arc::new(MemorySchemaProvider::new());
                    for table in schema.table_names() {
                        if let Some(t) = schema.table_exist(&table).then(|| schema_table(schema, &table)).flatten() {
                            copy.register_table(table, t)?;
                        }
                    }
                    mine.register_schema(&name, copy)?;
                } else if let Some(schema) = catalog.schema(&name) {
                    mine.register_schema(&name, schema)?;
                }
            }
            for (model, cube, table_schema, batches) in private {
                let schema = mine.schema(&model).expect("a private table's model is in the image");
                schema.deregister_table(&cube)?;
                schema.register_table(cube, mem_table(table_schema, batches)?)?;
            }
            let list = Arc::new(MemoryCatalogProviderList::new());
            let base_list = self.base.state().catalog_list().clone();
            for name in base_list.catalog_names() {
                if name == DATABASE {
                    list.register_catalog(name, mine.clone());
                } else if let Some(c) = base_list.catalog(&name) {
                    list.register_catalog(name, c);
                }
            }
            state = state.with_catalog_list(list);
        }
        Ok(SessionContext::new_with_state(state.build()))
    }
}

/// `ctx` with `group_keys`' and `pgtyping`'s rules placed before DataFusion's type coercion
/// (which then fits the rest of the plan around PostgreSQL's types); the analyzer's function
/// rewrites are kept.
fn with_pg_typing(ctx: SessionContext) -> DfResult<SessionContext> {
    let state = ctx.state();
    let mut rules = state.analyzer().rules.clone();
    let at = rules.iter().position(|r| r.name() == "type_coercion").unwrap_or(0);
    rules.insert(at, Arc::new(crate::pgtyping::PgTyping));
    rules.insert(at, Arc::new(crate::group_keys::DictionaryGroupKeys));
    let rewrites = state.analyzer().function_rewrites().to_vec();
    let mut state = SessionStateBuilder::new_from_existing(state).with_analyzer_rules(rules).build();
    for rewrite in rewrites {
        state.register_function_rewrite(rewrite)?;
    }
    Ok(SessionContext::new_with_state(state))
}

/// A disk manager that refuses to spill: without one, DataFusion would spill under `/tmp`.
fn no_spilling() -> Arc<DiskManager> {
    Arc::new(DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled).build().expect("a disabled disk manager builds"))
}

/// A 64 MiB pool for tests that make sessions without an engine.
#[cfg(test)]
pub fn test_pool() -> Arc<dyn MemoryPool> {
    Arc::new(datafusion::execution::memory_pool::GreedyMemoryPool::new(64 << 20))
}

/// The cubes grouped by model, each a schema of in-memory tables.

fn schemas(tables: Vec<CubeTable>) -> DfResult<std::collections::BTreeMap<String, Arc<MemorySchemaProvider>>> {
    let mut models: std::collections::BTreeMap<String, Arc<MemorySchemaProvider>> = Default::default();
    for (model, cube, table_schema, batches) in tables {
        let schema = models.entry(model).or_insert_with(|| Arc::new(MemorySchemaProvider::new()));
        schema.register_table(cube, mem_table(table_schema, batches)?)?;
    }
    Ok(models)
}

/// A cube's batches as a table, the chunks dealt round-robin into one partition per core:
/// aggregation runs in parallel.
fn mem_table(schema: SchemaRef, batches: Vec<RecordBatch>) -> DfResult<Arc<MemTable>> {
    let partitions = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut parts = vec![vec![]; partitions.min(batches.len()).max(1)];
    let n = parts.len();
    for (i, b) in batches.into_iter().enumerate() {
        parts[i % n].push(b);
    }
    Ok(Arc::new(MemTable::try_new(schema, parts)?))
}

/// A table of an in-memory schema (its lookup is synchronous underneath).
fn schema_table(schema: &MemorySchemaProvider, name: &str) -> Option<Arc<dyn datafusion::catalog::TableProvider>> {
    futures::executor::block_on(schema.table(name)).ok().flatten()
}

/// A function of no arguments answering a fixed text (`version()`).
fn text_constant(name: &str, value: &str) -> ScalarUDF {
    let value = value.to_string();
    create_udf(name, vec![], DataType::Utf8, Volatility::Stable, Arc::new(move |_: &[ColumnarValue]| Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(value.clone()))))))
}

/// A session's parameters in its query: `search_path` picks the schema of unqualified names,
/// `TimeZone` the zone of timestamps, and `current_setting(name)` answers from them.
pub fn apply_settings(ctx: &SessionContext, settings: &crate::settings::Settings, user: &str) -> DfResult<()> {
    let catalog = ctx.catalog(DATABASE).expect("the triad catalog is registered at start");
    let schemas = catalog.schema_names();
    let schema = settings.search_path().into_iter().find(|s| schemas.iter().any(|n| n.eq_ignore_ascii_case(s))).unwrap_or_else(|| "public".into());
    let state = ctx.state_ref();
    let mut state = state.write();
    let config = state.config_mut().options_mut();
    config.catalog.default_schema = schema.to_lowercase();
    config.execution.time_zone = Some(settings.time_zone());
    drop(state);
    let (settings, user) = (settings.clone(), user.to_string());
    crate::pgfunctions::replace(ctx, create_udf(
        "current_setting",
        vec![DataType::Utf8],
        DataType::Utf8,
        Volatility::Stable,
        Arc::new(move |args: &[ColumnarValue]| {
            let names = match &args[0] {
                ColumnarValue::Scalar(s) => vec![Some(s.to_string())],
                ColumnarValue::Array(a) => {
                    let a = datafusion::arrow::compute::cast(a, &DataType::Utf8)?;
                    let a = a.as_any().downcast_ref::<datafusion::arrow::array::StringArray>().expect("cast to Utf8");
                    a.iter().map(|v| v.map(str::to_string)).collect()
                }
            };
            let values: Result<Vec<Option<String>>, _> = names.into_iter().map(|n| n.map(|n| settings.get(&n, &user)).transpose()).collect();
            let values = values.map_err(|(_, msg)| datafusion::error::DataFusionError::Execution(msg))?;
            Ok(match &args[0] {
                ColumnarValue::Scalar(_) => ColumnarValue::Scalar(ScalarValue::Utf8(values.into_iter().next().flatten())),
                ColumnarValue::Array(_) => ColumnarValue::Array(Arc::new(datafusion::arrow::array::StringArray::from(values))),
            })
        }),
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    /// Every session gets Triad's functions, never DataFusion's of the same name: sessions are
    /// copied from one registry, and a replaced function's alias once made the pick random.
    #[tokio::test]
    async fn every_session_has_postgresqls_functions() {
        let sessions = super::Sessions::new().unwrap();
        for _ in 0..40 {
            let ctx = sessions.session(vec![], vec![], crate::catalog::test_pool()).unwrap();
            let batches = ctx.sql("SELECT to_char(DATE '2025-03-01', 'Mon YYYY'), version()").await.unwrap().collect().await.unwrap();
            let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches).unwrap().to_string();
            assert!(text.contains("Mar 2025") && text.contains("PostgreSQL 15.0"), "{text}");
        }
    }
}
