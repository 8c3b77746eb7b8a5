//! The model editor page: every cube with its columns and edit forms, the data-load form of
//! each published cube, and the versions with their publish / roll-back buttons.

use maud::{Markup, PreEscaped, html};
use triad_changelog::model::{Cube, Model, ModelError};

use super::{field_error, layout, notice};
use crate::db::{ModelSummary, User, Version};
use crate::editor::FieldError;

/// The upload script of the data-load forms (a fixed file: no server value is spliced in).
const LOAD_SCRIPT: &str = include_str!("load.js");

pub struct ModelPage<'a> {
    pub user: &'a User,
    pub summary: &'a ModelSummary,
    pub model: &'a Model,
    pub published: Option<&'a Model>,
    pub versions: &'a [Version],
    pub problems: &'a [ModelError],
    /// The form that failed (`cube` for the add-cube form, `dim:<cube>`, `measure:<cube>`).
    pub failed_form: &'a str,
    pub errors: &'a [FieldError],
    pub message: Option<&'a str>,
    pub error: Option<&'a str>,
}

impl ModelPage<'_> {
    /// The field errors to show in `form`: only the form that was submitted shows any.
    fn errors_of(&self, form: &str) -> &[FieldError] {
        if self.failed_form == form { self.errors } else { &[] }
    }

    /// Every edit form posts to the same URL; these fields say what to do, to which version
    /// (so a stale page is refused rather than merged) and in which cube.
    fn edit_fields(&self, op: &str, cube: &str) -> Markup {
        html! {
            input type="hidden" name="op" value=(op);
            input type="hidden" name="base" value=(self.summary.latest_version);
            input type="hidden" name="cube" value=(cube);
        }
    }

    fn edit_url(&self) -> String {
        format!("/models/{}/edit", self.summary.name)
    }

    fn remove_button(&self, op: &str, cube: &str, column: &str) -> Markup {
        html! {
            form.inline method="post" action=(self.edit_url()) {
                (self.edit_fields(op, cube))
                input type="hidden" name="name" value=(column);
                button { "Remove" }
            }
        }
    }
}

pub fn model(p: &ModelPage) -> Markup {
    let body = html! {
        (notice(p.message, p.error))
        p {
            "Editing version " (p.summary.latest_version)
            @match p.summary.published_version {
                Some(v) => { "; version " (v) " is published" }
                None => "; not published yet",
            }
            "."
        }
        @if !p.problems.is_empty() {
            div.bad #problems {
                strong { "Not publishable yet:" }
                ul { @for e in p.problems { li { code { (e.path) } ": " (e.message) } } }
            }
        }
        @for c in &p.model.cubes { (cube(p, c)) }
        form method="post" action=(p.edit_url()) {
            fieldset {
                legend { "Add a cube" }
                (p.edit_fields("add_cube", ""))
                input #cube-name name="name" placeholder="name";
                (field_error(p.errors_of("cube"), "name"))
                " "
                button #add-cube { "Add cube" }
            }
        }
        h2 { "Versions" }
        table #versions {
            tr { th { "Version" } th { "Saved by" } th { "At" } th {} }
            @for v in p.versions { (version_row(p, v)) }
        }
        script { (PreEscaped(LOAD_SCRIPT)) }
    };
    layout(&format!("Model {}", p.summary.name), Some(p.user), body)
}

fn cube(p: &ModelPage, c: &Cube) -> Markup {
    let cn = c.name.as_str();
    let dim_errors = p.errors_of(&format!("dim:{cn}"));
    let measure_errors = p.errors_of(&format!("measure:{cn}"));
    html! {
        div.cube id={ "cube-" (cn) } {
            h2 { "Cube " (cn) }
            table {
                tr { th { "Column" } th { "Kind" } th { "Details" } th {} }
                @for d in &c.dimensions {
                    tr {
                        td { (d.name) }
                        td { "dimension" }
                        td {
                            @match &d.members {
                                Some(m) => (m.join(", ")),
                                None => "open (any member)",
                            }
                            @if !d.levels.is_empty() {
                                "; hierarchy: " (d.name) " → " (d.levels.iter().map(|l| l.name.as_str()).collect::<Vec<_>>().join(" → "))
                            }
                        }
                        td { (p.remove_button("remove_dimension", cn, &d.name)) }
                    }
                }
                @for m in &c.measures {
                    tr {
                        td { (m.name) }
                        td { "measure" }
                        td { (format!("{:?}", m.kind).to_lowercase()) ", " (format!("{:?}", m.aggregation).to_lowercase()) }
                        td { (p.remove_button("remove_measure", cn, &m.name)) }
                    }
                }
            }
            form method="post" action=(p.edit_url()) {
                fieldset {
                    legend { "Add a dimension" }
                    (p.edit_fields("add_dimension", cn))
                    input id={ "dim-name-" (cn) } name="name" placeholder="name";
                    (field_error(dim_errors, "name"))
                    " "
                    input id={ "dim-members-" (cn) } name="members" placeholder="members, comma-separated (empty: open)" size="40";
                    (field_error(dim_errors, "members"))
                    " "
                    button id={ "add-dim-" (cn) } { "Add dimension" }
                    (field_error(dim_errors, "cube"))
                }
            }
            form method="post" action=(p.edit_url()) {
                fieldset {
                    legend { "Add a measure" }
                    (p.edit_fields("add_measure", cn))
                    input id={ "measure-name-" (cn) } name="name" placeholder="name";
                    (field_error(measure_errors, "name"))
                    " "
                    select id={ "measure-type-" (cn) } name="type" { option { "decimal" } option { "integer" } option { "float" } }
                    (field_error(measure_errors, "type"))
                    " "
                    select id={ "measure-agg-" (cn) } name="aggregation" {
                        option { "sum" } option { "min" } option { "max" } option { "avg" } option { "count" }
                    }
                    (field_error(measure_errors, "aggregation"))
                    " "
                    button id={ "add-measure-" (cn) } { "Add measure" }
                }
            }
            form.inline method="post" action=(p.edit_url()) {
                (p.edit_fields("remove_cube", cn))
                button { "Remove cube " (cn) }
            }
            @if let Some(pc) = p.published.and_then(|m| m.cube(cn)) { (load_form(p, pc)) }
        }
    }
}

/// Loading CSV into the published version of a cube (the header the file needs: its columns).
fn load_form(p: &ModelPage, published: &Cube) -> Markup {
    let cn = published.name.as_str();
    let columns: Vec<&str> = published.dimensions.iter().map(|d| d.name.as_str()).chain(published.measures.iter().map(|m| m.name.as_str())).collect();
    html! {
        fieldset {
            legend { "Load data (CSV, header: " (columns.join(",")) ")" }
            input type="file" id={ "csv-" (cn) } accept=".csv,text/csv";
            " "
            button type="button" id={ "load-" (cn) } data-url={ "/models/" (p.summary.name) "/cubes/" (cn) "/load" } data-cube=(cn) onclick="load(this.dataset.cube)" { "Load" }
            " "
            progress id={ "progress-" (cn) } max="100" value="0" {}
            div id={ "report-" (cn) } {}
        }
    }
}

/// A version with what can be done with it: nothing (it is the published one), roll back to it
/// (older than the published one) or publish it.
fn version_row(p: &ModelPage, v: &Version) -> Markup {
    let published = p.summary.published_version;
    html! {
        tr {
            td { (v.version) }
            td { (v.saved_by) }
            td { (v.saved_at) }
            td {
                @if published == Some(v.version) {
                    "published"
                } @else {
                    form.inline method="post" action={ "/models/" (p.summary.name) "/publish" } {
                        input type="hidden" name="version" value=(v.version);
                        button id={ "publish-" (v.version) } {
                            @if published.is_some_and(|pv| pv > v.version) { "Roll back to this" } @else { "Publish" }
                        }
                    }
                }
            }
        }
    }
}
