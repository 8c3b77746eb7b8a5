//! The REST API's OpenAPI 3.1 document (served at /api/openapi.json). A test checks that it
//! lists exactly the routes `web::router` serves under /api.

use serde_json::{Value, json};

/// (method, path, summary, request body schema name or "", success status)
pub const OPERATIONS: &[(&str, &str, &str, &str, u16)] = &[
    ("get", "/api/models", "List models with their latest and published versions", "", 200),
    ("post", "/api/models", "Create an empty model (version 1)", "NewModel", 201),
    ("get", "/api/models/{name}", "A model's latest version, its problems and every version", "", 200),
    ("post", "/api/models/{name}/edits", "Apply one edit to version `base`, giving the next version", "ModelEdit", 200),
    ("post", "/api/models/{name}/publish", "Publish (or roll back to) a version on every engine, all or nothing", "Publish", 200),
    ("post", "/api/models/{name}/cubes/{cube}/load", "Load CSV rows into a published cube; any rejected row loads nothing", "Csv", 200),
    ("get", "/api/users", "List users (admin)", "", 200),
    ("post", "/api/users", "Create a user; the engines accept its SQL login (admin)", "NewUser", 201),
    ("delete", "/api/users/{name}", "Delete a user (admin)", "", 204),
    ("get", "/api/cluster", "Database members and every service's health", "", 200),
    ("get", "/api/audit", "The audit log, newest first", "", 200),
    ("get", "/api/openapi.json", "This document", "", 200),
    ("get", "/health", "200 on the active designer, 503 on the passive one", "", 200),
];

pub fn document() -> Value {
    let mut paths = serde_json::Map::new();
    for (method, path, summary, body, ok) in OPERATIONS {
        let params: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut op = json!({
            "summary": summary,
            "parameters": params,
            "responses": {
                ok.to_string(): {"description": "done"},
                "401": {"description": "no valid session or Basic credentials"},
                "403": {"description": "the caller's role lacks the right"},
                "409": {"description": "refused (exists already, changed meanwhile)"},
                "422": {"description": "invalid input: `fields` or `errors` name each problem; nothing was changed"},
                "503": {"description": "passive designer, or the cluster database is unreachable; nothing was changed"}
            }
        });
        if *body == "Csv" {
            op["requestBody"] = json!({"required": true, "content": {"text/csv": {"schema": {"type": "string"}}}});
        } else if !body.is_empty() {
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{body}")}}}});
        }
        paths.entry(path.to_string()).or_insert_with(|| json!({})).as_object_mut().unwrap().insert(method.to_string(), op);
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Triad Design Center", "version": env!("CARGO_PKG_VERSION")},
        "security": [{"basic": []}, {"session": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "basic": {"type": "http", "scheme": "basic"},
                "session": {"type": "apiKey", "in": "cookie", "name": "triad_session"}
            },
            "schemas": {
                "NewModel": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
                "ModelEdit": {"type": "object", "required": ["base", "edit"], "properties": {
                    "base": {"type": "integer"},
                    "edit": {"type": "object", "required": ["op"], "properties": {
                        "op": {"enum": ["add_cube", "remove_cube", "add_dimension", "remove_dimension", "add_measure", "remove_measure"]},
                        "cube": {"type": "string"}, "name": {"type": "string"}, "members": {"type": "string", "description": "comma-separated; empty for an open dimension"},
                        "type": {"enum": ["integer", "decimal", "float"]}, "aggregation": {"enum": ["sum", "min", "max", "avg", "count"]}}}}},
                "Publish": {"type": "object", "required": ["version"], "properties": {"version": {"type": "integer"}}},
                "NewUser": {"type": "object", "required": ["name", "password", "role"], "properties": {
                    "name": {"type": "string"}, "password": {"type": "string", "minLength": 8},
                    "role": {"enum": ["admin", "modeler", "viewer"]}, "profile": {"type": "string"}}}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The document and the router list the same API routes.
    #[test]
    fn every_served_api_route_is_documented_and_no_other() {
        let source = include_str!("web.rs");
        let mut served: Vec<&str> = source.split(".route(\"").skip(1).filter_map(|s| s.split('"').next()).filter(|p| p.starts_with("/api/") || *p == "/health").collect();
        served.sort();
        served.dedup();
        let mut documented: Vec<&str> = OPERATIONS.iter().map(|o| o.1).collect();
        documented.sort();
        documented.dedup();
        assert_eq!(served, documented);
        let doc = document();
        assert_eq!(doc["paths"]["/api/models"].as_object().unwrap().len(), 2);
        assert_eq!(doc["paths"]["/api/models/{name}/cubes/{cube}/load"]["post"]["parameters"].as_array().unwrap().len(), 2);
    }
}
