//! Who may call the engine's HTTP API (issue 19). It used to answer anyone who reached the
//! balancer: anybody could publish a model or write cells, whatever the designer's roles said.
//! Now every `/api/...` request carries HTTP Basic credentials of a user the engines know
//! (the cluster file's `[[users]]` and the designer's users, with their argon2 hashes and
//! roles, the same as SQL logins), and the user's role must allow what the request does.
//! `/health` and `/metrics` stay open: the balancers and Prometheus ask them without a user.
//!
//! argon2 is slow on purpose (tens of milliseconds; far more in a debug build), and a loader
//! sends many requests, so a successful check is remembered: a later request with the same
//! password for the same stored hash is compared by SHA-256 instead. A changed password (a
//! new hash) forgets it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sha2::{Digest, Sha256};
use triad_config::UserRole;

use crate::engine::Engine;

/// What a request does, so which role it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Open to anyone who reaches the port: health checks and metrics.
    Nothing,
    /// Any user the engines know, whatever the role: reading models, cubes and loads.
    Read,
    /// A modeler or an admin: writing cells (rows, CSV loads).
    WriteCells,
    /// A modeler or an admin: publishing a model.
    Publish,
}

/// The rule: what `method path` needs.
pub fn need(method: &Method, path: &str) -> Need {
    if !path.starts_with("/api/") {
        return Need::Nothing;
    }
    match (method, path) {
        (&Method::GET | &Method::HEAD, _) => Need::Read,
        // Checking a model changes nothing.
        (_, "/api/models/validate") => Need::Read,
        (_, "/api/models") => Need::Publish,
        // Every other request that is not a read changes something; the strictest rule.
        _ => Need::WriteCells,
    }
}

/// The rule: whether `user` with `role` (`None`: the engines were never told) may do what
/// `need` says, or the refusal's words.
pub fn allowed(user: &str, role: Option<UserRole>, need: Need) -> Result<(), String> {
    match need {
        Need::Nothing | Need::Read => Ok(()),
        Need::WriteCells => crate::user_roles::may_change(user, role, "writing cells"),
        Need::Publish => crate::user_roles::may_change(user, role, "publishing a model"),
    }
}

/// The user and password of an `Authorization: Basic` header, or what is wrong with it.
pub fn basic_credentials(headers: &HeaderMap) -> Result<(String, String), String> {
    use base64::Engine as _;
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err("this API needs a user: send HTTP Basic credentials of a user of the designer or of [[users]] (curl -u NAME)".into());
    };
    let value = value.to_str().map_err(|_| "the Authorization header is not text".to_string())?;
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Err("the Authorization header must be `Basic <base64 of name:password>`".into());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(format!("the Authorization scheme {scheme:?} is not supported: use Basic"));
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|_| "the Basic credentials are not base64".to_string())?;
    let text = String::from_utf8(decoded).map_err(|_| "the Basic credentials are not UTF-8".to_string())?;
    let (user, password) = text.split_once(':').ok_or_else(|| "the Basic credentials must be name:password".to_string())?;
    Ok((user.to_string(), password.to_string()))
}

/// Successful password checks: user -> (the stored hash checked against, SHA-256 of the
/// password that matched it).
#[derive(Default)]
pub struct Verified(Mutex<HashMap<String, (String, [u8; 32])>>);

impl Verified {
    /// Whether `password` is `user`'s: from memory when this very password matched this very
    /// stored hash before, else by argon2 (through the SQL logins' check).
    pub async fn check(&self, engine: &Engine, user: &str, password: &str) -> bool {
        let Some(hash) = engine.users.read().unwrap().get(user).cloned() else { return false };
        let digest: [u8; 32] = Sha256::digest(password.as_bytes()).into();
        if self.0.lock().unwrap().get(user).is_some_and(|(h, d)| *h == hash && *d == digest) {
            return true;
        }
        if !crate::auth::verify_hash(hash.clone(), password.to_string()).await {
            return false;
        }
        self.0.lock().unwrap().insert(user.to_string(), (hash, digest));
        true
    }
}

fn refuse(code: StatusCode, error: String) -> Response {
    let mut response = (code, axum::Json(json!({"error": error}))).into_response();
    if code == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Basic realm=\"triad\", charset=\"UTF-8\""));
    }
    response
}

/// The signed-in user of a request that passed [`gate`] (absent on open paths).
#[derive(Debug, Clone)]
pub struct User(pub String);

/// What [`gate`] checks with: the engine's users and roles, and the checks already made.
#[derive(Clone)]
pub struct Gate {
    pub engine: Arc<Engine>,
    pub verified: Arc<Verified>,
}

/// Middleware on the client port: lets a request through only with a user whose role allows it.
pub async fn gate(State(a): State<Gate>, mut request: Request, next: Next) -> Response {
    let need = need(request.method(), request.uri().path());
    if need == Need::Nothing {
        return next.run(request).await;
    }
    let (user, password) = match basic_credentials(request.headers()) {
        Ok(c) => c,
        Err(e) => return refuse(StatusCode::UNAUTHORIZED, e),
    };
    if !a.verified.check(&a.engine, &user, &password).await {
        tracing::warn!(user = %user, path = %request.uri().path(), "HTTP API: wrong user name or password");
        return refuse(StatusCode::UNAUTHORIZED, "wrong user name or password".into());
    }
    let role = a.engine.roles.read().unwrap().get(&user).copied();
    if let Err(e) = allowed(&user, role, need) {
        return refuse(StatusCode::FORBIDDEN, e);
    }
    request.extensions_mut().insert(User(user));
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_each_request_needs() {
        for (method, path, want) in [
            (Method::GET, "/health", Need::Nothing),
            (Method::GET, "/metrics", Need::Nothing),
            (Method::POST, "/health", Need::Nothing),
            (Method::GET, "/api/status", Need::Read),
            (Method::GET, "/api/models", Need::Read),
            (Method::HEAD, "/api/cubes", Need::Read),
            (Method::GET, "/api/loads/3", Need::Read),
            (Method::POST, "/api/models/validate", Need::Read),
            (Method::POST, "/api/models", Need::Publish),
            (Method::POST, "/api/cubes/m/c/rows", Need::WriteCells),
            (Method::POST, "/api/cubes/m/c/csv", Need::WriteCells),
            (Method::DELETE, "/api/models", Need::Publish),
            (Method::PUT, "/api/anything", Need::WriteCells),
        ] {
            assert_eq!(need(&method, path), want, "{method} {path}");
        }
    }

    #[test]
    fn roles_against_needs() {
        use UserRole::*;
        for (role, need, ok, words) in [
            (Some(Viewer), Need::Read, true, ""),
            (None, Need::Read, true, ""),
            (Some(Viewer), Need::WriteCells, false, "is a viewer; writing cells"),
            (Some(Viewer), Need::Publish, false, "is a viewer; publishing a model"),
            (Some(Modeler), Need::WriteCells, true, ""),
            (Some(Modeler), Need::Publish, true, ""),
            (Some(Admin), Need::Publish, true, ""),
            (None, Need::Publish, false, "do not know the role"),
            (None, Need::WriteCells, false, "do not know the role"),
        ] {
            let got = allowed("vic", role, need);
            assert_eq!(got.is_ok(), ok, "{role:?} {need:?}");
            assert!(got.err().unwrap_or_default().contains(words), "{role:?} {need:?}");
        }
    }

    #[test]
    fn basic_headers() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, v.parse().unwrap());
            basic_credentials(&h)
        };
        assert!(basic_credentials(&HeaderMap::new()).unwrap_err().contains("needs a user"));
        // "ann:pa:ss" — a password may hold a colon; the name may not.
        assert_eq!(with("Basic YW5uOnBhOnNz").unwrap(), ("ann".into(), "pa:ss".into()));
        assert_eq!(with("basic YW5uOnBhOnNz").unwrap().0, "ann");
        assert!(with("Bearer abc").unwrap_err().contains("\"Bearer\" is not supported"));
        assert!(with("Basic !!!").unwrap_err().contains("not base64"));
        assert!(with("Basic YW5u").unwrap_err().contains("name:password"));
        assert!(with("Basic").unwrap_err().contains("Basic <base64"));
    }
}
