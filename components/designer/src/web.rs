//! The HTTP side: pages (cookie sessions) and the REST API under /api (session or Basic
//! credentials), both thin over `db`, `editor`, `roles` and triad-changelog's `csvload`. While this instance is
//! passive every route but /health and /api/openapi.json answers 503.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Form, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
/// A pooled connection to the cluster database (derefs to `tokio_postgres::Client`).
type Client = deadpool_postgres::Object;
use triad_config::{Cluster, Role};

use crate::active::Status;
use crate::auth::{self, COOKIE, Credentials};
use crate::db::{self, Refusal, User};
use crate::editor::{self, Edit, FieldError};
use crate::roles::{self, Action};
use crate::{html, openapi};
use triad_changelog::csvload;

#[derive(Clone)]
pub struct App {
    pub cluster: Cluster,
    pub me: String,
    pub db: deadpool_postgres::Pool,
    pub status: Arc<Status>,
    pub dcs: Option<triad_dcs::Dcs>,
}

pub fn router(app: App) -> Router {
    Router::new()
        .route("/login", get(|| async { Html(html::login(None)) }).post(login))
        .route("/logout", post(logout))
        .route("/", get(home))
        .route("/models", post(create_model_form))
        .route("/models/{name}", get(model_page))
        .route("/models/{name}/edit", post(edit_form))
        .route("/models/{name}/publish", post(publish_form))
        .route("/models/{name}/cubes/{cube}/load", post(load).layer(axum::extract::DefaultBodyLimit::max(256 << 20)))
        .route("/users", get(users_page).post(create_user_form))
        .route("/users/{name}/delete", post(delete_user_form))
        .route("/cluster", get(cluster_page))
        .route("/audit", get(audit_page))
        .route("/api/models", get(api_models).post(api_create_model))
        .route("/api/models/{name}", get(api_model))
        .route("/api/models/{name}/edits", post(api_edit))
        .route("/api/models/{name}/publish", post(api_publish))
        .route("/api/models/{name}/cubes/{cube}/load", post(load).layer(axum::extract::DefaultBodyLimit::max(256 << 20)))
        .route("/api/users", get(api_users).post(api_create_user))
        .route("/api/users/{name}", axum::routing::delete(api_delete_user))
        .route("/api/cluster", get(api_cluster))
        .route("/api/audit", get(api_audit))
        .layer(middleware::from_fn_with_state(app.clone(), only_when_active))
        .route("/health", get(health))
        .route("/api/openapi.json", get(|| async { Json(openapi::document()) }))
        .with_state(app)
}

async fn health(State(a): State<App>) -> Response {
    let active = a.status.is_active();
    let code = if active { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(json!({"host": a.me, "active": active, "active_designer": a.status.holder()}))).into_response()
}

async fn only_when_active(State(a): State<App>, req: Request, next: Next) -> Response {
    if a.status.is_active() {
        return next.run(req).await;
    }
    let holder = a.status.holder();
    let mut r = if req.uri().path().starts_with("/api/") {
        Json(json!({"error": format!("this designer ({}) is passive; the active designer is {}", a.me, holder.as_deref().unwrap_or("being elected"))})).into_response()
    } else {
        Html(html::passive(&a.me, holder.as_deref())).into_response()
    };
    *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    r.headers_mut().insert(header::RETRY_AFTER, "2".parse().unwrap());
    r
}

// --- errors ---

/// Why a request failed, rendered as the page or JSON the caller expects.
enum Failure {
    LoginNeeded,
    Forbidden(String),
    Refused(Refusal),
    Fields(Vec<FieldError>),
    Unavailable(String),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Failure {
        match e.downcast::<Refusal>() {
            Ok(r) => Failure::Refused(r),
            Err(e) => {
                tracing::warn!(error = format!("{e:#}"), "request failed");
                Failure::Unavailable(format!("{e:#}"))
            }
        }
    }
}

impl Failure {
    fn status(&self) -> StatusCode {
        match self {
            Failure::LoginNeeded => StatusCode::UNAUTHORIZED,
            Failure::Forbidden(_) => StatusCode::FORBIDDEN,
            Failure::Refused(Refusal::NotFound(_)) => StatusCode::NOT_FOUND,
            Failure::Refused(Refusal::Conflict(_)) => StatusCode::CONFLICT,
            Failure::Refused(Refusal::Invalid(_)) | Failure::Fields(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Failure::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn message(&self) -> String {
        match self {
            Failure::LoginNeeded => "log in first (session cookie or HTTP Basic credentials)".into(),
            Failure::Forbidden(m) => m.clone(),
            Failure::Refused(r) => r.to_string(),
            Failure::Fields(f) => f.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "),
            Failure::Unavailable(m) => format!("the cluster database could not be reached; nothing was changed ({m})"),
        }
    }

    fn json(self) -> Response {
        let status = self.status();
        let mut body = json!({"error": self.message()});
        match &self {
            Failure::Fields(f) => body["fields"] = json!(f),
            Failure::Refused(Refusal::Invalid(errs)) => body["errors"] = json!(errs),
            _ => {}
        }
        let mut r = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, "Basic realm=\"triad\"".parse().unwrap());
        }
        r
    }

    fn page(self, user: Option<&User>) -> Response {
        if matches!(self, Failure::LoginNeeded) {
            return Redirect::to("/login").into_response();
        }
        let status = self.status();
        (status, Html(html::layout("Not done", user, &html::notice(None, Some(&self.message()))))).into_response()
    }
}

// --- who is calling ---

/// The connection as the plain client the `db` functions that also take transactions need.
fn pg(c: &Client) -> &tokio_postgres::Client {
    c
}

async fn db(a: &App) -> Result<Client, Failure> {
    Ok(a.db.get().await.map_err(|e| anyhow::anyhow!("the cluster database is unreachable: {e}"))?)
}

async fn caller(a: &App, c: &Client, headers: &HeaderMap, action: Action) -> Result<User, Failure> {
    let user = match auth::credentials(headers) {
        Credentials::Session(t) => db::session_user(c, &t).await?,
        Credentials::Basic { user, password } => match db::user(pg(c), &user).await? {
            Some(u) if auth::verify_off_thread(password, u.password_hash.clone()).await => Some(u),
            _ => None,
        },
        Credentials::None => None,
    };
    let user = user.ok_or(Failure::LoginNeeded)?;
    if !roles::allowed(user.role, action) {
        return Err(Failure::Forbidden(roles::refusal(user.role, action)));
    }
    let _ = a;
    Ok(user)
}

// --- pages ---

async fn login(State(a): State<App>, Form(f): Form<HashMap<String, String>>) -> Response {
    let (name, password) = (f.get("name").cloned().unwrap_or_default(), f.get("password").cloned().unwrap_or_default());
    let c = match db(&a).await {
        Ok(c) => c,
        Err(e) => return e.page(None),
    };
    let user = match db::user(pg(&c), &name).await {
        Ok(u) => u,
        Err(e) => return Failure::from(e).page(None),
    };
    // The same answer for an unknown user and a wrong password.
    let verified = match &user {
        Some(u) => auth::verify_off_thread(password, u.password_hash.clone()).await,
        None => false,
    };
    let Some(user) = user.filter(|_| verified) else {
        return (StatusCode::UNAUTHORIZED, Html(html::login(Some("wrong user name or password")))).into_response();
    };
    let token = auth::new_token();
    if let Err(e) = db::create_session(&c, &user.name, &token).await {
        return Failure::from(e).page(None);
    }
    tracing::info!(user = %user.name, "logged in");
    ([(header::SET_COOKIE, format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"))], Redirect::to("/")).into_response()
}

async fn logout(State(a): State<App>, headers: HeaderMap) -> Response {
    if let (Credentials::Session(t), Ok(c)) = (auth::credentials(&headers), db(&a).await) {
        let _ = db::delete_session(&c, &t).await;
    }
    ([(header::SET_COOKIE, format!("{COOKIE}=; Path=/; Max-Age=0"))], Redirect::to("/login")).into_response()
}

async fn home(State(a): State<App>, headers: HeaderMap) -> Response {
    page(&a, &headers, Action::Read, |c, u| async move { Ok(Html(html::home(&u, &db::models(&c).await?, &[], None, None)).into_response()) }).await
}

/// Runs a page handler for a logged-in user with `action`'s right; failures become pages.
async fn page<F, Fut>(a: &App, headers: &HeaderMap, action: Action, f: F) -> Response
where
    F: FnOnce(Client, User) -> Fut,
    Fut: std::future::Future<Output = Result<Response, Failure>>,
{
    let c = match db(a).await {
        Ok(c) => c,
        Err(e) => return e.page(None),
    };
    let user = match caller(a, &c, headers, Action::Read).await {
        Ok(u) => u,
        Err(e) => return e.page(None),
    };
    if !roles::allowed(user.role, action) {
        return Failure::Forbidden(roles::refusal(user.role, action)).page(Some(&user));
    }
    let u2 = user.clone();
    match f(c, user).await {
        Ok(r) => r,
        Err(e) => e.page(Some(&u2)),
    }
}

async fn create_model_form(State(a): State<App>, headers: HeaderMap, Form(f): Form<HashMap<String, String>>) -> Response {
    let name = f.get("name").cloned().unwrap_or_default();
    page(&a, &headers, Action::EditModel, |mut c, u| async move {
        if let Err(e) = editor::valid_name(&name) {
            let errors = [FieldError { field: "name".into(), message: e }];
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(html::home(&u, &db::models(&c).await?, &errors, None, None))).into_response());
        }
        match db::create_model(&mut c, &u.name, &name).await {
            Ok(()) => Ok(Redirect::to(&format!("/models/{name}")).into_response()),
            Err(e) => match Failure::from(e) {
                Failure::Refused(r) => Ok((StatusCode::CONFLICT, Html(html::home(&u, &db::models(&c).await?, &[FieldError { field: "name".into(), message: r.to_string() }], None, None))).into_response()),
                other => Err(other),
            },
        }
    })
    .await
}

async fn render_model(c: &Client, u: &User, name: &str, status: StatusCode, failed_form: &str, errors: &[FieldError], message: Option<&str>, error: Option<&str>) -> Result<Response, Failure> {
    let summary = db::summary(pg(c), name).await?;
    let model = db::version(pg(c), name, summary.latest_version).await?;
    let published = match summary.published_version {
        Some(v) => Some(db::version(pg(c), name, v).await?),
        None => None,
    };
    let versions = db::versions(c, name).await?;
    let problems = model.validate();
    let p = html::ModelPage { user: u, summary: &summary, model: &model, published: published.as_ref(), versions: &versions, problems: &problems, failed_form, errors, message, error };
    Ok((status, Html(html::model(&p))).into_response())
}

async fn model_page(State(a): State<App>, headers: HeaderMap, Path(name): Path<String>) -> Response {
    page(&a, &headers, Action::Read, |c, u| async move { render_model(&c, &u, &name, StatusCode::OK, "", &[], None, None).await }).await
}

/// A form's fields as an `Edit` (the `op` field says which).
fn edit_of(f: &HashMap<String, String>) -> Result<Edit, String> {
    let v: Value = f.iter().filter(|(k, _)| *k != "base").map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect::<serde_json::Map<_, _>>().into();
    serde_json::from_value(v).map_err(|e| format!("not a model edit: {e}"))
}

fn form_id(e: &Edit) -> String {
    match e {
        Edit::AddCube { .. } => "cube".into(),
        Edit::AddDimension { cube, .. } | Edit::RemoveDimension { cube, .. } => format!("dim:{cube}"),
        Edit::AddMeasure { cube, .. } | Edit::RemoveMeasure { cube, .. } => format!("measure:{cube}"),
        Edit::RemoveCube { cube } => format!("dim:{cube}"),
    }
}

async fn edit_form(State(a): State<App>, headers: HeaderMap, Path(name): Path<String>, Form(f): Form<HashMap<String, String>>) -> Response {
    page(&a, &headers, Action::EditModel, |mut c, u| async move {
        let edit = edit_of(&f).map_err(|m| Failure::Fields(vec![FieldError { field: "op".into(), message: m }]))?;
        let base: i32 = f.get("base").and_then(|b| b.parse().ok()).unwrap_or(0);
        let current = db::version(pg(&c), &name, base).await?;
        match editor::apply(&current, &edit) {
            Ok(next) => match db::save_version(&mut c, &u.name, &name, base, &next, &format!("{edit:?}")).await {
                Ok(v) => Ok(Redirect::to(&format!("/models/{name}?saved={v}")).into_response()),
                Err(e) => match Failure::from(e) {
                    Failure::Refused(r) => render_model(&c, &u, &name, StatusCode::CONFLICT, "", &[], None, Some(&r.to_string())).await,
                    other => Err(other),
                },
            },
            Err(errors) => render_model(&c, &u, &name, StatusCode::UNPROCESSABLE_ENTITY, &form_id(&edit), &errors, None, Some("not saved: see the messages next to the fields")).await,
        }
    })
    .await
}

async fn publish_form(State(a): State<App>, headers: HeaderMap, Path(name): Path<String>, Form(f): Form<HashMap<String, String>>) -> Response {
    let me = a.me.clone();
    page(&a, &headers, Action::Publish, |mut c, u| async move {
        let v: i32 = f.get("version").and_then(|b| b.parse().ok()).unwrap_or(0);
        match db::publish(&mut c, &u.name, &me, &name, v).await {
            Ok(pos) => render_model(&c, &u, &name, StatusCode::OK, "", &[], Some(&format!("version {v} published to every engine (change log position {pos})")), None).await,
            Err(e) => match Failure::from(e) {
                Failure::Refused(r) => render_model(&c, &u, &name, StatusCode::UNPROCESSABLE_ENTITY, "", &[], None, Some(&format!("nothing was published: {r}"))).await,
                other => Err(other),
            },
        }
    })
    .await
}

/// CSV into a published cube (page and API): 200 with the row count, or 422 with every
/// rejected row and nothing loaded.
async fn load(State(a): State<App>, headers: HeaderMap, Path((name, cube)): Path<(String, String)>, body: Bytes) -> Response {
    let r: Result<Response, Failure> = async {
        let mut c = db(&a).await?;
        let u = caller(&a, &c, &headers, Action::LoadData).await?;
        let summary = db::summary(pg(&c), &name).await?;
        let v = summary.published_version.ok_or_else(|| Failure::Refused(Refusal::Conflict(format!("model {name} is not published: publish it before loading data"))))?;
        let model = db::version(pg(&c), &name, v).await?;
        let target = model.cube(&cube).ok_or_else(|| Failure::Refused(Refusal::NotFound(format!("the published version of {name} has no cube {cube:?}"))))?;
        let text = std::str::from_utf8(&body).map_err(|e| Failure::Refused(Refusal::Conflict(format!("the file is not UTF-8 text: {e}"))))?;
        let (cells, report) = csvload::check(target, text);
        if !report.rejected.is_empty() {
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(json!({"error": "nothing was loaded", "rows": report.rows, "rejected": report.rejected}))).into_response());
        }
        let pos = db::load(&mut c, &u.name, &a.me, &model, &target.name, cells).await?;
        Ok(Json(json!({"rows": report.rows, "log_position": pos})).into_response())
    }
    .await;
    r.unwrap_or_else(Failure::json)
}

async fn users_page(State(a): State<App>, headers: HeaderMap) -> Response {
    let profiles = profiles(&a);
    page(&a, &headers, Action::ManageUsers, |c, u| async move { Ok(Html(html::users(&u, &db::users(&c).await?, &profiles, &[], None, None)).into_response()) }).await
}

fn profiles(a: &App) -> Vec<String> {
    a.cluster.file().profiles.keys().cloned().collect()
}

/// A new user from form or JSON fields; every bad field at once.
async fn new_user(a: &App, f: &HashMap<String, String>) -> Result<User, Vec<FieldError>> {
    let mut errors = vec![];
    let name = f.get("name").cloned().unwrap_or_default();
    if let Err(e) = editor::valid_name(&name) {
        errors.push(FieldError { field: "name".into(), message: e });
    }
    let password = f.get("password").cloned().unwrap_or_default();
    if password.chars().count() < 8 {
        errors.push(FieldError { field: "password".into(), message: "a password needs at least 8 characters".into() });
    }
    let role = roles::parse_role(f.get("role").map(String::as_str).unwrap_or(""));
    if role.is_none() {
        errors.push(FieldError { field: "role".into(), message: "the role must be admin, modeler or viewer".into() });
    }
    let profile = f.get("profile").filter(|p| !p.is_empty()).cloned();
    if let Some(p) = &profile
        && !a.cluster.file().profiles.contains_key(p)
    {
        errors.push(FieldError { field: "profile".into(), message: format!("no profile {p:?} in the cluster file (known: {})", profiles(a).join(", ")) });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let password_hash = auth::hash_off_thread(password).await.map_err(|e| vec![FieldError { field: "password".into(), message: e.to_string() }])?;
    Ok(User { name, role: role.unwrap(), profile, password_hash })
}

async fn create_user_form(State(a): State<App>, headers: HeaderMap, Form(f): Form<HashMap<String, String>>) -> Response {
    let profiles = profiles(&a);
    let a2 = a.clone();
    page(&a, &headers, Action::ManageUsers, |mut c, u| async move {
        let new = match new_user(&a2, &f).await {
            Ok(n) => n,
            Err(errors) => return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(html::users(&u, &db::users(&c).await?, &profiles, &errors, None, Some("the user was not created")))).into_response()),
        };
        let (status, message, error) = match db::create_user(&mut c, &u.name, &a2.me, &new).await {
            Ok(()) => (StatusCode::OK, Some(format!("user {} created; the engines accept their SQL logins", new.name)), None),
            Err(e) => match Failure::from(e) {
                Failure::Refused(r) => (StatusCode::CONFLICT, None, Some(r.to_string())),
                other => return Err(other),
            },
        };
        Ok((status, Html(html::users(&u, &db::users(&c).await?, &profiles, &[], message.as_deref(), error.as_deref()))).into_response())
    })
    .await
}

async fn delete_user_form(State(a): State<App>, headers: HeaderMap, Path(name): Path<String>) -> Response {
    let profiles = profiles(&a);
    let me = a.me.clone();
    page(&a, &headers, Action::ManageUsers, |mut c, u| async move {
        let (status, message, error) = match db::delete_user(&mut c, &u.name, &me, &name).await {
            Ok(()) => (StatusCode::OK, Some(format!("user {name} deleted")), None),
            Err(e) => match Failure::from(e) {
                Failure::Refused(r) => (StatusCode::CONFLICT, None, Some(r.to_string())),
                other => return Err(other),
            },
        };
        Ok((status, Html(html::users(&u, &db::users(&c).await?, &profiles, &[], message.as_deref(), error.as_deref()))).into_response())
    })
    .await
}

/// The keeper's table and every service's health probe.
async fn cluster_state(a: &App) -> (String, Vec<(String, String, Option<u16>)>) {
    let table = match &a.dcs {
        Some(d) => match triad_keeper::client::read_state(d, &a.cluster.file().cluster.name).await {
            Ok(s) => triad_keeper::client::render(&s),
            Err(e) => format!("the coordinator could not be read: {e:#}"),
        },
        None => "no coordinator connection".into(),
    };
    let ports = &a.cluster.file().ports;
    let mut probes = vec![];
    for h in &a.cluster.file().hosts {
        let mut add = |service: &str, port: i64, path: &str| probes.push((h.name.clone(), service.to_string(), a.cluster.addr(h, port), path.to_string()));
        if h.has(Role::App) {
            add("engine", ports.engine_http, "/health");
            add("keeper (PostgreSQL)", ports.keeper_api, "/health");
            add("designer", ports.designer, "/health");
        }
        if h.has(Role::Balancer) {
            add("balancer stats", ports.balancer_stats, "/stats");
        }
    }
    let results = futures::future::join_all(probes.iter().map(|(_, _, addr, path)| triad_probe::status_within(addr, path, Duration::from_secs(1)))).await;
    let health = probes.into_iter().zip(results).map(|((h, s, _, _), code)| (h, s, code)).collect();
    (table, health)
}

async fn cluster_page(State(a): State<App>, headers: HeaderMap) -> Response {
    let (table, health) = cluster_state(&a).await;
    let active = a.me.clone();
    page(&a, &headers, Action::Read, |_c, u| async move { Ok(Html(html::cluster(&u, &table, &health, &active)).into_response()) }).await
}

async fn audit_page(State(a): State<App>, headers: HeaderMap) -> Response {
    page(&a, &headers, Action::Read, |c, u| async move { Ok(Html(html::audit(&u, &db::audit_log(&c, 200).await?)).into_response()) }).await
}

// --- API ---

/// Runs an API handler for a caller with `action`'s right; failures become JSON.
async fn api<F, Fut>(a: &App, headers: &HeaderMap, action: Action, f: F) -> Response
where
    F: FnOnce(Client, User) -> Fut,
    Fut: std::future::Future<Output = Result<Response, Failure>>,
{
    let r = async {
        let c = db(a).await?;
        let u = caller(a, &c, headers, action).await?;
        f(c, u).await
    }
    .await;
    r.unwrap_or_else(Failure::json)
}

async fn api_models(State(a): State<App>, headers: HeaderMap) -> Response {
    api(&a, &headers, Action::Read, |c, _| async move { Ok(Json(json!({"models": db::models(&c).await?})).into_response()) }).await
}

async fn api_create_model(State(a): State<App>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    api(&a, &headers, Action::EditModel, |mut c, u| async move {
        let name = body.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
        editor::valid_name(&name).map_err(|m| Failure::Fields(vec![FieldError { field: "name".into(), message: m }]))?;
        db::create_model(&mut c, &u.name, &name).await?;
        Ok((StatusCode::CREATED, Json(json!({"name": name, "version": 1}))).into_response())
    })
    .await
}

async fn api_model(State(a): State<App>, headers: HeaderMap, Path(name): Path<String>) -> Response {
    api(&a, &headers, Action::Read, |c, _| async move {
        let summary = db::summary(pg(&c), &name).await?;
        let latest = db::version(pg(&c), &name, summary.latest_version).await?;
        Ok(Json(json!({"summary": summary, "model": latest, "problems": latest.validate(), "versions": db::versions(&c, &name).await?})).into_response())
    })
    .await
}

async fn api_edit(State(a): State<App>, headers: HeaderMap, Path(name): Path<String>, Json(body): Json<Value>) -> Response {
    api(&a, &headers, Action::EditModel, |mut c, u| async move {
        let base = body.get("base").and_then(Value::as_i64).ok_or_else(|| Failure::Fields(vec![FieldError { field: "base".into(), message: "the version the edit applies to is required".into() }]))? as i32;
        let edit: Edit = serde_json::from_value(body.get("edit").cloned().unwrap_or_default()).map_err(|e| Failure::Fields(vec![FieldError { field: "edit".into(), message: e.to_string() }]))?;
        let current = db::version(pg(&c), &name, base).await?;
        let next = editor::apply(&current, &edit).map_err(Failure::Fields)?;
        let v = db::save_version(&mut c, &u.name, &name, base, &next, &format!("{edit:?}")).await?;
        Ok(Json(json!({"version": v, "model": next, "problems": next.validate()})).into_response())
    })
    .await
}

async fn api_publish(State(a): State<App>, headers: HeaderMap, Path(name): Path<String>, Json(body): Json<Value>) -> Response {
    let me = a.me.clone();
    api(&a, &headers, Action::Publish, |mut c, u| async move {
        let v = body.get("version").and_then(Value::as_i64).ok_or_else(|| Failure::Fields(vec![FieldError { field: "version".into(), message: "the version to publish is required".into() }]))? as i32;
        let pos = db::publish(&mut c, &u.name, &me, &name, v).await?;
        Ok(Json(json!({"published": name, "version": v, "log_position": pos})).into_response())
    })
    .await
}

async fn api_users(State(a): State<App>, headers: HeaderMap) -> Response {
    api(&a, &headers, Action::ManageUsers, |c, _| async move { Ok(Json(json!({"users": db::users(&c).await?})).into_response()) }).await
}

async fn api_create_user(State(a): State<App>, headers: HeaderMap, Json(body): Json<HashMap<String, String>>) -> Response {
    let a2 = a.clone();
    api(&a, &headers, Action::ManageUsers, |mut c, u| async move {
        let new = new_user(&a2, &body).await.map_err(Failure::Fields)?;
        db::create_user(&mut c, &u.name, &a2.me, &new).await?;
        Ok((StatusCode::CREATED, Json(json!({"user": new}))).into_response())
    })
    .await
}

async fn api_delete_user(State(a): State<App>, headers: HeaderMap, Path(name): Path<String>) -> Response {
    let me = a.me.clone();
    api(&a, &headers, Action::ManageUsers, |mut c, u| async move {
        db::delete_user(&mut c, &u.name, &me, &name).await?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}

async fn api_cluster(State(a): State<App>, headers: HeaderMap) -> Response {
    let (table, health) = cluster_state(&a).await;
    let me = a.me.clone();
    api(&a, &headers, Action::Read, |_, _| async move {
        let services: Vec<Value> = health.iter().map(|(h, s, c)| json!({"host": h, "service": s, "status": c})).collect();
        Ok(Json(json!({"active_designer": me, "database": table, "services": services})).into_response())
    })
    .await
}

async fn api_audit(State(a): State<App>, headers: HeaderMap) -> Response {
    api(&a, &headers, Action::Read, |c, _| async move { Ok(Json(json!({"entries": db::audit_log(&c, 500).await?})).into_response()) }).await
}
