//! Server-rendered pages: plain HTML forms that work without JavaScript; the data-load form
//! adds a few lines of script for its progress bar.

use triad_changelog::model::{Model, ModelError};

use crate::db::{AuditEntry, ModelSummary, User, Version};
use crate::editor::FieldError;
use crate::roles::role_name;

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#222}header{background:#1d3557;color:#fff;padding:.6em 1.2em;display:flex;gap:1.5em;align-items:center}
header a{color:#fff;text-decoration:none}main{padding:1em 1.5em;max-width:70em}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
.err{color:#b00020;font-size:.9em;margin-left:.4em}.msg{background:#e6f4ea;padding:.5em;border-left:4px solid #2e7d32}.bad{background:#fdecea;padding:.5em;border-left:4px solid #b00020}
fieldset{margin:.6em 0;border:1px solid #ccc}form.inline{display:inline}pre{background:#f5f5f5;padding:.6em}progress{width:20em}.cube{border:1px solid #aac;padding:.4em .8em;margin:.6em 0}";

pub fn layout(title: &str, user: Option<&User>, body: &str) -> String {
    let nav = match user {
        Some(u) => format!(
            "<a href=\"/\">Models</a><a href=\"/users\">Users</a><a href=\"/cluster\">Cluster</a><a href=\"/audit\">Audit log</a><span style=\"margin-left:auto\">{} ({})</span><form class=\"inline\" method=\"post\" action=\"/logout\"><button>Log out</button></form>",
            esc(&u.name),
            role_name(u.role)
        ),
        None => String::new(),
    };
    format!("<!doctype html><html><head><meta charset=\"utf-8\"><title>{t} · Triad Design Center</title><style>{STYLE}</style></head><body><header><strong>Triad Design Center</strong>{nav}</header><main><h1>{t}</h1>{body}</main></body></html>", t = esc(title))
}

fn field_error(errors: &[FieldError], field: &str) -> String {
    errors.iter().filter(|e| e.field == field).map(|e| format!("<span class=\"err\" id=\"err-{}\">{}</span>", esc(field), esc(&e.message))).collect()
}

pub fn notice(message: Option<&str>, error: Option<&str>) -> String {
    let mut s = String::new();
    if let Some(m) = message {
        s += &format!("<p class=\"msg\" id=\"message\">{}</p>", esc(m));
    }
    if let Some(e) = error {
        s += &format!("<p class=\"bad\" id=\"error\">{}</p>", esc(e));
    }
    s
}

pub fn login(error: Option<&str>) -> String {
    layout(
        "Log in",
        None,
        &format!(
            "{}<form method=\"post\" action=\"/login\"><p><label>User <input name=\"name\" id=\"name\" autofocus></label></p><p><label>Password <input type=\"password\" name=\"password\" id=\"password\"></label></p><button id=\"login\">Log in</button></form>",
            notice(None, error)
        ),
    )
}

pub fn home(user: &User, models: &[ModelSummary], errors: &[FieldError], message: Option<&str>, error: Option<&str>) -> String {
    let mut rows = String::new();
    for m in models {
        rows += &format!(
            "<tr><td><a href=\"/models/{n}\">{n}</a></td><td>{}</td><td>{}</td></tr>",
            m.latest_version,
            m.published_version.map(|v| v.to_string()).unwrap_or_else(|| "not published".into()),
            n = esc(&m.name)
        );
    }
    let body = format!(
        "{}<table id=\"models\"><tr><th>Model</th><th>Latest version</th><th>Published</th></tr>{rows}</table>
<form method=\"post\" action=\"/models\"><fieldset><legend>New model</legend><input name=\"name\" id=\"new-model\" placeholder=\"name\">{}<button id=\"create-model\">Create</button></fieldset></form>",
        notice(message, error),
        field_error(errors, "name")
    );
    layout("Models", Some(user), &body)
}

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

pub fn model(p: &ModelPage) -> String {
    let name = esc(&p.summary.name);
    let base = p.summary.latest_version;
    let errs = |form: &str| if p.failed_form == form { p.errors } else { &[] };
    let mut body = notice(p.message, p.error);
    body += &format!(
        "<p>Editing version {base}{}.</p>",
        p.summary.published_version.map(|v| format!("; version {v} is published")).unwrap_or_else(|| "; not published yet".into())
    );
    if !p.problems.is_empty() {
        body += "<div class=\"bad\" id=\"problems\"><strong>Not publishable yet:</strong><ul>";
        for e in p.problems {
            body += &format!("<li><code>{}</code>: {}</li>", esc(&e.path), esc(&e.message));
        }
        body += "</ul></div>";
    }
    let hidden = |op: &str, cube: &str| format!("<input type=\"hidden\" name=\"op\" value=\"{op}\"><input type=\"hidden\" name=\"base\" value=\"{base}\"><input type=\"hidden\" name=\"cube\" value=\"{}\">", esc(cube));
    for c in &p.model.cubes {
        let cn = esc(&c.name);
        body += &format!("<div class=\"cube\" id=\"cube-{cn}\"><h2>Cube {cn}</h2><table><tr><th>Column</th><th>Kind</th><th>Details</th><th></th></tr>");
        for d in &c.dimensions {
            let mut members = d.members.as_ref().map(|m| m.join(", ")).unwrap_or_else(|| "open (any member)".into());
            if !d.levels.is_empty() {
                members += &format!("; hierarchy: {} → {}", d.name, d.levels.iter().map(|l| l.name.as_str()).collect::<Vec<_>>().join(" → "));
            }
            body += &format!(
                "<tr><td>{}</td><td>dimension</td><td>{}</td><td><form class=\"inline\" method=\"post\" action=\"/models/{name}/edit\">{}<input type=\"hidden\" name=\"name\" value=\"{}\"><button>Remove</button></form></td></tr>",
                esc(&d.name),
                esc(&members),
                hidden("remove_dimension", &c.name),
                esc(&d.name)
            );
        }
        for m in &c.measures {
            body += &format!(
                "<tr><td>{}</td><td>measure</td><td>{}, {}</td><td><form class=\"inline\" method=\"post\" action=\"/models/{name}/edit\">{}<input type=\"hidden\" name=\"name\" value=\"{}\"><button>Remove</button></form></td></tr>",
                esc(&m.name),
                format!("{:?}", m.kind).to_lowercase(),
                format!("{:?}", m.aggregation).to_lowercase(),
                hidden("remove_measure", &c.name),
                esc(&m.name)
            );
        }
        let de = errs(&format!("dim:{}", c.name));
        let me = errs(&format!("measure:{}", c.name));
        body += &format!(
            "</table>
<form method=\"post\" action=\"/models/{name}/edit\"><fieldset><legend>Add a dimension</legend>{h}<input name=\"name\" id=\"dim-name-{cn}\" placeholder=\"name\">{e1} <input name=\"members\" id=\"dim-members-{cn}\" placeholder=\"members, comma-separated (empty: open)\" size=\"40\">{e2} <button id=\"add-dim-{cn}\">Add dimension</button>{e0}</fieldset></form>
<form method=\"post\" action=\"/models/{name}/edit\"><fieldset><legend>Add a measure</legend>{h2}<input name=\"name\" id=\"measure-name-{cn}\" placeholder=\"name\">{e3} <select name=\"type\" id=\"measure-type-{cn}\"><option>decimal</option><option>integer</option><option>float</option></select>{e4} <select name=\"aggregation\" id=\"measure-agg-{cn}\"><option>sum</option><option>min</option><option>max</option><option>avg</option><option>count</option></select>{e5} <button id=\"add-measure-{cn}\">Add measure</button></fieldset></form>
<form class=\"inline\" method=\"post\" action=\"/models/{name}/edit\">{h3}<button>Remove cube {cn}</button></form>",
            h = hidden("add_dimension", &c.name),
            h2 = hidden("add_measure", &c.name),
            h3 = hidden("remove_cube", &c.name),
            e0 = field_error(de, "cube"),
            e1 = field_error(de, "name"),
            e2 = field_error(de, "members"),
            e3 = field_error(me, "name"),
            e4 = field_error(me, "type"),
            e5 = field_error(me, "aggregation"),
        );
        if let Some(pc) = p.published.and_then(|m| m.cube(&c.name)) {
            let columns: Vec<&str> = pc.dimensions.iter().map(|d| d.name.as_str()).chain(pc.measures.iter().map(|m| m.name.as_str())).collect();
            body += &format!(
                "<fieldset><legend>Load data (CSV, header: {cols})</legend><input type=\"file\" id=\"csv-{cn}\" accept=\".csv,text/csv\"> <button type=\"button\" id=\"load-{cn}\" onclick=\"load('{cn}')\">Load</button> <progress id=\"progress-{cn}\" max=\"100\" value=\"0\"></progress><div id=\"report-{cn}\"></div></fieldset>",
                cols = esc(&columns.join(","))
            );
        }
        body += "</div>";
    }
    body += &format!(
        "<form method=\"post\" action=\"/models/{name}/edit\"><fieldset><legend>Add a cube</legend>{}<input name=\"name\" id=\"cube-name\" placeholder=\"name\">{} <button id=\"add-cube\">Add cube</button></fieldset></form>",
        hidden("add_cube", ""),
        field_error(errs("cube"), "name")
    );
    body += "<h2>Versions</h2><table id=\"versions\"><tr><th>Version</th><th>Saved by</th><th>At</th><th></th></tr>";
    for v in p.versions {
        let label = match p.summary.published_version {
            Some(pv) if pv == v.version => "published".to_string(),
            Some(pv) if pv > v.version => format!("<button id=\"publish-{}\">Roll back to this</button>", v.version),
            _ => format!("<button id=\"publish-{}\">Publish</button>", v.version),
        };
        let action = if label == "published" { label } else { format!("<form class=\"inline\" method=\"post\" action=\"/models/{name}/publish\"><input type=\"hidden\" name=\"version\" value=\"{}\">{label}</form>", v.version) };
        body += &format!("<tr><td>{}</td><td>{}</td><td>{}</td><td>{action}</td></tr>", v.version, esc(&v.saved_by), esc(&v.saved_at));
    }
    body += "</table>";
    body += &format!(
        "<script>
function load(cube) {{
  const f = document.getElementById('csv-' + cube).files[0];
  const report = document.getElementById('report-' + cube);
  if (!f) {{ report.innerHTML = '<p class=\"bad\">Choose a CSV file first.</p>'; return; }}
  const x = new XMLHttpRequest();
  x.open('POST', '/models/{name}/cubes/' + cube + '/load');
  x.setRequestHeader('Content-Type', 'text/csv');
  x.upload.onprogress = e => {{ if (e.lengthComputable) document.getElementById('progress-' + cube).value = 100 * e.loaded / e.total; }};
  x.onload = () => {{
    let r; try {{ r = JSON.parse(x.responseText); }} catch (e) {{ r = {{error: x.responseText}}; }}
    const esc = s => String(s).replace(/[&<>\"]/g, c => ({{'&':'&amp;','<':'&lt;','>':'&gt;','\"':'&quot;'}})[c]);
    if (x.status === 200) report.innerHTML = '<p class=\"msg\" id=\"loaded-' + cube + '\">Loaded ' + r.rows + ' rows (change log position ' + r.log_position + ').</p>';
    else if (r.rejected) report.innerHTML = '<div class=\"bad\" id=\"rejected-' + cube + '\">Nothing was loaded: ' + r.rejected.length + ' rejected row(s).<ul>' + r.rejected.map(j => '<li>line ' + j.line + ': ' + esc(j.message) + '</li>').join('') + '</ul></div>';
    else report.innerHTML = '<p class=\"bad\">' + esc(r.error || x.statusText) + '</p>';
  }};
  x.onerror = () => {{ report.innerHTML = '<p class=\"bad\">The upload failed (the designer may be changing hosts): try again.</p>'; }};
  x.send(f);
}}
</script>"
    );
    layout(&format!("Model {}", p.summary.name), Some(p.user), &body)
}

pub fn users(me: &User, list: &[User], profiles: &[String], errors: &[FieldError], message: Option<&str>, error: Option<&str>) -> String {
    let mut rows = String::new();
    for u in list {
        rows += &format!(
            "<tr><td>{n}</td><td>{}</td><td>{}</td><td><form class=\"inline\" method=\"post\" action=\"/users/{n}/delete\"><button>Delete</button></form></td></tr>",
            role_name(u.role),
            esc(u.profile.as_deref().unwrap_or("")),
            n = esc(&u.name)
        );
    }
    let options: String = std::iter::once(String::new()).chain(profiles.iter().cloned()).map(|p| format!("<option value=\"{0}\">{0}</option>", esc(&p))).collect();
    let body = format!(
        "{}<table id=\"users\"><tr><th>User</th><th>Role</th><th>Profile</th><th></th></tr>{rows}</table>
<form method=\"post\" action=\"/users\"><fieldset><legend>New user</legend>
<p><input name=\"name\" id=\"user-name\" placeholder=\"name\">{}</p>
<p><input type=\"password\" name=\"password\" id=\"user-password\" placeholder=\"password (at least 8 characters)\">{}</p>
<p><select name=\"role\" id=\"user-role\"><option>viewer</option><option>modeler</option><option>admin</option></select>{}
 profile <select name=\"profile\" id=\"user-profile\">{options}</select>{}</p>
<button id=\"create-user\">Create user</button></fieldset></form>",
        notice(message, error),
        field_error(errors, "name"),
        field_error(errors, "password"),
        field_error(errors, "role"),
        field_error(errors, "profile"),
    );
    layout("Users", Some(me), &body)
}

pub fn cluster(me: &User, table: &str, health: &[(String, String, Option<u16>)], active: &str) -> String {
    let mut rows = String::new();
    for (host, service, code) in health {
        let state = match code {
            Some(200) => "up".to_string(),
            Some(503) => "standing by (503)".to_string(),
            Some(c) => format!("answers {c}"),
            None => "unreachable".to_string(),
        };
        rows += &format!("<tr><td>{}</td><td>{}</td><td>{}</td></tr>", esc(host), esc(service), esc(&state));
    }
    let body = format!(
        "<meta http-equiv=\"refresh\" content=\"5\"><p>Active designer: <strong>{}</strong>. Refreshes every 5 s.</p><h2>Database (triadctl list)</h2><pre id=\"keeper-table\">{}</pre><h2>Services</h2><table id=\"health\"><tr><th>Host</th><th>Service</th><th>State</th></tr>{rows}</table>",
        esc(active),
        esc(table)
    );
    layout("Cluster", Some(me), &body)
}

pub fn audit(me: &User, entries: &[AuditEntry]) -> String {
    let mut rows = String::new();
    for e in entries {
        rows += &format!("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>", esc(&e.at), esc(&e.who), esc(&e.action), esc(&e.target), esc(&e.detail.to_string()));
    }
    layout("Audit log", Some(me), &format!("<table id=\"audit\"><tr><th>When (UTC)</th><th>Who</th><th>What</th><th>Target</th><th>Details</th></tr>{rows}</table>"))
}

pub fn passive(me: &str, holder: Option<&str>) -> String {
    layout(
        "Standing by",
        None,
        &format!(
            "<p class=\"bad\" id=\"passive\">This designer ({}) is the passive one; the active designer is {}. The balancer sends you there; if it just failed, this one takes over within the designer lease — reload in a few seconds.</p>",
            esc(me),
            esc(holder.unwrap_or("being elected"))
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_shown_is_escaped() {
        assert_eq!(esc("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        let e = [FieldError { field: "name".into(), message: "<bad>".into() }];
        assert_eq!(field_error(&e, "name"), "<span class=\"err\" id=\"err-name\">&lt;bad&gt;</span>");
        assert_eq!(field_error(&e, "type"), "");
    }
}
