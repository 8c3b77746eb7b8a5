//! SQL for BI clients over the PostgreSQL protocol (pgwire): SELECT runs on DataFusion over
//! the in-memory cubes (tables `<model>.<cube>`); INSERT and UPDATE (`update`) write cells
//! through the change log;
//! BEGIN/COMMIT/SET are accepted for drivers' sake (each write commits on its own).
//! Passwords are checked against the argon2 hashes of the cluster's users.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, BooleanArray, Float64Array, Int64Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{SetExpr, Statement};
use futures::stream;
use pgwire::api::auth::cleartext::CleartextPasswordAuthStartupHandler;
use pgwire::api::auth::{AuthSource, DefaultServerParameterProvider, LoginInfo, Password};
use pgwire::api::portal::Format;
use pgwire::api::query::SimpleQueryHandler;
use pgwire::api::results::{DataRowEncoder, FieldFormat, FieldInfo, QueryResponse, Response, Tag};
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, PgWireServerHandlers, Type};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use serde_json::{Map, Value};

use crate::catalog::Sessions;
use crate::colnames::output_name;
use crate::engine::Engine;

pub struct SqlHandler {
    pub engine: Arc<Engine>,
}

pub(crate) fn user_error(code: &str, message: impl Into<String>, position: Option<usize>) -> PgWireError {
    let mut info = ErrorInfo::new("ERROR".into(), code.into(), message.into());
    info.position = position.map(|p| p.to_string());
    PgWireError::UserError(Box::new(info))
}

/// `model.cube` (quotes removed) of an INSERT's or UPDATE's target.
pub(crate) fn cube_name(name: &impl std::fmt::Display) -> PgWireResult<(String, String)> {
    let table = name.to_string().replace('"', "");
    match table.split_once('.') {
        Some((model, cube)) => Ok((model.to_string(), cube.to_string())),
        None => Err(user_error("42P01", format!("name the cube as <model>.<cube>, not {table:?}"), None)),
    }
}

/// Parses SQL as PostgreSQL clients send it; a syntax error carries its position.
pub(crate) fn parse(sessions: &Sessions, sql: &str) -> PgWireResult<Vec<Statement>> {
    sessions.parse(sql).map_err(|e| {
        let msg = e.to_string();
        user_error("42601", format!("syntax error: {msg}"), position_of(&msg, sql))
    })
}

/// Character offset (1-based, as PostgreSQL reports it) of sqlparser's "Line: L, Column: C".
pub(crate) fn position_of(message: &str, sql: &str) -> Option<usize> {
    let line: usize = message.split("Line: ").nth(1)?.split(',').next()?.trim().parse().ok()?;
    let col: usize = message.split("Column: ").nth(1)?.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()?;
    let before: usize = sql.split('\n').take(line - 1).map(|l| l.chars().count() + 1).sum();
    Some(before + col)
}

#[async_trait]
impl SimpleQueryHandler for SqlHandler {
    async fn do_query<C>(&self, _client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
    {
        self.check_serving()?;
        let statements = parse(&self.engine.sessions, query)?;
        let mut out = vec![];
        for stmt in statements {
            out.push(self.statement(stmt, &Format::UnifiedText).await?);
        }
        Ok(out)
    }
}

impl SqlHandler {
    pub(crate) fn check_serving(&self) -> PgWireResult<()> {
        if !self.engine.serving() {
            return Err(user_error("57P03", format!("the engine on {} is not serving (starting, catching up or leaving the cluster)", self.engine.me), None));
        }
        Ok(())
    }

    pub(crate) async fn statement(&self, mut stmt: Statement, format: &Format) -> PgWireResult<Response> {
        crate::colnames::alias_unnamed(&mut stmt);
        match stmt {
            Statement::Insert(insert) => self.insert(insert).await,
            Statement::StartTransaction { .. } => Ok(Response::TransactionStart(Tag::new("BEGIN"))),
            Statement::Commit { .. } => Ok(Response::TransactionEnd(Tag::new("COMMIT"))),
            Statement::Rollback { .. } => Ok(Response::TransactionEnd(Tag::new("ROLLBACK"))),
            Statement::Set(_) => Ok(Response::Execution(Tag::new("SET"))),
            Statement::Query(_) => self.select(&stmt.to_string(), format).await,
            Statement::Update(u) => self.update(u).await,
            Statement::Delete(_) => Err(user_error(
                "0A000",
                "cells are not deleted: set their measures to NULL with UPDATE or INSERT (a cell is addressed by every dimension; unnamed measures keep their value)",
                None,
            )),
            other => Err(user_error("0A000", format!("not supported by the cube engine: {}", other.to_string().split_whitespace().take(3).collect::<Vec<_>>().join(" ")), None)),
        }
    }

    async fn insert(&self, insert: datafusion::sql::sqlparser::ast::Insert) -> PgWireResult<Response> {
        let (model, cube) = &cube_name(&insert.table)?;
        let columns: Vec<String> = insert.columns.iter().map(|c| c.to_string().replace('"', "")).collect();
        let rows = match insert.source.as_deref().map(|q| q.body.as_ref()) {
            Some(SetExpr::Values(v)) => &v.rows,
            _ => return Err(user_error("0A000", "INSERT takes VALUES rows", None)),
        };
        let mut cells = vec![];
        for (i, row) in rows.iter().map(|r| &r.content).enumerate() {
            if row.len() != columns.len() {
                return Err(user_error("42601", format!("row {}: {} values for {} columns", i + 1, row.len(), columns.len()), None));
            }
            let mut cell = Map::new();
            for (c, e) in columns.iter().zip(row) {
                cell.insert(c.clone(), literal(&e.to_string()).map_err(|m| user_error("22023", format!("row {}, column {c}: {m}", i + 1), None))?);
            }
            cells.push(cell);
        }
        let entries = self.engine.check_cells(model, cube, &cells).map_err(|e| user_error(if e.to_string().contains("does not exist") { "42P01" } else { "22023" }, e.to_string(), None))?;
        let n = entries.len();
        self.engine.write(entries).await.map_err(|e| user_error("08006", format!("{e:#}"), None))?;
        Ok(Response::Execution(Tag::new("INSERT").with_oid(0).with_rows(n)))
    }

    async fn select(&self, sql: &str, format: &Format) -> PgWireResult<Response> {
        let (schema, batches) = run_query(&self.engine, sql).await?;
        let batches: Vec<RecordBatch> = batches.into_iter().map(normalise).collect::<Result<_, _>>().map_err(|e| user_error("XX000", e.to_string(), None))?;
        // The planned schema: an empty result still describes its columns.
        let schema = wire_schema(&schema);
        let fields: Arc<Vec<FieldInfo>> = Arc::new(schema.fields().iter().enumerate().map(|(i, f)| FieldInfo::new(output_name(f.name()).to_string(), None, None, pg_type(f.data_type()), format.format_for(i))).collect());
        let mut rows = vec![];
        for b in &batches {
            for r in 0..b.num_rows() {
                let mut enc = DataRowEncoder::new(fields.clone());
                for (i, col) in b.columns().iter().enumerate() {
                    encode(&mut enc, col.as_ref(), r, format.format_for(i))?;
                }
                rows.push(Ok(enc.take_row()));
            }
        }
        Ok(Response::Query(QueryResponse::new(fields, stream::iter(rows))))
    }
}

/// Runs a query on DataFusion over the current image, within the per-query memory budget:
/// the result's schema and its rows.
pub async fn run_query(engine: &Engine, sql: &str) -> PgWireResult<(SchemaRef, Vec<RecordBatch>)> {
    // At most `max_concurrent_queries` at once; the others wait their turn.
    let _permit = engine.query_slots.acquire().await.map_err(|e| user_error("XX000", e.to_string(), None))?;
    let ctx = context(engine)?;
    let df = ctx.sql(sql).await.map_err(|e| df_error(e, sql))?;
    let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
    Ok((schema, df.collect().await.map_err(|e| df_error(e, sql))?))
}

/// A DataFusion session over the current image (every cube as `model.cube`, with
/// `pg_catalog` and `information_schema`), within the per-query memory budget.
pub(crate) fn context(engine: &Engine) -> PgWireResult<SessionContext> {
    // A query gets its own budget, but never more than what the cubes leave of the process's.
    let e = &engine.cluster.file().engine;
    let left = (e.process_memory_budget.get() as usize).saturating_sub(engine.image.lock().unwrap().approx_bytes());
    let budget = (e.query_memory_budget.get() as usize).min(left).max(16 << 20);
    let tables = engine.tables().map_err(|e| user_error("XX000", e.to_string(), None))?;
    engine.sessions.session(tables, budget).map_err(|e| user_error("XX000", e.to_string(), None))
}

pub(crate) fn df_error(e: datafusion::error::DataFusionError, sql: &str) -> PgWireError {
    let msg = e.to_string();
    let code = if msg.contains("not found") || msg.contains("doesn't exist") || msg.contains("No field named") {
        "42P01"
    } else if msg.contains("Resources exhausted") {
        "53200"
    } else if msg.contains("SQL error") || msg.contains("ParserError") {
        "42601"
    } else {
        "XX000"
    };
    let msg = if code == "53200" { format!("the query needs more memory than [engine] query_memory_budget allows: {msg}") } else { msg };
    user_error(code, msg.clone(), position_of(&msg, sql))
}

/// A literal of VALUES as JSON: 'text', numbers, NULL, true/false.
fn literal(text: &str) -> Result<Value, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("null") {
        return Ok(Value::Null);
    }
    if t.len() >= 2 && t.starts_with('\'') && t.ends_with('\'') {
        return Ok(Value::String(t[1..t.len() - 1].replace("''", "'")));
    }
    if let Ok(i) = t.parse::<i64>() {
        return Ok(Value::from(i));
    }
    if let Ok(f) = t.parse::<f64>() {
        return Ok(serde_json::json!(f));
    }
    match t.to_lowercase().as_str() {
        "true" | "false" => Ok(Value::String(t.to_lowercase())),
        _ => Err(format!("{t} is not a constant (VALUES takes literals)")),
    }
}

/// Columns as the wire encodes them: int8, float8, text, bool; anything else as text.
pub(crate) fn normalise(b: RecordBatch) -> Result<RecordBatch, datafusion::arrow::error::ArrowError> {
    let schema = b.schema();
    let cols = schema.fields().iter().zip(b.columns()).map(|(f, c)| {
        let to = wire_type(f.data_type());
        if &to == f.data_type() { Ok(c.clone()) } else { cast(c, &to) }
    });
    RecordBatch::try_new(wire_schema(&schema), cols.collect::<Result<_, _>>()?)
}

/// A schema with every column in its wire type.
fn wire_schema(schema: &SchemaRef) -> SchemaRef {
    Arc::new(Schema::new(schema.fields().iter().map(|f| Field::new(f.name(), wire_type(f.data_type()), true)).collect::<Vec<_>>()))
}

/// The Arrow type a column is sent as: int8, float8, text, bool.
pub(crate) fn wire_type(t: &DataType) -> DataType {
    match t {
        DataType::Int64 | DataType::Float64 | DataType::Utf8 | DataType::Boolean => t.clone(),
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => DataType::Int64,
        DataType::Float16 | DataType::Float32 => DataType::Float64,
        _ => DataType::Utf8,
    }
}

pub(crate) fn pg_type(t: &DataType) -> Type {
    match t {
        DataType::Int64 => Type::INT8,
        DataType::Float64 => Type::FLOAT8,
        DataType::Boolean => Type::BOOL,
        _ => Type::VARCHAR,
    }
}

fn encode(enc: &mut DataRowEncoder, col: &dyn Array, r: usize, format: FieldFormat) -> PgWireResult<()> {
    let any = col.as_any();
    if let Some(a) = any.downcast_ref::<Int64Array>() {
        enc.encode_field(&(!a.is_null(r)).then(|| a.value(r)))
    } else if let Some(a) = any.downcast_ref::<Float64Array>() {
        if format == FieldFormat::Binary {
            enc.encode_field(&(!a.is_null(r)).then(|| a.value(r)))
        } else {
            enc.encode_field(&(!a.is_null(r)).then(|| pg_float(a.value(r))))
        }
    } else if let Some(a) = any.downcast_ref::<BooleanArray>() {
        enc.encode_field(&(!a.is_null(r)).then(|| a.value(r)))
    } else if let Some(a) = any.downcast_ref::<StringArray>() {
        enc.encode_field(&(!a.is_null(r)).then(|| a.value(r)))
    } else {
        enc.encode_field(&None::<&str>)
    }
}

/// A float8 as PostgreSQL prints it: shortest round-trip form, no trailing `.0`.
fn pg_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "Infinity".into() } else { "-Infinity".into() }
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// SQL users (the cluster file's, then the designer's), checked against their argon2 hashes.
#[derive(Debug)]
pub struct Users {
    pub engine: Arc<Engine>,
}

#[async_trait]
impl AuthSource for Users {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        Err(PgWireError::InvalidPassword(login.user().unwrap_or_default().to_owned()))
    }

    async fn verify_password(&self, login: &LoginInfo, presented: &[u8]) -> PgWireResult<Option<()>> {
        use argon2::password_hash::{PasswordHash, PasswordVerifier};
        let user = login.user().unwrap_or_default().to_owned();
        let hash = self.engine.users.read().unwrap().get(&user).cloned();
        let ok = hash.as_deref().and_then(|h| PasswordHash::new(h).ok()).is_some_and(|h| argon2::Argon2::default().verify_password(presented, &h).is_ok());
        if ok { Ok(None) } else { Err(PgWireError::InvalidPassword(user)) }
    }
}

impl Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("me", &self.me).finish()
    }
}

pub struct Handlers {
    pub sql: Arc<SqlHandler>,
    pub startup: Arc<CleartextPasswordAuthStartupHandler<Users, DefaultServerParameterProvider>>,
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.sql.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl pgwire::api::query::ExtendedQueryHandler> {
        self.sql.clone()
    }

    fn startup_handler(&self) -> Arc<impl pgwire::api::auth::StartupHandler> {
        self.startup.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_positions() {
        assert_eq!(literal("'it''s'"), Ok(Value::String("it's".into())));
        assert_eq!(literal("42"), Ok(Value::from(42)));
        assert_eq!(literal("-1.5"), Ok(serde_json::json!(-1.5)));
        assert_eq!(literal("NULL"), Ok(Value::Null));
        assert!(literal("now()").is_err());
        assert_eq!((pg_float(12.0), pg_float(-0.5), pg_float(1e20)), ("12".into(), "-0.5".into(), "100000000000000000000".into()));
        assert_eq!(position_of("Expected: an expression, found: FROM at Line: 1, Column: 8", "SELECT FROM t"), Some(8));
        assert_eq!(position_of("x at Line: 2, Column: 3", "SELECT\n1 +"), Some(10));
    }
}
