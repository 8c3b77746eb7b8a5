//! The router serves exactly the API the OpenAPI document describes. Routes are asked in
//! process, with a database that refuses connections: a mounted route answers something
//! (401, 415, 503, ...), an unmounted path 404, a method not served on a path 405.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use tower::ServiceExt;

use super::*;

const METHODS: [Method; 5] = [Method::GET, Method::POST, Method::PUT, Method::DELETE, Method::PATCH];

fn app() -> App {
    let cluster = Cluster::parse("example", include_str!("../../../../docs/examples/cluster.toml")).unwrap();
    // Port 1 on loopback: every connection is refused at once, so handlers answer 503 quickly.
    let mut config = tokio_postgres::Config::new();
    config.host("127.0.0.1").port(1).user("nobody").dbname("none");
    let status = Arc::new(Status::default());
    // Active, so requests reach the routes (a passive designer answers 503 before routing
    // tells a wrong method from a right one).
    status.active.store(true, std::sync::atomic::Ordering::SeqCst);
    App { cluster, me: "app1".into(), db: db::pool(config), status, dcs: None }
}

/// (method, path) of every documented operation, path parameters filled in.
fn documented() -> BTreeSet<(Method, String)> {
    let doc = serde_json::to_value(crate::openapi::document()).unwrap();
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete = path.replace("{name}", "m").replace("{cube}", "c");
        for method in item.as_object().unwrap().keys() {
            ops.insert((method.to_uppercase().parse::<Method>().unwrap(), concrete.clone()));
        }
    }
    ops
}

async fn status_of(router: Router, method: Method, path: &str) -> StatusCode {
    let req = Request::builder().method(method).uri(path).body(Body::empty()).unwrap();
    router.oneshot(req).await.unwrap().status()
}

#[tokio::test]
async fn every_api_route_is_documented_and_every_documented_route_served() {
    let router = router(app());
    let documented = documented();
    assert!(documented.len() >= 13, "{documented:?}");
    let paths: BTreeSet<&String> = documented.iter().map(|(_, p)| p).collect();
    for path in paths {
        for method in METHODS {
            let status = status_of(router.clone(), method.clone(), path).await;
            if documented.contains(&(method.clone(), path.clone())) {
                assert!(status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED, "{method} {path} is documented but not served ({status})");
            } else {
                assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path} is served but not documented");
            }
        }
    }
    // The API routes come only from the documented lists: the pages mount nothing under /api.
    for path in documented.iter().map(|(_, p)| p).chain([&"/api/anything".to_string()]) {
        let pages = pages::router().with_state(app());
        assert_eq!(status_of(pages, Method::GET, path).await, StatusCode::NOT_FOUND, "a page route at {path}");
    }
}

#[test]
fn the_document_describes_bodies_parameters_and_credentials() {
    let doc = serde_json::to_value(crate::openapi::document()).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "Triad Design Center");
    assert_eq!(doc["paths"]["/api/models"].as_object().unwrap().len(), 2);
    let load = &doc["paths"]["/api/models/{name}/cubes/{cube}/load"]["post"];
    assert_eq!(load["parameters"].as_array().unwrap().len(), 2);
    assert!(load["requestBody"]["content"]["text/csv"].is_object(), "{load}");
    assert!(load["responses"]["422"]["description"].as_str().unwrap().contains("rejected"), "the load's own 422 is kept");
    let edit = &doc["paths"]["/api/models/{name}/edits"]["post"];
    assert_eq!(edit["requestBody"]["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ModelEdit");
    assert_eq!(edit["responses"]["409"]["description"], "refused (exists already, changed meanwhile)");
    for schema in ["NewModel", "ModelEdit", "Edit", "Publish", "NewUser"] {
        assert!(doc["components"]["schemas"][schema].is_object(), "schema {schema} missing");
    }
    assert_eq!(doc["components"]["securitySchemes"]["session"]["name"], crate::auth::COOKIE);
    // The health check and the document need no credentials.
    assert_eq!(doc["paths"]["/health"]["get"]["security"], serde_json::json!([{}]));
}
