//! The extended query protocol (Parse, Bind, Describe, Execute): the prepared statements of
//! tokio-postgres, psycopg, JDBC and ODBC drivers. Parameters are bound into the parsed
//! statement's `$n` placeholders as literals (in the syntax tree, never by pasting text), then
//! the statement runs exactly as over the simple protocol; results come in the formats the
//! client asked for (text or binary per column).

use std::ops::ControlFlow;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::sql::sqlparser::ast::{Expr, Statement, Value as SqlValue, visit_expressions_mut};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, send_describe_response};
use pgwire::api::results::{DescribePortalResponse, DescribeStatementResponse, FieldInfo, Response};
use pgwire::api::stmt::{NoopQueryParser, StoredStatement};
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, Type};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::extendedquery::{Describe, Sync as SyncMessage};
use pgwire::messages::response::ReadyForQuery;

use crate::catalog::Sessions;
use crate::encode::pg_type;
use crate::sql::{SqlHandler, context, df_error, parse, user_error};

fn parse_one(sessions: &Sessions, sql: &str) -> PgWireResult<Statement> {
    let mut statements = parse(sessions, sql)?;
    match statements.len() {
        1 => Ok(statements.remove(0)),
        n => Err(user_error("42601", format!("a prepared statement holds exactly one SQL statement, not {n}"), None)),
    }
}

/// Parameter `i` of the portal as an SQL literal, decoded by its declared type.
fn literal(portal: &Portal<String>, i: usize, types: &[Type]) -> PgWireResult<SqlValue> {
    let ty = types.get(i).cloned().unwrap_or(Type::UNKNOWN);
    let number = |v: Option<String>| v.map(|n| SqlValue::Number(n, false)).unwrap_or(SqlValue::Null);
    Ok(match ty {
        Type::INT2 => number(portal.parameter::<i16>(i, &ty)?.map(|v| v.to_string())),
        Type::INT4 => number(portal.parameter::<i32>(i, &ty)?.map(|v| v.to_string())),
        Type::INT8 => number(portal.parameter::<i64>(i, &ty)?.map(|v| v.to_string())),
        Type::FLOAT4 => number(portal.parameter::<f32>(i, &ty)?.map(|v| v.to_string())),
        Type::FLOAT8 => number(portal.parameter::<f64>(i, &ty)?.map(|v| v.to_string())),
        Type::BOOL => portal.parameter::<bool>(i, &ty)?.map(SqlValue::Boolean).unwrap_or(SqlValue::Null),
        // Text and anything untyped: the client sent text; it stays a string literal.
        _ => {
            let text = match portal.parameters.get(i).ok_or(PgWireError::ParameterIndexOutOfBound(i))? {
                Some(bytes) => Some(String::from_utf8(bytes.to_vec()).map_err(|_| user_error("22021", format!("parameter ${} is not UTF-8 text", i + 1), None))?),
                None => None,
            };
            text.map(SqlValue::SingleQuotedString).unwrap_or(SqlValue::Null)
        }
    })
}

/// Replaces `$n` placeholders by the bound values.
fn bind(stmt: &mut Statement, values: &[SqlValue]) -> PgWireResult<()> {
    let mut bad = None;
    let _ = visit_expressions_mut(stmt, |e| {
        if let Expr::Value(v) = e
            && let SqlValue::Placeholder(p) = &v.value
        {
            match p.strip_prefix('$').and_then(|n| n.parse::<usize>().ok()).and_then(|n| values.get(n.wrapping_sub(1))) {
                Some(val) => v.value = val.clone(),
                None => bad = Some(p.clone()),
            }
        }
        ControlFlow::<()>::Continue(())
    });
    match bad {
        Some(p) => Err(user_error("08P01", format!("placeholder {p} has no bound value ({} given)", values.len()), None)),
        None => Ok(()),
    }
}

impl SqlHandler {
    /// Parameter types and result columns of a statement, without running it.
    async fn describe(&self, session: &crate::session::Shared, sql: &str, declared: &[Option<Type>], format: &Format) -> PgWireResult<(Vec<Type>, Vec<FieldInfo>)> {
        let mut stmt = parse_one(&self.engine.sessions, sql)?;
        if let Statement::ShowVariable { variable } = &stmt {
            let name = if variable.len() == 1 && variable[0].value.eq_ignore_ascii_case("all") { None } else { Some(variable.iter().map(|i| i.value.clone()).collect::<Vec<_>>().join(" ")) };
            let columns: Vec<String> = match name {
                None => vec!["name".into(), "setting".into(), "description".into()],
                Some(n) => vec![crate::session::show_column(&n)],
            };
            return Ok((vec![], columns.into_iter().enumerate().map(|(i, c)| FieldInfo::new(c, None, None, Type::TEXT, format.format_for(i))).collect()));
        }
        if let Statement::Fetch { name, .. } = &stmt {
            let mut s = session.lock().unwrap();
            let cursor = s.cursors.get(&name.value).map_err(crate::session::refusal)?;
            return Ok((vec![], crate::encode::fields(&cursor.schema, format)));
        }
        if matches!(stmt, Statement::Declare { .. } | Statement::Close { .. } | Statement::Copy { .. }) {
            return Ok((declared.iter().map(|t| t.clone().unwrap_or(Type::TEXT)).collect(), vec![]));
        }
        if matches!(stmt, Statement::Explain { .. }) {
            return Ok((vec![], vec![FieldInfo::new("QUERY PLAN".into(), None, None, Type::TEXT, format.format_for(0))]));
        }
        crate::colnames::alias_unnamed(&mut stmt);
        if let Statement::Insert(insert) = &stmt {
            return Ok((self.insert_parameter_types(insert, declared), vec![]));
        }
        if !matches!(stmt, Statement::Query(_)) {
            return Ok((declared.iter().map(|t| t.clone().unwrap_or(Type::TEXT)).collect(), vec![]));
        }
        let ctx = context(&self.engine, Some(session))?;
        let sql = &stmt.to_string(); // as rewritten for DataFusion
        let plan = ctx.state().create_logical_plan(sql).await.map_err(|e| df_error(e, sql))?;
        let inferred = plan.get_parameter_types().map_err(|e| df_error(e, sql))?;
        let count = inferred.len().max(declared.len());
        let params = (0..count)
            .map(|i| match declared.get(i).cloned().flatten() {
                Some(t) => t,
                None => inferred.get(&format!("${}", i + 1)).cloned().flatten().map(|t| pg_type(&t)).unwrap_or(Type::TEXT),
            })
            .collect();
        // Analyzed when it can be (an untyped `$n` may stop the analysis): the result's types.
        let schema = crate::sql::result_schema(&ctx, &plan).unwrap_or_else(|_| Arc::new(plan.schema().as_arrow().clone()));
        let fields = schema.fields().iter().enumerate().map(|(i, f)| FieldInfo::new(crate::colnames::output_name(f.name()).to_string(), None, None, pg_type(f.data_type()), format.format_for(i))).collect();
        Ok((params, fields))
    }
}

impl SqlHandler {
    /// An INSERT's `$n` take the type of the cube column they fill: text for dimensions,
    /// int8 or float8 for measures.
    fn insert_parameter_types(&self, insert: &datafusion::sql::sqlparser::ast::Insert, declared: &[Option<Type>]) -> Vec<Type> {
        let table = insert.table.to_string().replace('"', "");
        let (model, cube) = table.split_once('.').unwrap_or((&table, ""));
        let columns: Vec<String> = insert.columns.iter().map(|c| c.to_string().replace('"', "")).collect();
        let view = self.engine.view();
        let store = view.cube(model, cube);
        let column_type = |c: &str| match store.and_then(|s| s.cube.measures.iter().find(|m| m.name.eq_ignore_ascii_case(c))) {
            Some(m) if m.kind == crate::model::MeasureType::Integer => Type::INT8,
            Some(_) => Type::FLOAT8,
            None => Type::TEXT,
        };
        let mut types: Vec<Type> = declared.iter().map(|t| t.clone().unwrap_or(Type::UNKNOWN)).collect();
        if let Some(datafusion::sql::sqlparser::ast::SetExpr::Values(v)) = insert.source.as_deref().map(|q| q.body.as_ref()) {
            for row in &v.rows {
                for (c, e) in columns.iter().zip(&row.content) {
                    if let Expr::Value(val) = e
                        && let SqlValue::Placeholder(p) = &val.value
                        && let Some(n) = p.strip_prefix('$').and_then(|n| n.parse::<usize>().ok()).filter(|n| *n >= 1 && *n <= 65535)
                    {
                        if types.len() < n {
                            types.resize(n, Type::UNKNOWN);
                        }
                        if types[n - 1] == Type::UNKNOWN {
                            types[n - 1] = column_type(c);
                        }
                    }
                }
            }
        }
        types.into_iter().map(|t| if t == Type::UNKNOWN { Type::TEXT } else { t }).collect()
    }
}

#[async_trait]
impl ExtendedQueryHandler for SqlHandler {
    type Statement = String;
    type QueryParser = NoopQueryParser;

    fn query_parser(&self) -> Arc<NoopQueryParser> {
        Arc::new(NoopQueryParser::new())
    }

    /// Sync ends the extended protocol's cycle: ReadyForQuery reports the session's status
    /// (pgwire's own bookkeeping cannot express ROLLBACK TO leaving an aborted block).
    async fn on_sync<C>(&self, client: &mut C, _message: SyncMessage) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + futures::Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = String>,
        C::Error: std::fmt::Debug,
        PgWireError: From<<C as futures::Sink<PgWireBackendMessage>>::Error>,
    {
        use futures::SinkExt;
        client.portal_store().rm_portal("");
        let status = crate::session::of(client).lock().unwrap().status();
        client.set_transaction_status(status);
        client.send(PgWireBackendMessage::ReadyForQuery(ReadyForQuery::new(status))).await?;
        client.flush().await?;
        Ok(())
    }

    /// A cursor DECLAREd in the session is also a portal of that name, as in PostgreSQL:
    /// psycopg 3 describes its named cursor's portal to learn the columns before FETCH.
    async fn on_describe<C>(&self, client: &mut C, message: Describe) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + futures::Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = String>,
        C::Error: std::fmt::Debug,
        PgWireError: From<<C as futures::Sink<PgWireBackendMessage>>::Error>,
    {
        if message.target_type == b'P'
            && let Some(name) = message.name.as_deref().filter(|n| !n.is_empty())
            && client.portal_store().get_portal(name).is_none()
        {
            let fields = {
                let session = crate::session::of(client);
                let mut s = session.lock().unwrap();
                s.cursors.get(name).ok().map(|c| crate::encode::fields(&c.schema, &Format::UnifiedText))
            };
            if let Some(fields) = fields {
                return send_describe_response(client, &DescribePortalResponse::new(fields)).await;
            }
        }
        self._on_describe(client, message).await
    }

    async fn do_query<C>(&self, client: &mut C, portal: &Portal<String>, _max_rows: usize) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + futures::Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = String>,
        C::Error: std::fmt::Debug,
        PgWireError: From<<C as futures::Sink<PgWireBackendMessage>>::Error>,
    {
        let session = crate::session::of(client);
        let prepared = async {
            self.check_serving()?;
            let mut stmt = parse_one(&self.engine.sessions, &portal.statement.statement)?;
            // The types the client was told in the statement's description (it encoded by them).
            let types = if portal.parameter_len() == 0 {
                vec![]
            } else {
                self.describe(&session, &portal.statement.statement, &portal.statement.parameter_types, &Format::UnifiedText).await?.0
            };
            let values = (0..portal.parameter_len()).map(|i| literal(portal, i, &types)).collect::<PgWireResult<Vec<_>>>()?;
            bind(&mut stmt, &values)?;
            Ok(stmt)
        }
        .await;
        match prepared {
            Ok(stmt) => self.statement(&session, stmt, &portal.result_column_format).await,
            Err(e) => {
                session.lock().unwrap().txn.fail();
                Err(e)
            }
        }
    }

    async fn do_describe_statement<C>(&self, client: &mut C, target: &StoredStatement<String>) -> PgWireResult<DescribeStatementResponse>
    where
        C: ClientInfo + ClientPortalStore + futures::Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = String>,
        C::Error: std::fmt::Debug,
        PgWireError: From<<C as futures::Sink<PgWireBackendMessage>>::Error>,
    {
        let session = crate::session::of(client);
        let (params, fields) = self.describe(&session, &target.statement, &target.parameter_types, &Format::UnifiedBinary).await?;
        Ok(DescribeStatementResponse::new(params, fields))
    }

    async fn do_describe_portal<C>(&self, client: &mut C, target: &Portal<String>) -> PgWireResult<DescribePortalResponse>
    where
        C: ClientInfo + ClientPortalStore + futures::Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = String>,
        C::Error: std::fmt::Debug,
        PgWireError: From<<C as futures::Sink<PgWireBackendMessage>>::Error>,
    {
        let session = crate::session::of(client);
        let (_, fields) = self.describe(&session, &target.statement.statement, &target.statement.parameter_types, &target.result_column_format).await?;
        Ok(DescribePortalResponse::new(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_bound_in_the_syntax_tree() {
        let sessions = Sessions::new().unwrap();
        let parse_one = |sql| parse_one(&sessions, sql);
        let mut s = parse_one("SELECT region, sum(amount) FROM sales.revenue WHERE region = $1 AND units > $2 GROUP BY region").unwrap();
        bind(&mut s, &[SqlValue::SingleQuotedString("it's '$2'".into()), SqlValue::Number("3".into(), false)]).unwrap();
        assert_eq!(s.to_string(), "SELECT region, sum(amount) FROM sales.revenue WHERE region = 'it''s ''$2''' AND units > 3 GROUP BY region");
        let mut s = parse_one("SELECT $3").unwrap();
        assert!(bind(&mut s, &[]).is_err());
        assert!(parse_one("SELECT 1; SELECT 2").is_err());
    }
}
