//! The keeper's REST API (port `keeper_api`, 8008), Patroni-compatible: HAProxy configurations
//! written for Patroni (`option httpchk GET /primary`, check port 8008) work unchanged.
//!
//! | path | 200 when |
//! |---|---|
//! | `/primary`, `/read-write`, `/leader`, `/master` | this host holds the leader lease and its PostgreSQL runs as primary |
//! | `/replica` | PostgreSQL runs as a standby that streams from the primary |
//! | `/read-only` | PostgreSQL runs and accepts reads (primary or standby) |
//! | `/health` | PostgreSQL runs |
//! | `/liveness` | the keeper's loop ran recently |
//! | `/readiness` | primary with the lease, or streaming standby |
//! | `/cluster` | always: JSON of every member |
//! | `/history` | always: JSON list of promotions `[timeline, lsn, reason, time, new leader]` |
//! | `/metrics` | always: Prometheus text |
//! Otherwise 503.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use triad_daemon::metrics::{self, Scrape};

use crate::ha::Shared;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(primary))
        .route("/primary", get(primary))
        .route("/read-write", get(primary))
        .route("/leader", get(primary))
        .route("/master", get(primary))
        .route("/replica", get(replica))
        .route("/read-only", get(read_only))
        .route("/health", get(health))
        .route("/liveness", get(liveness))
        .route("/readiness", get(readiness))
        .route("/cluster", get(cluster))
        .route("/history", get(history))
        .route("/metrics", get(metrics))
        .with_state(shared)
}

fn is_primary(s: &Shared) -> bool {
    let v = s.view.lock().unwrap();
    s.holds_lease() && v.running && !v.in_recovery
}

fn is_replica(s: &Shared) -> bool {
    let v = s.view.lock().unwrap();
    v.running && v.in_recovery && v.streaming
}

fn answer(ok: bool, s: &Shared) -> Response {
    let body = status_json(s);
    let code = if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

fn status_json(s: &Shared) -> serde_json::Value {
    let holds = s.holds_lease();
    let v = s.view.lock().unwrap();
    json!({
        "name": v.me,
        "state": if v.running { "running" } else { "stopped" },
        "role": if holds && !v.in_recovery { "primary" } else if v.in_recovery { "replica" } else { "unknown" },
        "timeline": v.timeline,
        "lsn": crate::member::lsn_text(v.lsn),
        "streaming": v.streaming,
        "dcs_last_seen_ok": v.dcs_ok,
        "note": v.note,
    })
}

async fn primary(State(s): State<Arc<Shared>>) -> Response {
    answer(is_primary(&s), &s)
}

async fn replica(State(s): State<Arc<Shared>>) -> Response {
    answer(is_replica(&s), &s)
}

async fn read_only(State(s): State<Arc<Shared>>) -> Response {
    let ok = is_primary(&s) || s.view.lock().unwrap().running;
    answer(ok, &s)
}

async fn health(State(s): State<Arc<Shared>>) -> Response {
    let ok = s.view.lock().unwrap().running;
    answer(ok, &s)
}

async fn liveness(State(s): State<Arc<Shared>>) -> Response {
    let ok = s.view.lock().unwrap().last_loop.is_some_and(|t| t.elapsed() < Duration::from_secs(30));
    answer(ok, &s)
}

async fn readiness(State(s): State<Arc<Shared>>) -> Response {
    answer(is_primary(&s) || is_replica(&s), &s)
}

async fn cluster(State(s): State<Arc<Shared>>) -> Response {
    let v = s.view.lock().unwrap().clone();
    let leader_lsn = v.members.iter().find(|m| Some(&m.name) == v.leader.as_ref()).map(|m| m.lsn);
    let members: Vec<_> = v
        .members
        .iter()
        .map(|m| {
            let role = if Some(&m.name) == v.leader.as_ref() {
                "leader"
            } else if Some(&m.name) == v.sync.sync_standby.as_ref() {
                "sync_standby"
            } else {
                "replica"
            };
            let lag = if role == "leader" { None } else { leader_lsn.map(|l| l.saturating_sub(m.lsn)) };
            json!({"name": m.name, "role": role, "state": m.state, "host": m.host, "api_url": m.api_url, "timeline": m.timeline, "lsn": crate::member::lsn_text(m.lsn), "lag": lag, "note": m.note})
        })
        .collect();
    let body = json!({"scope": v.cluster, "leader": v.leader, "sync_standby": v.sync.sync_standby, "members": members});
    ([(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

async fn history(State(s): State<Arc<Shared>>) -> Response {
    let h = s.view.lock().unwrap().history.clone();
    let rows: Vec<_> = h.iter().map(|(tl, lsn, reason, at, leader)| json!([tl, lsn, reason, at, leader])).collect();
    ([(header::CONTENT_TYPE, "application/json")], serde_json::Value::Array(rows).to_string()).into_response()
}

async fn metrics(State(s): State<Arc<Shared>>) -> Response {
    let (primary, replica) = (is_primary(&s), is_replica(&s));
    let v = s.view.lock().unwrap().clone();
    let scope = || vec![("scope", v.cluster.clone())];
    let mut m = Scrape::new();
    m.gauges("triad_keeper_primary", "1 if this host is the lease-holding primary", [(scope(), primary as u64)]);
    m.gauges("triad_keeper_replica", "1 if this host is a streaming standby", [(scope(), replica as u64)]);
    m.gauges("triad_keeper_postgres_running", "1 if PostgreSQL runs", [(scope(), v.running as u64)]);
    m.gauges("triad_keeper_timeline", "PostgreSQL timeline", [(scope(), v.timeline.into())]);
    m.gauges("triad_keeper_wal_position_bytes", "WAL position (written on the primary, replayed on standbys)", [(scope(), v.lsn)]);
    m.gauges("triad_keeper_dcs_ok", "1 if the coordinator answered the last round", [(scope(), v.dcs_ok as u64)]);
    ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], m.text()).into_response()
}
