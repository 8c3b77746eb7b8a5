//! The REST API: JSON over session or Basic credentials; a failure is JSON naming the problem.
//!
//! Each handler carries its OpenAPI annotation, and the two lists below mount the handlers at
//! the paths those annotations name: the router (`web::router`) and the document
//! (`openapi::document`) are both made from these lists, so a route cannot be served without
//! being documented, nor documented without being served.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use triad_changelog::csvload;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::bodies::{ModelEdit, NewModel, NewUser, Publish};
use super::shared::{cluster_state, new_user};
use super::{App, Client, Failure, caller, db, pg};
use crate::db::{Refusal, User};
use crate::editor::{self, Edit, FieldError};
use crate::openapi;
use crate::roles::Action;

/// The largest CSV file a load accepts (the page's upload uses the same handler).
pub(super) const MAX_CSV: usize = 256 << 20;

/// The API routes a passive designer refuses with 503 (see `web::router`).
pub fn served_while_active() -> OpenApiRouter<App> {
    let (schemas, paths, load_route) = routes!(load);
    OpenApiRouter::new()
        .routes(routes!(api_models, api_create_model))
        .routes(routes!(api_model))
        .routes(routes!(api_edit))
        .routes(routes!(api_publish))
        .routes((schemas, paths, load_route.layer(DefaultBodyLimit::max(MAX_CSV))))
        .routes(routes!(api_users, api_create_user))
        .routes(routes!(api_delete_user))
        .routes(routes!(api_cluster))
        .routes(routes!(api_audit))
}

/// The routes every designer answers, active or passive: the balancer's health check and the
/// document itself.
pub fn always_served() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(health)).routes(routes!(document))
}

#[utoipa::path(get, path = "/health", summary = "200 on the active designer, 503 on the passive one", security(()), responses((status = 200, description = "active: `host`, `active`, `active_designer`"), (status = 503, description = "passive (the same fields)")))]
async fn health(State(a): State<App>) -> Response {
    let active = a.status.is_active();
    let code = if active { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(json!({"host": a.me, "active": active, "active_designer": a.status.holder()}))).into_response()
}

#[utoipa::path(get, path = "/api/openapi.json", summary = "This document", security(()), responses((status = 200, description = "the OpenAPI document of this API")))]
async fn document() -> Json<&'static utoipa::openapi::OpenApi> {
    Json(openapi::document())
}

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

#[utoipa::path(get, path = "/api/models", summary = "List models with their latest and published versions", responses((status = 200, description = "`models`: name, latest and published version of each")))]
async fn api_models(State(a): State<App>, headers: HeaderMap) -> Response {
    api(&a, &headers, Action::Read, |c, _| async move { Ok(Json(json!({"models": db::models(&c).await?})).into_response()) }).await
}

#[utoipa::path(post, path = "/api/models", summary = "Create an empty model (version 1)", request_body = NewModel, responses((status = 201, description = "created: `name`, `version`")))]
async fn api_create_model(State(a): State<App>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    api(&a, &headers, Action::EditModel, |mut c, u| async move {
        let name = body.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
        editor::valid_name(&name).map_err(|m| Failure::Fields(vec![FieldError { field: "name".into(), message: m }]))?;
        db::create_model(&mut c, &u.name, &name).await?;
        Ok((StatusCode::CREATED, Json(json!({"name": name, "version": 1}))).into_response())
    })
    .await
}

#[utoipa::path(get, path = "/api/models/{name}", summary = "A model's latest version, its problems and every version", params(("name" = String, Path, description = "the model")), responses((status = 200, description = "`summary`, `model`, `problems` (empty: publishable), `versions`")))]
async fn api_model(State(a): State<App>, headers: HeaderMap, Path(name): Path<String>) -> Response {
    api(&a, &headers, Action::Read, |c, _| async move {
        let summary = db::summary(pg(&c), &name).await?;
        let latest = db::version(pg(&c), &name, summary.latest_version).await?;
        Ok(Json(json!({"summary": summary, "model": latest, "problems": latest.validate(), "versions": db::versions(&c, &name).await?})).into_response())
    })
    .await
}

#[utoipa::path(post, path = "/api/models/{name}/edits", summary = "Apply one edit to version `base`, giving the next version", params(("name" = String, Path, description = "the model")), request_body = ModelEdit, responses((status = 200, description = "saved: the new `version`, its `model` and `problems`")))]
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

#[utoipa::path(post, path = "/api/models/{name}/publish", summary = "Publish (or roll back to) a version on every engine, all or nothing", params(("name" = String, Path, description = "the model")), request_body = Publish, responses((status = 200, description = "published: `version`, `log_position`")))]
async fn api_publish(State(a): State<App>, headers: HeaderMap, Path(name): Path<String>, Json(body): Json<Value>) -> Response {
    let me = a.me.clone();
    api(&a, &headers, Action::Publish, |mut c, u| async move {
        let v = body.get("version").and_then(Value::as_i64).ok_or_else(|| Failure::Fields(vec![FieldError { field: "version".into(), message: "the version to publish is required".into() }]))? as i32;
        let pos = db::publish(&mut c, &u.name, &me, &name, v).await?;
        Ok(Json(json!({"published": name, "version": v, "log_position": pos})).into_response())
    })
    .await
}

#[utoipa::path(get, path = "/api/users", summary = "List users (admin)", responses((status = 200, description = "`users`: name, role, profile")))]
async fn api_users(State(a): State<App>, headers: HeaderMap) -> Response {
    api(&a, &headers, Action::ManageUsers, |c, _| async move { Ok(Json(json!({"users": db::users(&c).await?})).into_response()) }).await
}

#[utoipa::path(post, path = "/api/users", summary = "Create a user; the engines accept its SQL login (admin)", request_body = NewUser, responses((status = 201, description = "created: `user`")))]
async fn api_create_user(State(a): State<App>, headers: HeaderMap, Json(body): Json<HashMap<String, String>>) -> Response {
    let a2 = a.clone();
    api(&a, &headers, Action::ManageUsers, |mut c, u| async move {
        let new = new_user(&a2, &body).await.map_err(Failure::Fields)?;
        db::create_user(&mut c, &u.name, &a2.me, &new).await?;
        Ok((StatusCode::CREATED, Json(json!({"user": new}))).into_response())
    })
    .await
}

#[utoipa::path(delete, path = "/api/users/{name}", summary = "Delete a user (admin)", params(("name" = String, Path, description = "the user")), responses((status = 204, description = "deleted")))]
async fn api_delete_user(State(a): State<App>, headers: HeaderMap, Path(name): Path<String>) -> Response {
    let me = a.me.clone();
    api(&a, &headers, Action::ManageUsers, |mut c, u| async move {
        db::delete_user(&mut c, &u.name, &me, &name).await?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}

#[utoipa::path(get, path = "/api/cluster", summary = "Database members and every service's health", responses((status = 200, description = "`active_designer`, `database` (the `triadctl list` table), `services`")))]
async fn api_cluster(State(a): State<App>, headers: HeaderMap) -> Response {
    let (table, health) = cluster_state(&a).await;
    let me = a.me.clone();
    api(&a, &headers, Action::Read, |_, _| async move {
        let services: Vec<Value> = health.iter().map(|(h, s, c)| json!({"host": h, "service": s, "status": c})).collect();
        Ok(Json(json!({"active_designer": me, "database": table, "services": services})).into_response())
    })
    .await
}

#[utoipa::path(get, path = "/api/audit", summary = "The audit log, newest first", responses((status = 200, description = "`entries`: at, who, action, target, detail")))]
async fn api_audit(State(a): State<App>, headers: HeaderMap) -> Response {
    api(&a, &headers, Action::Read, |c, _| async move { Ok(Json(json!({"entries": db::audit_log(&c, 500).await?})).into_response()) }).await
}

/// CSV into a published cube (page and API): 200 with the row count, or 422 with every
/// rejected row and nothing loaded.
#[utoipa::path(
    post,
    path = "/api/models/{name}/cubes/{cube}/load",
    summary = "Load CSV rows into a published cube; any rejected row loads nothing",
    params(("name" = String, Path, description = "the model"), ("cube" = String, Path, description = "a cube of its published version")),
    request_body(content = String, content_type = "text/csv", description = "a header naming the cube's columns, then one row per cell"),
    responses((status = 200, description = "loaded: `rows`, `log_position`"), (status = 422, description = "nothing was loaded: `rejected` names each bad line and why"))
)]
pub(super) async fn load(State(a): State<App>, headers: HeaderMap, Path((name, cube)): Path<(String, String)>, body: Bytes) -> Response {
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
