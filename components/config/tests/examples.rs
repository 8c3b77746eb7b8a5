//! The shipped examples are valid and say what their comments claim.

use std::path::Path;
use triad_config::{Cluster, Role, SyncMode};

fn example(name: &str) -> Cluster {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples").join(name);
    Cluster::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn seed_topology_uses_defaults() {
    let c = example("cluster.toml");
    assert_eq!(c.cluster.name, "sales");
    assert_eq!(c.app_hosts().count(), 2);
    assert_eq!(c.coordinator_members().count(), 3);
    assert_eq!(c.ports.engine_sql, 5433);
    assert_eq!(c.database.synchronous_mode, SyncMode::On);
    assert_eq!(
        c.dcs_endpoints(),
        ["http://10.20.0.11:2379", "http://10.20.0.12:2379", "http://10.20.0.13:2379"]
    );
    assert_eq!(c.host("coord").unwrap().roles, [Role::Coordinator]);
    let err = c.host("app3").unwrap_err().to_string();
    assert!(err.contains("no host named \"app3\" (the file lists: app1, app2, coord, balancer)"), "{err}");
}

#[test]
fn board_example_has_profiles_weights_and_a_vip() {
    let c = example("board-cluster.toml");
    assert_eq!(c.app_hosts().count(), 4);
    assert_eq!(c.host("emea").unwrap().weight, 150);
    assert!(!c.host("load").unwrap().data_consumer);
    assert_eq!(c.profiles["APAC"].sql_port, Some(5443));
    assert_eq!(c.timings.download_interval.as_millis(), 500);
    assert!(c.balancer.virtual_ip.is_some());
}

#[test]
fn rendered_toml_round_trips() {
    let c = example("board-cluster.toml");
    let again = Cluster::parse("rendered", &c.to_toml()).unwrap_or_else(|e| panic!("{e}\n{}", c.to_toml()));
    assert_eq!(again.to_toml(), c.to_toml());
}
