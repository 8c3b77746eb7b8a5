//! Server-rendered pages: plain HTML forms that work without JavaScript; the data-load form
//! adds a few lines of script for its progress bar.
//!
//! Pages are maud templates: every value spliced in with `(...)` is HTML-escaped, so a model,
//! cube or user name can never become markup; only the style sheet and the upload script are
//! inserted verbatim, and both are fixed files of this crate.

mod lists;
mod model;

use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::db::User;
use crate::editor::FieldError;
use crate::roles::role_name;

pub use lists::{audit, cluster, home, users};
pub use model::{ModelPage, model};

const STYLE: &str = include_str!("style.css");

pub fn layout(title: &str, user: Option<&User>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html {
            head {
                meta charset="utf-8";
                title { (title) " · Triad Design Center" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    strong { "Triad Design Center" }
                    @if let Some(u) = user {
                        a href="/" { "Models" }
                        a href="/users" { "Users" }
                        a href="/cluster" { "Cluster" }
                        a href="/audit" { "Audit log" }
                        span style="margin-left:auto" { (u.name) " (" (role_name(u.role)) ")" }
                        form.inline method="post" action="/logout" { button { "Log out" } }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// The messages of `errors` about `field`, each shown next to its input as `#err-FIELD`.
fn field_error(errors: &[FieldError], field: &str) -> Markup {
    html! {
        @for e in errors.iter().filter(|e| e.field == field) {
            span.err id={ "err-" (field) } { (e.message) }
        }
    }
}

/// The outcome of the last action: `#message` when it was done, `#error` when it was refused.
pub fn notice(message: Option<&str>, error: Option<&str>) -> Markup {
    html! {
        @if let Some(m) = message { p.msg #message { (m) } }
        @if let Some(e) = error { p.bad #error { (e) } }
    }
}

pub fn login(error: Option<&str>) -> Markup {
    let body = html! {
        (notice(None, error))
        form method="post" action="/login" {
            p { label { "User " input #name name="name" autofocus; } }
            p { label { "Password " input #password type="password" name="password"; } }
            button #login { "Log in" }
        }
    };
    layout("Log in", None, body)
}

pub fn passive(me: &str, holder: Option<&str>) -> Markup {
    let body = html! {
        p.bad #passive {
            "This designer (" (me) ") is the passive one; the active designer is " (holder.unwrap_or("being elected"))
            ". The balancer sends you there; if it just failed, this one takes over within the designer lease — reload in a few seconds."
        }
    };
    layout("Standing by", None, body)
}

#[cfg(test)]
mod tests;
