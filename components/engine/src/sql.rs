//! SQL for BI clients over the PostgreSQL protocol (pgwire): SELECT runs on DataFusion over
//! the in-memory cubes (tables `<model>.<cube>`); INSERT and UPDATE (`update`) write cells
//! through the change log, in transactions with PostgreSQL's semantics (`txn`); SET, SHOW and
//! the other session statements act on the connection's `session`. Every statement the engine
//! does not implement is refused with SQLSTATE 0A000, never ignored.
//! Passwords are checked against the argon2 hashes of the cluster's users.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{CloseCursor, CopyLegacyOption, CopyOption, CopySource, CopyTarget, FetchDirection, SetExpr, Statement};
use futures::{Sink, SinkExt};
use pgwire::api::portal::Format;
use pgwire::api::query::{SimpleQueryHandler, send_execution_response, send_query_response, send_ready_for_query};
use pgwire::api::results::{QueryResponse, Response, Tag};
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, PgWireConnectionState, PgWireServerHandlers};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::response::EmptyQueryResponse;
use pgwire::messages::simplequery::Query;
use serde_json::{Map, Value};

use crate::catalog::Sessions;
use crate::engine::Engine;
pub(crate) use crate::pgerror::user_error;
use crate::cursors::Take;
use crate::session;
use crate::txn::{Block, Control, Pending, Step};

pub struct SqlHandler {
    pub engine: Arc<Engine>,
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
    let mut statements = sessions.parse(sql).map_err(|e| {
        let msg = e.to_string();
        user_error("42601", format!("syntax error: {msg}"), position_of(&msg, sql))
    })?;
    for s in &mut statements {
        crate::rewrite::postgres_syntax(s).map_err(|m| user_error("0A000", m, None))?;
        if sql.to_ascii_lowercase().contains("regproc") {
            crate::regproc::names_as_text(s);
        }
        crate::subqueries::rewrite(s);
        crate::int2vector::rewrite(s);
    }
    Ok(statements)
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
    /// The simple protocol, with the transaction status of ReadyForQuery taken from the
    /// session (pgwire's own bookkeeping cannot express ROLLBACK TO leaving an aborted block).
    async fn on_query<C>(&self, client: &mut C, query: Query) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if !matches!(client.state(), PgWireConnectionState::ReadyForQuery) {
            return Err(PgWireError::NotReadyForQuery);
        }
        client.set_state(PgWireConnectionState::QueryInProgress);
        let session = session::of(client);
        for response in self.message(&session, &query.query).await {
            match response {
                Response::EmptyQuery => client.feed(PgWireBackendMessage::EmptyQueryResponse(EmptyQueryResponse::new())).await?,
                Response::Query(q) => send_query_response(client, q, true).await?,
                Response::Execution(tag) | Response::TransactionStart(tag) | Response::TransactionEnd(tag) => send_execution_response(client, tag).await?,
                Response::Error(e) => client.feed(PgWireBackendMessage::ErrorResponse((*e).into())).await?,
                Response::CopyOut(c) => pgwire::api::copy::send_copy_out_response(client, c).await?,
                Response::CopyIn(_) | Response::CopyBoth(_) => {
                    let e = user_error("0A000", "COPY FROM STDIN is not supported: write cells with INSERT or the CSV load", None);
                    client.feed(PgWireBackendMessage::ErrorResponse(ErrorInfo::from(e).into())).await?
                }
            }
        }
        let status = session.lock().unwrap().status();
        client.set_state(PgWireConnectionState::ReadyForQuery);
        client.set_transaction_status(status);
        send_ready_for_query(client, status).await
    }

    async fn do_query<C>(&self, _client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
    {
        // `on_query` above does the work; nothing calls this.
        Err(user_error("XX000", format!("internal: the simple protocol bypassed its handler for {query:?}"), None))
    }
}

impl SqlHandler {
    pub(crate) fn check_serving(&self) -> PgWireResult<()> {
        if let Some(fault) = self.engine.fault() {
            return Err(user_error("57P03", format!("the engine on {} stopped serving: it cannot apply the change log ({fault})", self.engine.me), None));
        }
        if !self.engine.serving() {
            return Err(user_error("57P03", format!("the engine on {} is not serving (starting, catching up or leaving the cluster)", self.engine.me), None));
        }
        Ok(())
    }

    /// One simple-query message: its statements in order, as one implicit transaction when
    /// outside a block; the first error ends the message (and aborts what it belongs to).
    async fn message(&self, session: &session::Shared, query: &str) -> Vec<Response> {
        let statements = match self.check_serving().and_then(|()| parse(&self.engine.sessions, query)) {
            Ok(s) => s,
            Err(e) => {
                session.lock().unwrap().txn.fail();
                return vec![error_response(e)];
            }
        };
        if statements.is_empty() {
            return vec![Response::EmptyQuery];
        }
        {
            let mut s = session.lock().unwrap();
            if statements.len() > 1 && s.txn.block == Block::Idle {
                s.txn.implicit = true;
            }
        }
        let mut out = vec![];
        for stmt in statements {
            match self.statement(session, stmt, &Format::UnifiedText).await {
                Ok(r) => out.push(r),
                Err(e) => {
                    out.push(error_response(e));
                    return out;
                }
            }
        }
        let writes = session.lock().unwrap().txn.end_of_message();
        if let Some(writes) = writes {
            session.lock().unwrap().block_ended();
            if let Err(e) = self.commit(writes).await {
                out.push(error_response(e));
            }
        }
        out
    }

    /// One statement in the session; an error aborts the block it runs in.
    pub(crate) async fn statement(&self, session: &session::Shared, stmt: Statement, format: &Format) -> PgWireResult<Response> {
        // statement_timeout bounds reading statements only: a write cut off after its commit
        // was sent would be reported failed yet be in the log (PostgreSQL does not cancel a
        // COMMIT under way either).
        let reads = matches!(stmt, Statement::Query(_) | Statement::Explain { .. } | Statement::Declare { .. } | Statement::Copy { .. });
        let timeout = if reads { session.lock().unwrap().settings.statement_timeout() } else { None };
        let run = self.run(session, stmt, format);
        let result = match timeout {
            Some(t) => tokio::time::timeout(t, run).await.unwrap_or_else(|_| Err(user_error("57014", "canceling statement due to statement timeout", None))),
            None => run.await,
        };
        if result.is_err() {
            session.lock().unwrap().txn.fail();
        }
        result
    }

    async fn run(&self, session: &session::Shared, mut stmt: Statement, format: &Format) -> PgWireResult<Response> {
        let control = {
            let s = session.lock().unwrap();
            let control = session::control(&stmt, &s.settings)?;
            s.txn.admit(control.as_ref()).map_err(session::refusal)?;
            control
        };
        if let Some(c) = control {
            return self.control(session, c).await;
        }
        if let Some(answer) = session::parameter_statement(&mut session.lock().unwrap(), &stmt) {
            return answer;
        }
        crate::colnames::alias_unnamed(&mut stmt);
        match stmt {
            Statement::Insert(insert) => self.insert(session, insert).await,
            Statement::Query(_) => self.select(session, &stmt.to_string(), format).await,
            Statement::Explain { .. } => self.explain(session, &stmt.to_string()).await,
            Statement::Update(u) => self.update(session, u).await,
            Statement::Declare { stmts } => self.declare(session, stmts).await,
            Statement::Fetch { name, direction, .. } => self.fetch(session, &name.value, &direction, format),
            Statement::Close { cursor } => {
                let name = match cursor {
                    CloseCursor::All => None,
                    CloseCursor::Specific { name } => Some(name.value),
                };
                session.lock().unwrap().cursors.close(name.as_deref()).map_err(session::refusal)?;
                Ok(Response::Execution(Tag::new("CLOSE CURSOR")))
            }
            Statement::Copy { source, to, target, options, legacy_options, .. } => self.copy_out(session, source, to, target, &options, &legacy_options).await,
            Statement::Delete(_) => Err(user_error(
                "0A000",
                "cells are not deleted: set their measures to NULL with UPDATE or INSERT (a cell is addressed by every dimension; unnamed measures keep their value)",
                None,
            )),
            other => Err(user_error("0A000", format!("not supported by the cube engine: {}", other.to_string().split_whitespace().take(3).collect::<Vec<_>>().join(" ")), None)),
        }
    }

    async fn control(&self, session: &session::Shared, c: Control) -> PgWireResult<Response> {
        let step = session.lock().unwrap().txn.control(c.clone()).map_err(session::refusal)?;
        let ends = matches!(c, Control::Commit | Control::Rollback);
        if ends {
            session.lock().unwrap().block_ended();
        }
        match step {
            Step::Reply { tag, .. } => Ok(match c {
                Control::Begin { .. } => Response::TransactionStart(Tag::new(tag)),
                Control::Commit | Control::Rollback => Response::TransactionEnd(Tag::new(tag)),
                _ => Response::Execution(Tag::new(tag)),
            }),
            Step::Commit(writes) => {
                self.commit(writes).await?;
                Ok(Response::TransactionEnd(Tag::new("COMMIT")))
            }
        }
    }

    /// Writes a transaction's cells in one change-log transaction, checked once more against
    /// the models as they are now.
    async fn commit(&self, writes: Vec<Pending>) -> PgWireResult<()> {
        if writes.is_empty() {
            return Ok(());
        }
        let mut groups: Vec<(&str, &str, Vec<Map<String, Value>>)> = vec![];
        for w in &writes {
            match groups.last_mut() {
                Some((m, c, cells)) if *m == w.model && *c == w.cube => cells.push(w.cell.clone()),
                _ => groups.push((&w.model, &w.cube, vec![w.cell.clone()])),
            }
        }
        let refs: Vec<(&str, &str, &[Map<String, Value>])> = groups.iter().map(|(m, c, cells)| (*m, *c, cells.as_slice())).collect();
        let checked = self.engine.check_writes(&refs).map_err(check_error)?;
        self.engine.write(checked).await.map_err(|e| user_error("08006", format!("{e:#}"), None))?;
        Ok(())
    }

    /// Cell writes of one statement: kept for the block's commit, or written now.
    pub(crate) async fn write_cells(&self, session: &session::Shared, model: &str, cube: &str, cells: Vec<Map<String, Value>>) -> PgWireResult<usize> {
        // Permission first, as in PostgreSQL: a viewer learns nothing about the cells.
        {
            let user = session.lock().unwrap().user.clone();
            let role = self.engine.roles.read().unwrap().get(&user).copied();
            crate::user_roles::may_change(&user, role, "writing cells").map_err(|e| user_error("42501", e, None))?;
        }
        // Checked now, so that a bad row fails this statement as in PostgreSQL.
        let checked = self.engine.check_cells(model, cube, &cells).map_err(check_error)?;
        let n = checked.entries.len();
        {
            let mut s = session.lock().unwrap();
            if s.read_only() {
                return Err(user_error("25006", "cannot execute INSERT or UPDATE in a read-only transaction", None));
            }
            if s.txn.buffering() {
                let pending = cells.into_iter().map(|cell| Pending { model: model.to_string(), cube: cube.to_string(), cell }).collect();
                s.txn.buffer(pending).map_err(session::refusal)?;
                return Ok(n);
            }
        }
        self.engine.write(checked).await.map_err(|e| user_error("08006", format!("{e:#}"), None))?;
        Ok(n)
    }

    async fn insert(&self, session: &session::Shared, insert: datafusion::sql::sqlparser::ast::Insert) -> PgWireResult<Response> {
        if insert.on.is_some() {
            return Err(user_error("0A000", "INSERT ... ON CONFLICT is not supported: an INSERT into a cube always writes its cells (a cell that exists is overwritten)", None));
        }
        if insert.returning.is_some() {
            return Err(user_error("0A000", "INSERT ... RETURNING is not supported by the cube engine", None));
        }
        let (model, cube) = &cube_name(&insert.table)?;
        let columns: Vec<String> = insert.columns.iter().map(|c| c.to_string().replace('"', "")).collect();
        let rows = match insert.source.as_deref().map(|q| q.body.as_ref()) {
            Some(SetExpr::Values(v)) => &v.rows,
            _ => return Err(user_error("0A000", "INSERT takes VALUES rows (INSERT ... SELECT and DEFAULT VALUES are not supported)", None)),
        };
        if columns.is_empty() {
            return Err(user_error("0A000", "INSERT into a cube names its columns: INSERT INTO model.cube (dimension, ..., measure, ...) VALUES (...)", None));
        }
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
        let n = self.write_cells(session, model, cube, cells).await?;
        Ok(Response::Execution(Tag::new("INSERT").with_oid(0).with_rows(n)))
    }

    async fn select(&self, session: &session::Shared, sql: &str, format: &Format) -> PgWireResult<Response> {
        let (schema, batches) = run_query(&self.engine, Some(session), sql).await?;
        // The planned schema: an empty result still describes its columns.
        let fields = Arc::new(crate::encode::fields(&schema, format));
        let extra_float_digits = session.lock().unwrap().settings.extra_float_digits();
        Ok(Response::Query(QueryResponse::new(fields.clone(), crate::encode::rows(fields, batches, extra_float_digits))))
    }

    /// DECLARE name CURSOR FOR query: the query runs now; FETCH hands out its rows.
    async fn declare(&self, session: &session::Shared, stmts: Vec<datafusion::sql::sqlparser::ast::Declare>) -> PgWireResult<Response> {
        let [d] = stmts.as_slice() else { return Err(user_error("0A000", "DECLARE one cursor at a time", None)) };
        let (Some(query), Some(name)) = (&d.for_query, d.names.first()) else { return Err(user_error("0A000", "DECLARE takes name CURSOR FOR query", None)) };
        if d.scroll == Some(true) {
            return Err(user_error("0A000", "SCROLL cursors are not supported: cursors here are forward only (NO SCROLL)", None));
        }
        let hold = d.hold == Some(true);
        {
            let s = session.lock().unwrap();
            if !hold && s.txn.block == Block::Idle && !s.txn.implicit {
                return Err(user_error("25P01", "DECLARE CURSOR can only be used in transaction blocks", None));
            }
        }
        let mut query = Statement::Query(query.clone());
        crate::colnames::alias_unnamed(&mut query);
        let (schema, batches) = run_query(&self.engine, Some(session), &query.to_string()).await?;
        session.lock().unwrap().cursors.declare(&name.value, crate::cursors::Cursor::new(schema, batches, hold)).map_err(session::refusal)?;
        Ok(Response::Execution(Tag::new("DECLARE CURSOR")))
    }

    fn fetch(&self, session: &session::Shared, name: &str, direction: &FetchDirection, format: &Format) -> PgWireResult<Response> {
        let count = |v: &datafusion::sql::sqlparser::ast::ValueWithSpan| v.to_string().parse::<usize>().map_err(|_| user_error("22023", format!("FETCH count {v} is not a whole number"), None));
        let take = match direction {
            FetchDirection::Next => Take::Rows(1),
            FetchDirection::Count { limit } | FetchDirection::Forward { limit: Some(limit) } => Take::Rows(count(limit)?),
            FetchDirection::Forward { limit: None } => Take::Rows(1),
            FetchDirection::All | FetchDirection::ForwardAll => Take::All,
            other => return Err(user_error("0A000", format!("FETCH {other} is not supported: cursors here are forward only"), None)),
        };
        let mut s = session.lock().unwrap();
        let extra_float_digits = s.settings.extra_float_digits();
        let cursor = s.cursors.get(name).map_err(session::refusal)?;
        let fields = Arc::new(crate::encode::fields(&cursor.schema, format));
        let batches = cursor.fetch(take);
        let mut response = QueryResponse::new(fields.clone(), crate::encode::rows(fields, batches, extra_float_digits));
        response.set_command_tag("FETCH");
        Ok(Response::Query(response))
    }

    /// COPY ... TO STDOUT: a query's or a cube's rows in bulk.
    async fn copy_out(&self, session: &session::Shared, source: CopySource, to: bool, target: CopyTarget, options: &[CopyOption], legacy: &[CopyLegacyOption]) -> PgWireResult<Response> {
        if !to || target != CopyTarget::Stdout {
            return Err(user_error("0A000", "only COPY ... TO STDOUT is supported: cells are written with INSERT or the CSV load (POST /api/cubes/{model}/{cube}/csv), which check them against the model", None));
        }
        let opts = crate::copy_out::options(options, legacy)?;
        let sql = match source {
            CopySource::Query(q) => {
                let mut q = Statement::Query(q);
                crate::colnames::alias_unnamed(&mut q);
                q.to_string()
            }
            CopySource::Table { table_name, columns } => {
                let columns = if columns.is_empty() { "*".to_string() } else { columns.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", ") };
                format!("SELECT {columns} FROM {table_name}")
            }
        };
        let (schema, batches) = run_query(&self.engine, Some(session), &sql).await?;
        let extra_float_digits = session.lock().unwrap().settings.extra_float_digits();
        Ok(Response::CopyOut(crate::copy_out::response(&schema, batches, &opts, extra_float_digits)?))
    }

    /// EXPLAIN: DataFusion's plan, one line a row in PostgreSQL's single `QUERY PLAN` column.
    async fn explain(&self, session: &session::Shared, sql: &str) -> PgWireResult<Response> {
        let (_, batches) = run_query(&self.engine, Some(session), sql).await?;
        let mut lines = vec![];
        for b in batches {
            let b = normalise(b).map_err(|e| user_error("XX000", e.to_string(), None))?;
            let (Some(kind), Some(plan)) = (b.column_by_name("plan_type"), b.column_by_name("plan")) else { continue };
            let (kind, plan) = (kind.as_any().downcast_ref::<StringArray>(), plan.as_any().downcast_ref::<StringArray>());
            let (Some(kind), Some(plan)) = (kind, plan) else { continue };
            for r in 0..b.num_rows() {
                lines.push(vec![format!("{}:", kind.value(r))]);
                lines.extend(plan.value(r).lines().map(|l| vec![format!("  {l}")]));
            }
        }
        session::text_rows(&["QUERY PLAN"], lines)
    }
}

fn error_response(e: PgWireError) -> Response {
    Response::Error(Box::new(ErrorInfo::from(e)))
}

/// A write refused by the model check: unknown cube (42P01) or a bad value (22023).
fn check_error(e: anyhow::Error) -> PgWireError {
    user_error(if e.to_string().contains("does not exist") { "42P01" } else { "22023" }, e.to_string(), None)
}

/// Runs a query on DataFusion over the current image (and the session's own uncommitted
/// writes, with its parameters), within the per-query memory budget: the result's schema and
/// its rows. Execution runs on the query threads (`query_runtime`), so that no query delays
/// the engine's cluster duties, commits or log applying.
pub async fn run_query(engine: &Engine, session: Option<&session::Shared>, sql: &str) -> PgWireResult<(SchemaRef, Vec<RecordBatch>)> {
    // At most `max_concurrent_queries` at once; the others wait their turn.
    let _permit = engine.query_slots.acquire().await.map_err(|e| user_error("XX000", e.to_string(), None))?;
    let ctx = context(engine, session)?;
    // Planning too: DataFusion's analyzer and optimizer take milliseconds of CPU on a
    // dashboard's query, which on the engine's own threads delayed commits and applying.
    let text = sql.to_string();
    let answer = crate::query_runtime::run(async move {
        let df = ctx.sql(&text).await?;
        let schema = result_schema(&ctx, df.logical_plan())?;
        Ok::<_, datafusion::error::DataFusionError>((schema, df.collect().await?))
    })
    .await
    .map_err(|e| user_error("XX000", e, None))?;
    answer.map_err(|e| df_error(e, sql))
}

/// The columns `plan` answers with, as typed once analyzed (`pgtyping` changes result types:
/// the planner's schema would announce `SELECT 1` as bigint while its rows are int4).
pub(crate) fn result_schema(ctx: &SessionContext, plan: &datafusion::logical_expr::LogicalPlan) -> datafusion::error::Result<SchemaRef> {
    let state = ctx.state();
    let analyzed = state.analyzer().execute_and_check(plan.clone(), state.config_options(), |_, _| {})?;
    Ok(Arc::new(analyzed.schema().as_arrow().clone()))
}

/// A DataFusion session over the current image (every cube as `model.cube`, with
/// `pg_catalog` and `information_schema`), within the per-query memory budget; with a SQL
/// session, its uncommitted writes are visible and its parameters apply.
pub(crate) fn context(engine: &Engine, session: Option<&session::Shared>) -> PgWireResult<SessionContext> {
    // A query gets its own budget, and all queries together what the cubes leave of the
    // process's (query_memory).
    let pool = engine.query_memory.pool(engine.view().bytes);
    let (pending, settings) = match session {
        Some(s) => {
            let s = s.lock().unwrap();
            (s.txn.pending().to_vec(), Some((s.settings.clone(), s.user.clone())))
        }
        None => (vec![], None),
    };
    let (tables, private) = engine.tables(&pending).map_err(|e| user_error("XX000", e.to_string(), None))?;
    engine.sessions.set_users(engine.users.read().unwrap().keys().cloned().collect());
    let ctx = engine.sessions.session(tables, private, pool).map_err(|e| user_error("XX000", e.to_string(), None))?;
    if let Some((settings, user)) = settings {
        crate::catalog::apply_settings(&ctx, &settings, &user).map_err(|e| user_error("XX000", e.to_string(), None))?;
    }
    Ok(ctx)
}

pub(crate) fn df_error(e: datafusion::error::DataFusionError, sql: &str) -> PgWireError {
    let msg = e.to_string();
    // DataFusion's words name its own setting (`datafusion.runtime.max_temp_directory_size`);
    // the operator's is `[engine] spill_disk_budget` (spill).
    const SPILL_FULL: &str = "spilling process has exceeded the allowable limit of ";
    if let Some(at) = msg.find(SPILL_FULL) {
        let limit = msg[at + SPILL_FULL.len()..].split(". ").next().unwrap_or_default();
        return user_error("53100", format!("the query was stopped: its spill files would pass the engine's spill_disk_budget of {limit}"), None);
    }
    let code = if msg.contains("not found") || msg.contains("doesn't exist") || msg.contains("No field named") {
        "42P01"
    } else if msg.contains("Resources exhausted") {
        "53200"
    } else if msg.contains("SQL error") || msg.contains("ParserError") {
        "42601"
    } else {
        "XX000"
    };
    // DataFusion wraps the pool's refusal in its operators' context ("Decreasing allocation
    // after spilling should succeed caused by ..."): the refusal alone says what happened.
    let msg = match msg.find("Resources exhausted") {
        Some(at) if code == "53200" => format!("the query was stopped for memory: {}", &msg[at..]),
        _ => msg,
    };
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

/// Columns in the types a cell write takes: int8, float8, text, bool; anything else as text.
pub(crate) fn normalise(b: RecordBatch) -> Result<RecordBatch, datafusion::arrow::error::ArrowError> {
    let schema = b.schema();
    let cols = schema.fields().iter().zip(b.columns()).map(|(f, c)| {
        let to = wire_type(f.data_type());
        if &to == f.data_type() { Ok(c.clone()) } else { cast(c, &to) }
    });
    let fields: Vec<Field> = schema.fields().iter().map(|f| Field::new(f.name(), wire_type(f.data_type()), true)).collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols.collect::<Result<_, _>>()?)
}

/// The Arrow type a cell write takes a column as: int8, float8, text, bool.
fn wire_type(t: &DataType) -> DataType {
    match t {
        DataType::Int64 | DataType::Float64 | DataType::Utf8 | DataType::Boolean => t.clone(),
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => DataType::Int64,
        DataType::Float16 | DataType::Float32 | DataType::Decimal32(..) | DataType::Decimal64(..) | DataType::Decimal128(..) | DataType::Decimal256(..) => DataType::Float64,
        _ => DataType::Utf8,
    }
}

impl Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("me", &self.me).finish()
    }
}

pub struct Handlers {
    pub sql: Arc<SqlHandler>,
    pub startup: Arc<crate::auth::PasswordLogin>,
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
    fn a_refusal_for_memory_is_53200_with_the_pools_words() {
        use datafusion::error::DataFusionError;
        let wrapped = DataFusionError::Context(
            "Decreasing allocation after spilling should succeed".into(),
            Box::new(DataFusionError::ResourcesExhausted("the engine holds 257 MiB of memory and may hold 256 MiB".into())),
        );
        let PgWireError::UserError(info) = df_error(wrapped, "SELECT 1") else { panic!("not a user error") };
        assert_eq!(info.code, "53200");
        assert_eq!(info.message, "the query was stopped for memory: Resources exhausted: the engine holds 257 MiB of memory and may hold 256 MiB");
    }

    #[test]
    fn literals_and_positions() {
        assert_eq!(literal("'it''s'"), Ok(Value::String("it's".into())));
        assert_eq!(literal("42"), Ok(Value::from(42)));
        assert_eq!(literal("-1.5"), Ok(serde_json::json!(-1.5)));
        assert_eq!(literal("NULL"), Ok(Value::Null));
        assert!(literal("now()").is_err());
        assert_eq!(position_of("Expected: an expression, found: FROM at Line: 1, Column: 8", "SELECT FROM t"), Some(8));
        assert_eq!(position_of("x at Line: 2, Column: 3", "SELECT\n1 +"), Some(10));
    }
}
