//! The keeper's `/metrics` as Prometheus reads it: well-formed text with its content type, and
//! the values of the keeper's view.

use std::sync::Arc;
use std::time::{Duration, Instant};
use triad_keeper::ha::Shared;

#[tokio::test]
async fn metrics_report_the_view_in_prometheus_text() {
    let dir = tempfile::tempdir().unwrap();
    let shared = Arc::new(Shared::new(dir.path().join("fence")));
    {
        let mut v = shared.view.lock().unwrap();
        (v.cluster, v.running, v.in_recovery, v.streaming) = ("main".into(), true, false, false);
        (v.timeline, v.lsn, v.dcs_ok) = (3, 0x1_0000_0028, true);
    }
    // Holding the lease with PostgreSQL running out of recovery: the primary.
    *shared.fence_deadline.lock().unwrap() = Some(Instant::now() + Duration::from_secs(60));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metrics", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, triad_keeper::api::router(shared)).await });

    let answer = reqwest::get(&url).await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    let samples = triad_testkit::prometheus::parse(&answer.text().await.unwrap()).unwrap();
    let expected = [
        ("triad_keeper_primary", 1.0),
        ("triad_keeper_replica", 0.0),
        ("triad_keeper_postgres_running", 1.0),
        ("triad_keeper_timeline", 3.0),
        ("triad_keeper_wal_position_bytes", 4294967336.0),
        ("triad_keeper_dcs_ok", 1.0),
    ];
    for (name, value) in expected {
        assert_eq!(samples.get(&format!("{name}{{scope=\"main\"}}")), Some(&value), "{name} in {samples:?}");
    }
    assert_eq!(samples.len(), expected.len(), "{samples:?}");
}
