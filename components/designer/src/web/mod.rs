//! The HTTP side: pages (`pages`, cookie sessions) and the REST API under /api (`api`,
//! session or Basic credentials), both thin over `db`, `editor`, `roles` and triad-changelog's
//! `csvload`. While this instance is passive every route but /health and /api/openapi.json
//! answers 503.
//!
//! This module holds what both sides share: the application state, who is calling, and how a
//! failure is told (a page or JSON).

mod api;
mod bodies;
mod pages;
mod shared;

use std::sync::Arc;

use axum::Router;
use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;
use triad_config::Cluster;

/// A pooled connection to the cluster database (derefs to `tokio_postgres::Client`).
type Client = deadpool_postgres::Object;

use crate::active::Status;
use crate::auth::{self, Credentials};
use crate::db::{self, Refusal, User};
use crate::editor::FieldError;
use crate::html;
use crate::roles::{self, Action};

pub use api::{always_served, served_while_active};

#[derive(Clone)]
pub struct App {
    pub cluster: Cluster,
    pub me: String,
    pub db: deadpool_postgres::Pool,
    pub status: Arc<Status>,
    pub dcs: Option<triad_dcs::Dcs>,
}

/// The pages and the API. The API's routes come from `api`'s two lists, the very lists the
/// OpenAPI document is generated from (`openapi::document`), so no route goes undocumented.
pub fn router(app: App) -> Router {
    let (gated_api, _) = served_while_active().split_for_parts();
    let (open_api, _) = always_served().split_for_parts();
    pages::router()
        .merge(gated_api)
        .layer(middleware::from_fn_with_state(app.clone(), only_when_active))
        .merge(open_api)
        .with_state(app)
}

async fn only_when_active(State(a): State<App>, req: Request, next: Next) -> Response {
    if a.status.is_active() {
        return next.run(req).await;
    }
    let holder = a.status.holder();
    let mut r = if req.uri().path().starts_with("/api/") {
        Json(json!({"error": format!("this designer ({}) is passive; the active designer is {}", a.me, holder.as_deref().unwrap_or("being elected"))})).into_response()
    } else {
        html::passive(&a.me, holder.as_deref()).into_response()
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
        (status, html::layout("Not done", user, html::notice(None, Some(&self.message())))).into_response()
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


#[cfg(test)]
mod tests;
