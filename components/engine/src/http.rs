//! The engine's HTTP API (port `engine_http`, 8080):
//!
//! | method, path | what |
//! |---|---|
//! | `GET /health` | 200 while serving (registered, caught up, peers reached, not leaving), else 503 |
//! | `GET /metrics` | Prometheus text |
//! | `GET /api/status` | host, applied log position, cubes and their cell counts, image bytes, write stages (`write_stages`) |
//! | `GET /api/models` | the published models |
//! | `POST /api/models/validate` | body: a model; 200 or 422 with `errors: [{path, message}]` |
//! | `POST /api/models` | body `{"model": {...}}`: publish to every engine (one log entry), recorded as published by the signed-in user |
//! | `GET /api/cubes` | every cube: columns (dimensions with their levels, measures), cells, local_only |
//! | `POST /api/cubes/{model}/{cube}/rows` | body: JSON array of cells; all or nothing |
//! | `POST /api/cubes/{model}/{cube}/csv[?wait=true]` | body: CSV with a header row; 202 with the load's id (or, with `wait`, its outcome: 200, 422 with every rejected line, 404, 503) |
//! | `GET /api/loads`, `GET /api/loads/{id}` | loads and their progress: state, rows checked, rejected lines, log position |
//!
//! Every `/api/...` request needs HTTP Basic credentials of a user the engines know; reads take
//! any role, writing cells and publishing the modeler or admin role (`http_auth`). Without a
//! user: 401; with a role that may not: 403. What engines ask each other (`GET /api/peer/ping`,
//! `POST /api/peer/leaving?host=H`) is served on the peer port (`engine_peer`, 7100) only.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use triad_daemon::metrics::{self, Scrape};

use crate::cluster::Departures;
use crate::engine::Engine;
use crate::loads::{self, Loads};
use crate::model::Model;

#[derive(Clone)]
pub struct Api {
    pub engine: Arc<Engine>,
    pub departures: Arc<Departures>,
    pub loads: Arc<Loads>,
    pub verified: Arc<crate::http_auth::Verified>,
}

pub fn router(api: Api) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/api/status", get(status))
        .route("/api/models", get(models).post(publish))
        .route("/api/models/validate", post(validate))
        // Bulk loads (the designer's CSV loads, the demo) send large batches.
        .route("/api/cubes", get(cubes))
        .route("/api/cubes/{model}/{cube}/rows", post(rows).layer(axum::extract::DefaultBodyLimit::max(512 << 20)))
        .route("/api/cubes/{model}/{cube}/csv", post(csv).layer(axum::extract::DefaultBodyLimit::max(1 << 30)))
        .route("/api/loads", get(|State(a): State<Api>| async move { Json(a.loads.list()) }))
        .route("/api/loads/{id}", get(load))
        .layer(axum::middleware::from_fn_with_state(
            crate::http_auth::Gate { engine: api.engine.clone(), verified: api.verified.clone() },
            crate::http_auth::gate,
        ))
        .with_state(api)
}

/// What engines ask each other, on the peer port (`engine_peer`) only: it never goes through
/// the balancers.
pub fn peer_router(api: Api) -> Router<Api> {
    Router::new().route("/api/peer/ping", get(|| async { "pong" })).route("/api/peer/leaving", post(leaving)).with_state(api)
}

async fn health(State(a): State<Api>) -> Response {
    let code = if a.engine.serving() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(json!({"host": a.engine.me, "serving": a.engine.serving(), "applied": a.engine.applied()}))).into_response()
}

async fn status(State(a): State<Api>) -> Json<Value> {
    let view = a.engine.view();
    let cubes: Vec<Value> = view.cubes.iter().map(|((m, c), s)| json!({"cube": format!("{m}.{c}"), "cells": s.cells})).collect();
    Json(json!({"host": a.engine.me, "serving": a.engine.serving(), "applied": view.applied, "cubes": cubes, "bytes": view.bytes, "write_stages": a.engine.write_stages.to_json()}))
}

async fn metrics(State(a): State<Api>) -> Response {
    let view = a.engine.view();
    let mut m = Scrape::new();
    m.gauge("triad_engine_serving", "1 while this engine serves (registered, caught up, peers reached, not leaving)", a.engine.serving() as u64);
    m.gauge("triad_engine_applied_position", "Position of the last change-log entry applied to this engine's image", view.applied.max(0) as u64);
    let cells = view.cubes.iter().map(|((model, cube), c)| (vec![("cube", format!("{model}.{cube}"))], c.cells as u64));
    m.gauges("triad_engine_cube_cells", "Cells of each cube held by this engine", cells);
    ([(axum::http::header::CONTENT_TYPE, metrics::CONTENT_TYPE)], m.text()).into_response()
}

async fn models(State(a): State<Api>) -> Json<Value> {
    let view = a.engine.view();
    Json(json!({"models": view.models.values().collect::<Vec<_>>(), "applied": view.applied}))
}

fn unprocessable(errors: Value) -> Response {
    (StatusCode::UNPROCESSABLE_ENTITY, Json(json!({"errors": errors}))).into_response()
}

async fn validate(Json(body): Json<Value>) -> Response {
    match Model::from_json(body) {
        Ok(_) => Json(json!({"valid": true})).into_response(),
        Err(errs) => unprocessable(json!(errs)),
    }
}

async fn publish(State(a): State<Api>, axum::Extension(user): axum::Extension<crate::http_auth::User>, Json(body): Json<Value>) -> Response {
    let Some(model) = body.get("model").cloned() else {
        return unprocessable(json!([{"path": "model", "message": "the body must be {\"model\": {...}}"}]));
    };
    let model = match Model::from_json(model) {
        Ok(m) => m,
        Err(errs) => return unprocessable(json!(errs)),
    };
    // The log names who published: the signed-in user. A body naming someone else is refused
    // rather than recorded under the wrong name.
    let by = user.0;
    if let Some(named) = body.get("published_by").and_then(Value::as_str).filter(|n| *n != by) {
        return unprocessable(json!([{"path": "published_by", "message": format!("names {named:?}, but the request is signed in as {by:?}: leave published_by out")}]));
    }
    tracing::info!(model = %model.name, by = %by, "publishing");
    let name = model.name.clone();
    let entry = triad_changelog::Change::Publish(model);
    match a.engine.write(crate::engine::Checked { entries: vec![entry], at: i64::MAX }).await {
        Ok(pos) => Json(json!({"published": name, "log_position": pos, "published_by": by})).into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"error": format!("{e:#}")}))).into_response(),
    }
}

async fn rows(State(a): State<Api>, Path((model, cube)): Path<(String, String)>, Json(body): Json<Value>) -> Response {
    let Some(rows) = body.as_array() else {
        return unprocessable(json!([{"path": "", "message": "the body must be a JSON array of cells"}]));
    };
    let mut cells = vec![];
    for (i, r) in rows.iter().enumerate() {
        match r.as_object() {
            Some(o) => cells.push(o.clone()),
            None => return unprocessable(json!([{"path": format!("[{i}]"), "message": "a cell is a JSON object"}])),
        }
    }
    let entries = match a.engine.check_cells(&model, &cube, &cells) {
        Ok(e) => e,
        Err(e) => return unprocessable(json!([{"path": "", "message": e.to_string()}])),
    };
    let n = entries.entries.len();
    match a.engine.write(entries).await {
        Ok(pos) => Json(json!({"rows": n, "log_position": pos})).into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"error": format!("{e:#}")}))).into_response(),
    }
}

async fn cubes(State(a): State<Api>) -> Json<Value> {
    let view = a.engine.view();
    Json(Value::Array(
        view.cubes
            .iter()
            .map(|((m, c), s)| json!({"cube": format!("{m}.{c}"), "cells": s.cells, "local_only": s.cube.local_only, "dimensions": s.cube.dimensions.iter().map(|d| json!({"name": d.name, "levels": d.levels.iter().map(|l| &l.name).collect::<Vec<_>>()})).collect::<Vec<_>>(), "measures": s.cube.measures}))
            .collect(),
    ))
}

async fn csv(State(a): State<Api>, Path((model, cube)): Path<(String, String)>, Query(q): Query<HashMap<String, String>>, text: String) -> Response {
    if !a.engine.serving() {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"error": format!("the engine on {} is not serving", a.engine.me)}))).into_response();
    }
    let (id, task) = loads::start(a.engine.clone(), a.loads.clone(), model, cube, text);
    if q.get("wait").is_none_or(|w| w == "false") {
        return (StatusCode::ACCEPTED, Json(json!({"load": id, "progress": format!("/api/loads/{id}")}))).into_response();
    }
    let _ = task.await;
    let load = a.loads.get(id).expect("a load just started is kept");
    let code = match (&load.state, &load.error) {
        (loads::State::Done, _) => StatusCode::OK,
        (loads::State::Rejected, _) => StatusCode::UNPROCESSABLE_ENTITY,
        (_, Some(e)) if e.contains("does not exist") => StatusCode::NOT_FOUND,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    (code, Json(load)).into_response()
}

async fn load(State(a): State<Api>, Path(id): Path<u64>) -> Response {
    match a.loads.get(id) {
        Some(l) => Json(l).into_response(),
        None => (StatusCode::NOT_FOUND, Json(json!({"error": format!("no load {id} on this engine (loads are kept in memory by the engine that took them)")}))).into_response(),
    }
}

async fn leaving(State(a): State<Api>, Query(q): Query<HashMap<String, String>>) -> StatusCode {
    if let Some(h) = q.get("host") {
        tracing::warn!("engine {h} announced it is leaving the cluster");
        a.departures.0.lock().unwrap().insert(h.clone());
    }
    StatusCode::OK
}
