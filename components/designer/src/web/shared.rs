//! What the pages and the API both compute: a checked new user, and the cluster's state.

use std::collections::HashMap;
use std::time::Duration;

use triad_config::Role;

use super::App;
use crate::auth;
use crate::db::User;
use crate::editor::{self, FieldError};
use crate::roles;

/// The profile names of the cluster file, for the new-user form and its check.
pub(super) fn profiles(a: &App) -> Vec<String> {
    a.cluster.file().profiles.keys().cloned().collect()
}

/// A new user from form or JSON fields; every bad field at once.
pub(super) async fn new_user(a: &App, f: &HashMap<String, String>) -> Result<User, Vec<FieldError>> {
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

/// The keeper's table and every service's health probe.
pub(super) async fn cluster_state(a: &App) -> (String, Vec<(String, String, Option<u16>)>) {
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
