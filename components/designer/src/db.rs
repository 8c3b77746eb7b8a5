//! The designer's state in the cluster database (schema `triad_designer`), reached through the
//! host's internal HAProxy, so it follows the PostgreSQL primary across failovers.
//!
//! Every change is one transaction that also writes its audit entry; publishing a model,
//! loading data and changing a SQL user append to the engines' change log inside that same
//! transaction, so either everything (state, audit, what the engines will apply) commits or
//! nothing does — a request cut off by a takeover or a database failover is never half-applied.

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::{Value, json};
use tokio_postgres::{Client, Config, GenericClient, Transaction};
use triad_config::{Cluster, UserRole};
use triad_changelog::model::{Model, ModelError};
use triad_changelog::{Change, log};

use crate::roles::{parse_role, role_name};

/// Key of the advisory lock that serialises the designer's schema migrations (any fixed
/// number unique to this use: "triad-designer" in ASCII, truncated to 8 bytes).
const MIGRATION_LOCK: i64 = 0x7472_6961_642d_6465;

const DDL: &str = "
CREATE SCHEMA IF NOT EXISTS triad_designer;
CREATE TABLE IF NOT EXISTS triad_designer.users (
    name          text PRIMARY KEY,
    role          text NOT NULL CHECK (role IN ('admin', 'modeler', 'viewer')),
    profile       text,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS triad_designer.sessions (
    token      text PRIMARY KEY,
    username   text NOT NULL REFERENCES triad_designer.users (name) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS triad_designer.models (
    name              text PRIMARY KEY,
    created_by        text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    published_version int
);
CREATE TABLE IF NOT EXISTS triad_designer.model_versions (
    model    text NOT NULL REFERENCES triad_designer.models (name),
    version  int NOT NULL,
    body     jsonb NOT NULL,
    saved_by text NOT NULL,
    saved_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model, version)
);
CREATE TABLE IF NOT EXISTS triad_designer.audit (
    id     bigserial PRIMARY KEY,
    at     timestamptz NOT NULL DEFAULT now(),
    who    text NOT NULL,
    action text NOT NULL,
    target text NOT NULL,
    detail jsonb NOT NULL DEFAULT '{}'
);";

/// A request refused for a reason the user can fix (shown to them as is).
#[derive(Debug)]
pub enum Refusal {
    Conflict(String),
    NotFound(String),
    Invalid(Vec<ModelError>),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Conflict(m) | Refusal::NotFound(m) => f.write_str(m),
            Refusal::Invalid(errs) => write!(f, "the model is not valid: {}", errs.iter().map(|e| format!("{}: {}", e.path, e.message)).collect::<Vec<_>>().join("; ")),
        }
    }
}

impl std::error::Error for Refusal {}

pub async fn connect(config: &Config) -> Result<Client> {
    triad_changelog::db::connect(config).await.context("the cluster database is unreachable")
}

/// Connections to the cluster database for the web handlers, kept open between requests. A
/// connection is checked with a round trip before each use (`Verified`): after a failover the
/// pooled ones point at the old primary, and are replaced rather than handed out broken.
pub fn pool(config: Config) -> deadpool_postgres::Pool {
    let manager = deadpool_postgres::Manager::from_config(config, tokio_postgres::NoTls, deadpool_postgres::ManagerConfig { recycling_method: deadpool_postgres::RecyclingMethod::Verified });
    deadpool_postgres::Pool::builder(manager).max_size(16).runtime(deadpool_postgres::Runtime::Tokio1).build().expect("a pool with a runtime and no hooks builds")
}

/// Creates the schema (idempotent) and the cluster file's bootstrap users.
pub async fn migrate(c: &mut Client, cluster: &Cluster) -> Result<()> {
    log::migrate(c, "").await?;
    let tx = c.transaction().await?;
    // One migrator at a time: the designer's own lock (a transaction-level advisory lock on
    // a key of its own), not the engines' change-log lock that every write waits on.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
    tx.batch_execute(DDL).await?;
    for u in &cluster.file().users {
        tx.execute(
            "INSERT INTO triad_designer.users (name, role, profile, password_hash) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING",
            &[&u.name, &role_name(u.role), &u.profile, &u.password_hash],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn audit(tx: &Transaction<'_>, who: &str, action: &str, target: &str, detail: Value) -> Result<()> {
    tx.execute("INSERT INTO triad_designer.audit (who, action, target, detail) VALUES ($1, $2, $3, $4::text::jsonb)", &[&who, &action, &target, &detail.to_string()]).await?;
    Ok(())
}

// --- users and sessions ---

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub name: String,
    #[serde(serialize_with = "ser_role")]
    pub role: UserRole,
    pub profile: Option<String>,
    #[serde(skip)]
    pub password_hash: String,
}

fn ser_role<S: serde::Serializer>(r: &UserRole, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(role_name(*r))
}

fn user_of(r: &tokio_postgres::Row) -> User {
    User { name: r.get(0), role: parse_role(r.get(1)).unwrap_or(triad_config::UserRole::Viewer), profile: r.get(2), password_hash: r.get(3) }
}

pub async fn user(c: &impl GenericClient, name: &str) -> Result<Option<User>> {
    Ok(c.query_opt("SELECT name, role, profile, password_hash FROM triad_designer.users WHERE name = $1", &[&name]).await?.as_ref().map(user_of))
}

pub async fn users(c: &Client) -> Result<Vec<User>> {
    Ok(c.query("SELECT name, role, profile, password_hash FROM triad_designer.users ORDER BY name", &[]).await?.iter().map(user_of).collect())
}

/// Creates a user and tells the engines (their SQL logins), in one transaction.
pub async fn create_user(c: &mut Client, by: &str, host: &str, u: &User) -> Result<()> {
    let tx = c.transaction().await?;
    if user(&tx, &u.name).await?.is_some() {
        return Err(Refusal::Conflict(format!("a user named {:?} already exists", u.name)).into());
    }
    tx.execute(
        "INSERT INTO triad_designer.users (name, role, profile, password_hash) VALUES ($1, $2, $3, $4)",
        &[&u.name, &role_name(u.role), &u.profile, &u.password_hash],
    )
    .await?;
    log::append_in(&tx, &[Change::UserPassword { name: u.name.clone(), password_hash: u.password_hash.clone(), role: Some(u.role) }], host).await?;
    audit(&tx, by, "create user", &u.name, json!({"role": role_name(u.role), "profile": u.profile})).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn delete_user(c: &mut Client, by: &str, host: &str, name: &str) -> Result<()> {
    if by == name {
        return Err(Refusal::Conflict("you cannot delete the user you are logged in as".into()).into());
    }
    let tx = c.transaction().await?;
    if tx.execute("DELETE FROM triad_designer.users WHERE name = $1", &[&name]).await? == 0 {
        return Err(Refusal::NotFound(format!("there is no user {name:?}")).into());
    }
    log::append_in(&tx, &[Change::UserDeleted { name: name.to_string() }], host).await?;
    audit(&tx, by, "delete user", name, json!({})).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn create_session(c: &Client, user: &str, token: &str) -> Result<()> {
    c.execute("DELETE FROM triad_designer.sessions WHERE expires_at < now()", &[]).await?;
    c.execute("INSERT INTO triad_designer.sessions (token, username, expires_at) VALUES ($1, $2, now() + interval '12 hours')", &[&token, &user]).await?;
    Ok(())
}

pub async fn session_user(c: &Client, token: &str) -> Result<Option<User>> {
    let row = c
        .query_opt(
            "SELECT u.name, u.role, u.profile, u.password_hash FROM triad_designer.sessions s JOIN triad_designer.users u ON u.name = s.username WHERE s.token = $1 AND s.expires_at > now()",
            &[&token],
        )
        .await?;
    Ok(row.as_ref().map(user_of))
}

pub async fn delete_session(c: &Client, token: &str) -> Result<()> {
    c.execute("DELETE FROM triad_designer.sessions WHERE token = $1", &[&token]).await?;
    Ok(())
}

// --- models ---

#[derive(Debug, Serialize)]
pub struct ModelSummary {
    pub name: String,
    pub latest_version: i32,
    pub published_version: Option<i32>,
}

#[derive(Debug, Serialize)]
pub struct Version {
    pub version: i32,
    pub saved_by: String,
    pub saved_at: String,
    pub body: Value,
}

pub async fn models(c: &Client) -> Result<Vec<ModelSummary>> {
    let rows = c
        .query("SELECT m.name, max(v.version), m.published_version FROM triad_designer.models m JOIN triad_designer.model_versions v ON v.model = m.name GROUP BY m.name, m.published_version ORDER BY m.name", &[])
        .await?;
    Ok(rows.iter().map(|r| ModelSummary { name: r.get(0), latest_version: r.get(1), published_version: r.get(2) }).collect())
}

pub async fn summary(c: &impl GenericClient, name: &str) -> Result<ModelSummary> {
    let r = c
        .query_opt("SELECT m.name, max(v.version), m.published_version FROM triad_designer.models m JOIN triad_designer.model_versions v ON v.model = m.name WHERE m.name = $1 GROUP BY m.name, m.published_version", &[&name])
        .await?
        .ok_or_else(|| Refusal::NotFound(format!("there is no model {name:?}")))?;
    Ok(ModelSummary { name: r.get(0), latest_version: r.get(1), published_version: r.get(2) })
}

pub async fn versions(c: &Client, name: &str) -> Result<Vec<Version>> {
    let rows = c.query("SELECT version, saved_by, to_char(saved_at, 'YYYY-MM-DD HH24:MI:SS'), body::text FROM triad_designer.model_versions WHERE model = $1 ORDER BY version DESC", &[&name]).await?;
    rows.iter().map(|r| Ok(Version { version: r.get(0), saved_by: r.get(1), saved_at: r.get(2), body: serde_json::from_str(r.get::<_, &str>(3))? })).collect()
}

/// A stored version as a model (drafts may not validate; they still parse).
pub async fn version(c: &impl GenericClient, name: &str, v: i32) -> Result<Model> {
    let row = c
        .query_opt("SELECT body::text FROM triad_designer.model_versions WHERE model = $1 AND version = $2", &[&name, &v])
        .await?
        .ok_or_else(|| Refusal::NotFound(format!("model {name:?} has no version {v}")))?;
    Ok(serde_json::from_str(row.get::<_, &str>(0))?)
}

pub async fn create_model(c: &mut Client, by: &str, name: &str) -> Result<()> {
    let tx = c.transaction().await?;
    if tx.query_opt("SELECT 1 FROM triad_designer.models WHERE lower(name) = lower($1)", &[&name]).await?.is_some() {
        return Err(Refusal::Conflict(format!("a model named {name:?} already exists")).into());
    }
    tx.execute("INSERT INTO triad_designer.models (name, created_by) VALUES ($1, $2)", &[&name, &by]).await?;
    let body = serde_json::to_string(&Model { name: name.into(), cubes: vec![] })?;
    tx.execute("INSERT INTO triad_designer.model_versions (model, version, body, saved_by) VALUES ($1, 1, $2::text::jsonb, $3)", &[&name, &body, &by]).await?;
    audit(&tx, by, "create model", name, json!({})).await?;
    tx.commit().await?;
    Ok(())
}

/// Stores `model` as the next version, only if `base` is still the latest (two people editing
/// the same model: the second is told to reload instead of silently undoing the first).
pub async fn save_version(c: &mut Client, by: &str, name: &str, base: i32, model: &Model, what: &str) -> Result<i32> {
    let tx = c.transaction().await?;
    tx.execute("SELECT 1 FROM triad_designer.models WHERE name = $1 FOR UPDATE", &[&name]).await?;
    let latest = summary(&tx, name).await?.latest_version;
    if latest != base {
        return Err(Refusal::Conflict(format!("model {name} changed meanwhile (version {latest} is newer than the {base} you edited): reload and try again")).into());
    }
    let body = serde_json::to_string(model)?;
    tx.execute("INSERT INTO triad_designer.model_versions (model, version, body, saved_by) VALUES ($1, $2, $3::text::jsonb, $4)", &[&name, &(base + 1), &body, &by]).await?;
    audit(&tx, by, "edit model", name, json!({"version": base + 1, "change": what})).await?;
    tx.commit().await?;
    Ok(base + 1)
}

/// Publishes version `v` (an earlier one: a rollback) to every engine: validation, the change
/// log entry the engines apply, the published version and the audit entry, all or nothing.
pub async fn publish(c: &mut Client, by: &str, host: &str, name: &str, v: i32) -> Result<i64> {
    let tx = c.transaction().await?;
    tx.execute("SELECT 1 FROM triad_designer.models WHERE name = $1 FOR UPDATE", &[&name]).await?;
    let previous = summary(&tx, name).await?.published_version;
    let stored = version(&tx, name, v).await?;
    let model = Model::from_json(serde_json::to_value(&stored)?).map_err(Refusal::Invalid)?;
    let pos = log::append_in(&tx, &[Change::Publish(model)], host).await?;
    tx.execute("UPDATE triad_designer.models SET published_version = $2 WHERE name = $1", &[&name, &v]).await?;
    let action = if previous.is_some_and(|p| p > v) { "roll back" } else { "publish" };
    audit(&tx, by, action, name, json!({"version": v, "previous": previous, "log_position": pos})).await?;
    tx.commit().await?;
    Ok(pos)
}

/// Appends cells checked against `checked_with` (one transaction: all rows or none). Refused
/// if the log's last publication of the model is another: every engine applies the cells
/// against that one, so they are checked again first.
pub async fn load(c: &mut Client, by: &str, host: &str, checked_with: &Model, cube: &str, cells: Vec<serde_json::Map<String, Value>>) -> Result<i64> {
    let model = &checked_with.name;
    let target = format!("{}.{}", model.to_lowercase(), cube.to_lowercase());
    let n = cells.len();
    let entries: Vec<Change> = cells.into_iter().map(|c| Change::cell(model, cube, c)).collect();
    let tx = c.transaction().await?;
    log::lock(&tx).await?;
    if log::published_model(&tx, model).await?.as_ref() != Some(&serde_json::to_value(checked_with)?) {
        return Err(Refusal::Conflict(format!("model {model} was published again while the file was being checked: nothing was loaded; load it again")).into());
    }
    let pos = log::append_locked(&tx, &entries, host).await?;
    audit(&tx, by, "load data", &target, json!({"rows": n, "log_position": pos})).await?;
    tx.commit().await?;
    Ok(pos)
}

#[derive(Debug, Serialize)]
pub struct AuditEntry {
    pub at: String,
    pub who: String,
    pub action: String,
    pub target: String,
    pub detail: Value,
}

pub async fn audit_log(c: &Client, limit: i64) -> Result<Vec<AuditEntry>> {
    let rows = c.query("SELECT to_char(at, 'YYYY-MM-DD HH24:MI:SS'), who, action, target, detail::text FROM triad_designer.audit ORDER BY id DESC LIMIT $1", &[&limit]).await?;
    rows.iter()
        .map(|r| Ok(AuditEntry { at: r.get(0), who: r.get(1), action: r.get(2), target: r.get(3), detail: serde_json::from_str(r.get::<_, &str>(4))? }))
        .collect()
}
