//! The list pages: models (home), users, cluster state and the audit log.

use maud::{Markup, html};

use super::{field_error, layout, notice};
use crate::db::{AuditEntry, ModelSummary, User};
use crate::editor::FieldError;
use crate::roles::role_name;

pub fn home(user: &User, models: &[ModelSummary], errors: &[FieldError], message: Option<&str>, error: Option<&str>) -> Markup {
    let body = html! {
        (notice(message, error))
        table #models {
            tr { th { "Model" } th { "Latest version" } th { "Published" } }
            @for m in models {
                tr {
                    td { a href={ "/models/" (m.name) } { (m.name) } }
                    td { (m.latest_version) }
                    td {
                        @match m.published_version {
                            Some(v) => (v),
                            None => "not published",
                        }
                    }
                }
            }
        }
        form method="post" action="/models" {
            fieldset {
                legend { "New model" }
                input #new-model name="name" placeholder="name";
                (field_error(errors, "name"))
                button #create-model { "Create" }
            }
        }
    };
    layout("Models", Some(user), body)
}

pub fn users(me: &User, list: &[User], profiles: &[String], errors: &[FieldError], message: Option<&str>, error: Option<&str>) -> Markup {
    let body = html! {
        (notice(message, error))
        table #users {
            tr { th { "User" } th { "Role" } th { "Profile" } th {} }
            @for u in list {
                tr {
                    td { (u.name) }
                    td { (role_name(u.role)) }
                    td { (u.profile.as_deref().unwrap_or("")) }
                    td { form.inline method="post" action={ "/users/" (u.name) "/delete" } { button { "Delete" } } }
                }
            }
        }
        form method="post" action="/users" {
            fieldset {
                legend { "New user" }
                p { input #user-name name="name" placeholder="name"; (field_error(errors, "name")) }
                p { input #user-password type="password" name="password" placeholder="password (at least 8 characters)"; (field_error(errors, "password")) }
                p {
                    select #user-role name="role" { option { "viewer" } option { "modeler" } option { "admin" } }
                    (field_error(errors, "role"))
                    " profile "
                    // The empty first choice: no profile.
                    select #user-profile name="profile" {
                        option value="" {}
                        @for p in profiles { option value=(p) { (p) } }
                    }
                    (field_error(errors, "profile"))
                }
                button #create-user { "Create user" }
            }
        }
    };
    layout("Users", Some(me), body)
}

/// `health`: (host, service, HTTP status of its health probe, None when unreachable).
pub fn cluster(me: &User, table: &str, health: &[(String, String, Option<u16>)], active: &str) -> Markup {
    let body = html! {
        meta http-equiv="refresh" content="5";
        p { "Active designer: " strong { (active) } ". Refreshes every 5 s." }
        h2 { "Database (triadctl list)" }
        pre #keeper-table { (table) }
        h2 { "Services" }
        table #health {
            tr { th { "Host" } th { "Service" } th { "State" } }
            @for (host, service, code) in health {
                tr {
                    td { (host) }
                    td { (service) }
                    td {
                        @match code {
                            Some(200) => "up",
                            Some(503) => "standing by (503)",
                            Some(c) => { "answers " (c) }
                            None => "unreachable",
                        }
                    }
                }
            }
        }
    };
    layout("Cluster", Some(me), body)
}

pub fn audit(me: &User, entries: &[AuditEntry]) -> Markup {
    let body = html! {
        table #audit {
            tr { th { "When (UTC)" } th { "Who" } th { "What" } th { "Target" } th { "Details" } }
            @for e in entries {
                tr { td { (e.at) } td { (e.who) } td { (e.action) } td { (e.target) } td { code { (e.detail.to_string()) } } }
            }
        }
    };
    layout("Audit log", Some(me), body)
}
