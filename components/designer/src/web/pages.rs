//! The pages: plain HTML forms over cookie sessions; a failure is shown as a page.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Form, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::Value;

use super::shared::{cluster_state, new_user, profiles};
use super::{App, Client, Failure, api, caller, db, pg};
use crate::auth::{self, COOKIE, Credentials};
use crate::db::User;
use crate::editor::{self, Edit, FieldError};
use crate::html;
use crate::roles::{self, Action};

pub fn router() -> Router<App> {
    Router::new()
        .route("/login", get(|| async { html::login(None) }).post(login))
        .route("/logout", post(logout))
        .route("/", get(home))
        .route("/models", post(create_model_form))
        .route("/models/{name}", get(model_page))
        .route("/models/{name}/edit", post(edit_form))
        .route("/models/{name}/publish", post(publish_form))
        // The page's upload goes to the API's handler (the script posts the file as is).
        .route("/models/{name}/cubes/{cube}/load", post(api::load).layer(DefaultBodyLimit::max(api::MAX_CSV)))
        .route("/users", get(users_page).post(create_user_form))
        .route("/users/{name}/delete", post(delete_user_form))
        .route("/cluster", get(cluster_page))
        .route("/audit", get(audit_page))
}

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
        return (StatusCode::UNAUTHORIZED, html::login(Some("wrong user name or password"))).into_response();
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
    page(&a, &headers, Action::Read, |c, u| async move { Ok(html::home(&u, &db::models(&c).await?, &[], None, None).into_response()) }).await
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
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, html::home(&u, &db::models(&c).await?, &errors, None, None)).into_response());
        }
        match db::create_model(&mut c, &u.name, &name).await {
            Ok(()) => Ok(Redirect::to(&format!("/models/{name}")).into_response()),
            Err(e) => match Failure::from(e) {
                Failure::Refused(r) => Ok((StatusCode::CONFLICT, html::home(&u, &db::models(&c).await?, &[FieldError { field: "name".into(), message: r.to_string() }], None, None)).into_response()),
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
    Ok((status, html::model(&p)).into_response())
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

async fn users_page(State(a): State<App>, headers: HeaderMap) -> Response {
    let profiles = profiles(&a);
    page(&a, &headers, Action::ManageUsers, |c, u| async move { Ok(html::users(&u, &db::users(&c).await?, &profiles, &[], None, None).into_response()) }).await
}

async fn create_user_form(State(a): State<App>, headers: HeaderMap, Form(f): Form<HashMap<String, String>>) -> Response {
    let profiles = profiles(&a);
    let a2 = a.clone();
    page(&a, &headers, Action::ManageUsers, |mut c, u| async move {
        let new = match new_user(&a2, &f).await {
            Ok(n) => n,
            Err(errors) => return Ok((StatusCode::UNPROCESSABLE_ENTITY, html::users(&u, &db::users(&c).await?, &profiles, &errors, None, Some("the user was not created"))).into_response()),
        };
        let (status, message, error) = match db::create_user(&mut c, &u.name, &a2.me, &new).await {
            Ok(()) => (StatusCode::OK, Some(format!("user {} created; the engines accept their SQL logins", new.name)), None),
            Err(e) => match Failure::from(e) {
                Failure::Refused(r) => (StatusCode::CONFLICT, None, Some(r.to_string())),
                other => return Err(other),
            },
        };
        Ok((status, html::users(&u, &db::users(&c).await?, &profiles, &[], message.as_deref(), error.as_deref())).into_response())
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
        Ok((status, html::users(&u, &db::users(&c).await?, &profiles, &[], message.as_deref(), error.as_deref())).into_response())
    })
    .await
}

async fn cluster_page(State(a): State<App>, headers: HeaderMap) -> Response {
    let (table, health) = cluster_state(&a).await;
    let active = a.me.clone();
    page(&a, &headers, Action::Read, |_c, u| async move { Ok(html::cluster(&u, &table, &health, &active).into_response()) }).await
}

async fn audit_page(State(a): State<App>, headers: HeaderMap) -> Response {
    page(&a, &headers, Action::Read, |c, u| async move { Ok(html::audit(&u, &db::audit_log(&c, 200).await?).into_response()) }).await
}

