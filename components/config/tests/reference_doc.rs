//! docs/configuration.md documents every key of cluster.toml, and nothing that isn't one.
//!
//! The set of keys comes from the schema itself: a file with one of every repeated table is
//! parsed and serialised to JSON (where unset options still appear as null), and every path is
//! collected. The page lists keys as table rows whose first cell is the key in backticks.

use std::collections::BTreeSet;
use std::path::Path;
use triad_config::Cluster;

const FULL: &str = r#"
[cluster]
name = "full"
[[hosts]]
name = "a"
fqdn = "a.example"
address = "10.0.0.1"
roles = ["app", "coordinator", "balancer"]
profiles = ["P"]
[[hosts]]
name = "b"
fqdn = "b.example"
address = "10.0.0.2"
roles = ["coordinator"]
[[hosts]]
name = "c"
fqdn = "c.example"
address = "10.0.0.3"
roles = ["coordinator"]
[profiles.P]
sql_port = 6000
[[users]]
name = "u"
password_hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
role = "viewer"
profile = "P"
[database.parameters]
work_mem = "64MB"
[balancer.virtual_ip]
address = "10.0.0.100"
interface = "eth0"
router_id = 7
[tls]
ca = "/etc/triad/tls/ca.crt"
cert = "/etc/triad/tls/{host}.crt"
key = "/etc/triad/tls/{host}.key"
"#;

fn paths(v: &serde_json::Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, child) in m {
                // Free-form maps: document the map, not its entries.
                let key = match prefix {
                    "profiles" => "profiles.<name>".to_string(),
                    "database.parameters" => continue,
                    "" => k.clone(),
                    _ => format!("{prefix}.{k}"),
                };
                if prefix == "profiles" {
                    paths(child, &key, out);
                    continue;
                }
                out.insert(key.clone());
                paths(child, &key, out);
            }
        }
        serde_json::Value::Array(items) if items.first().is_some_and(|i| i.is_object()) => {
            paths(&items[0], &format!("{prefix}[]"), out);
        }
        _ => {}
    }
}

#[test]
fn configuration_reference_matches_the_schema() {
    let cluster = Cluster::parse("full.toml", FULL).unwrap_or_else(|e| panic!("{e}"));
    let mut schema = BTreeSet::new();
    paths(&serde_json::to_value(cluster.file()).unwrap(), "", &mut schema);
    schema.insert("database.parameters".into());

    let page = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md");
    let text = std::fs::read_to_string(&page).expect("docs/configuration.md");
    let documented: BTreeSet<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once('`').map(|(k, _)| k.to_string()))
        .collect();

    let missing: Vec<_> = schema.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&schema).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "docs/configuration.md is out of step with the schema\n  keys without a row: {missing:?}\n  rows that are no key: {unknown:?}"
    );
}
