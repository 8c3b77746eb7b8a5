//! One SQL connection's state (its transaction and its run-time parameters), kept in the
//! connection's pgwire session extensions, and the statements that only touch it: SET, SHOW,
//! RESET, DISCARD, DEALLOCATE and transaction control's bookkeeping.

use std::sync::{Arc, Mutex};

use datafusion::sql::sqlparser::ast::{Expr, Reset, Set, Statement, TransactionAccessMode, TransactionIsolationLevel, TransactionMode, Value as SqlValue};
use futures::stream;
use pgwire::api::ClientInfo;
use pgwire::api::results::{DataRowEncoder, FieldFormat, FieldInfo, QueryResponse, Response, Tag};
use pgwire::api::Type;
use pgwire::error::PgWireResult;
use pgwire::messages::response::TransactionStatus;

use crate::settings::{self, Settings};
use crate::pgerror::user_error;
use crate::txn::{Block, Control, Txn};

#[derive(Debug, Default)]
pub struct Session {
    pub user: String,
    pub txn: Txn,
    pub settings: Settings,
    pub cursors: crate::cursors::Cursors,
    /// The parameters as they were before the block's first `SET LOCAL`: restored at its end.
    before_local: Option<Settings>,
}

pub type Shared = Arc<Mutex<Session>>;

/// The session of a connection (created at its first statement).
pub fn of<C: ClientInfo + ?Sized>(client: &C) -> Shared {
    let user = client.metadata().get("user").cloned().unwrap_or_default();
    let slot: Arc<Mutex<Shared>> = client.session_extensions().get_or_insert_with(|| Mutex::new(Arc::new(Mutex::new(Session { user, ..Default::default() }))));
    slot.lock().unwrap().clone()
}

impl Session {
    /// The status ReadyForQuery reports.
    pub fn status(&self) -> TransactionStatus {
        match self.txn.block {
            Block::Idle => TransactionStatus::Idle,
            Block::Open => TransactionStatus::Transaction,
            Block::Failed => TransactionStatus::Error,
        }
    }

    /// Called when a block ends (COMMIT, ROLLBACK, an implicit transaction's end): `SET LOCAL`
    /// values are undone.
    pub fn block_ended(&mut self) {
        self.cursors.block_ended();
        if let Some(s) = self.before_local.take() {
            self.settings = s;
        }
    }

    /// Writes are refused in a READ ONLY block or with `default_transaction_read_only`.
    pub fn read_only(&self) -> bool {
        self.txn.read_only || (self.txn.block == Block::Idle && self.settings.read_only())
    }
}

/// The transaction control statement `stmt` is, if it is one.
pub fn control(stmt: &Statement, settings: &Settings) -> PgWireResult<Option<Control>> {
    Ok(Some(match stmt {
        Statement::StartTransaction { modes, .. } => Control::Begin { read_only: modes_read_only(modes)?.unwrap_or(settings.read_only()) },
        Statement::Commit { chain: false, .. } => Control::Commit,
        Statement::Rollback { chain: false, savepoint: None } => Control::Rollback,
        Statement::Rollback { chain: false, savepoint: Some(name) } => Control::RollbackTo(name.value.clone()),
        Statement::Savepoint { name } => Control::Savepoint(name.value.clone()),
        Statement::ReleaseSavepoint { name } => Control::Release(name.value.clone()),
        Statement::Commit { chain: true, .. } | Statement::Rollback { chain: true, .. } => return Err(user_error("0A000", "AND CHAIN is not supported", None)),
        _ => return Ok(None),
    }))
}

/// READ ONLY / READ WRITE of a mode list (None: not said); isolation levels checked.
fn modes_read_only(modes: &[TransactionMode]) -> PgWireResult<Option<bool>> {
    let mut read_only = None;
    for m in modes {
        match m {
            TransactionMode::AccessMode(TransactionAccessMode::ReadOnly) => read_only = Some(true),
            TransactionMode::AccessMode(TransactionAccessMode::ReadWrite) => read_only = Some(false),
            TransactionMode::IsolationLevel(level) => {
                let name = match level {
                    TransactionIsolationLevel::ReadUncommitted => "read uncommitted",
                    TransactionIsolationLevel::ReadCommitted => "read committed",
                    TransactionIsolationLevel::RepeatableRead => "repeatable read",
                    TransactionIsolationLevel::Serializable | TransactionIsolationLevel::Snapshot => "serializable",
                };
                settings::isolation(name).map_err(refusal)?;
            }
        }
    }
    Ok(read_only)
}

pub fn refusal((code, message): (&'static str, String)) -> pgwire::error::PgWireError {
    user_error(code, message, None)
}

/// SET, SHOW, RESET, DISCARD, DEALLOCATE: the answer, or None if `stmt` is none of these.
pub fn parameter_statement(session: &mut Session, stmt: &Statement) -> Option<PgWireResult<Response>> {
    let answer = match stmt {
        Statement::Set(set) => set_statement(session, set).map(|tag| Response::Execution(Tag::new(tag))),
        Statement::ShowVariable { variable } => {
            let name = variable.iter().map(|i| i.value.clone()).collect::<Vec<_>>().join(" ");
            show(session, &name)
        }
        Statement::Reset(r) => {
            match &r.reset {
                Reset::ALL => session.settings.reset_all(),
                Reset::ConfigurationParameter(name) => {
                    if let Err(e) = session.settings.set(&unquoted(&name.to_string()), None) {
                        return Some(Err(refusal(e)));
                    }
                }
            }
            Ok(Response::Execution(Tag::new("RESET")))
        }
        Statement::Discard { object_type } => {
            let what = object_type.to_string().to_uppercase();
            if what == "ALL" {
                if session.txn.block != Block::Idle {
                    return Some(Err(user_error("25001", "DISCARD ALL cannot run inside a transaction block", None)));
                }
                session.settings.reset_all();
            }
            Ok(Response::Execution(Tag::new(&format!("DISCARD {what}"))))
        }
        Statement::Deallocate { name, .. } => Ok(Response::Execution(Tag::new(if name.value.eq_ignore_ascii_case("all") { "DEALLOCATE ALL" } else { "DEALLOCATE" }))),
        _ => return None,
    };
    Some(answer)
}

fn unquoted(s: &str) -> String {
    s.trim().trim_matches('"').to_string()
}

/// A SET value as PostgreSQL would show it: literals without quotes, lists joined by ", ".
fn set_value(values: &[Expr]) -> Option<String> {
    let one = |e: &Expr| match e {
        Expr::Value(v) => match &v.value {
            SqlValue::SingleQuotedString(s) | SqlValue::DoubleQuotedString(s) => s.clone(),
            SqlValue::Number(n, _) => n.to_string(),
            SqlValue::Boolean(b) => if *b { "on".into() } else { "off".into() },
            other => other.to_string(),
        },
        Expr::Identifier(i) => i.value.clone(),
        other => other.to_string(),
    };
    let parts: Vec<String> = values.iter().map(one).collect();
    (!(parts.len() == 1 && parts[0].eq_ignore_ascii_case("default"))).then(|| parts.join(", "))
}

fn set_statement(session: &mut Session, set: &Set) -> PgWireResult<&'static str> {
    let assign = |session: &mut Session, local: bool, name: &str, value: Option<String>| -> PgWireResult<()> {
        if local {
            if session.txn.block == Block::Idle && !session.txn.implicit {
                // PostgreSQL: a warning, and no effect outside a transaction block.
                return Ok(());
            }
            if session.before_local.is_none() {
                session.before_local = Some(session.settings.clone());
            }
        }
        session.settings.set(name, value.as_deref()).map_err(refusal)
    };
    match set {
        Set::SingleAssignment { scope, variable, values, .. } => {
            let local = scope.as_ref().is_some_and(|s| s.to_string().eq_ignore_ascii_case("local"));
            assign(session, local, &unquoted(&variable.to_string()), set_value(values))?;
        }
        Set::SetTimeZone { local, value } => assign(session, *local, "TimeZone", set_value(std::slice::from_ref(value)))?,
        Set::SetNames { charset_name, .. } => assign(session, false, "client_encoding", Some(charset_name.value.clone()))?,
        Set::SetTransaction { modes, session: for_session, .. } => {
            let read_only = modes_read_only(modes)?;
            if *for_session {
                if let Some(r) = read_only {
                    session.settings.set("default_transaction_read_only", Some(if r { "on" } else { "off" })).map_err(refusal)?;
                }
            } else if session.txn.block == Block::Open {
                if let Some(r) = read_only {
                    session.txn.read_only = r;
                }
            }
        }
        other => return Err(user_error("0A000", format!("not supported by the cube engine: {other}"), None)),
    }
    Ok("SET")
}

/// `SHOW name` or `SHOW ALL`, answered as PostgreSQL does (text columns).
fn show(session: &Session, name: &str) -> PgWireResult<Response> {
    if name.eq_ignore_ascii_case("all") {
        let rows: Vec<Vec<String>> = session.settings.all(&session.user).into_iter().map(|(n, v, d)| vec![n, v, d]).collect();
        return text_rows(&["name", "setting", "description"], rows);
    }
    let value = session.settings.get(name, &session.user).map_err(refusal)?;
    text_rows(&[&show_column(name)], vec![vec![value]])
}

/// The column name PostgreSQL gives `SHOW name`.
pub fn show_column(name: &str) -> String {
    match name.to_lowercase().as_str() {
        "time zone" | "timezone" => "TimeZone".to_string(),
        "datestyle" => "DateStyle".to_string(),
        "intervalstyle" => "IntervalStyle".to_string(),
        "transaction isolation level" => "transaction_isolation".to_string(),
        "session authorization" => "session_authorization".to_string(),
        other => other.to_string(),
    }
}

/// A result of text columns.
pub fn text_rows(columns: &[&str], rows: Vec<Vec<String>>) -> PgWireResult<Response> {
    let fields: Arc<Vec<FieldInfo>> = Arc::new(columns.iter().map(|c| FieldInfo::new(c.to_string(), None, None, Type::TEXT, FieldFormat::Text)).collect());
    let mut out = vec![];
    for row in rows {
        let mut enc = DataRowEncoder::new(fields.clone());
        for v in row {
            enc.encode_field(&Some(v))?;
        }
        out.push(Ok(enc.take_row()));
    }
    Ok(Response::Query(QueryResponse::new(fields, stream::iter(out))))
}
