//! Semantic checks of a parsed cluster file. Pure: a typed file in, every problem out, each
//! with the key path it is about. Nothing stops at the first problem.

use crate::location::KeyPath;
use crate::schema::*;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: KeyPath,
    pub message: String,
}

#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, path: KeyPath, message: impl Into<String>) {
        self.0.push(Problem { path, message: message.into() });
    }
}

fn at(dotted: &str) -> KeyPath {
    KeyPath::parse(dotted)
}

pub fn validate(f: &ClusterFile) -> Vec<Problem> {
    let mut p = Problems::default();
    cluster_section(f, &mut p);
    hosts(f, &mut p);
    topology(f, &mut p);
    ports(f, &mut p);
    timings(&f.timings, &mut p);
    database(&f.database, &mut p);
    engine(&f.engine, &mut p);
    if let Some(t) = &f.tls {
        tls(t, &mut p);
    }
    balancer(&f.balancer, &mut p);
    profiles_and_users(f, &mut p);
    coordinator(&f.coordinator, &mut p);
    p.0
}

/// Lower-case letters, digits, `-` and `_`, starting with a letter or digit: safe as a DCS key
/// segment, a PostgreSQL application_name and an HAProxy server name.
fn is_simple_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn is_fqdn(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

fn cluster_section(f: &ClusterFile, p: &mut Problems) {
    if !is_simple_name(&f.cluster.name) {
        p.add(
            at("cluster.name"),
            format!(
                "cluster name {:?} must be 1-63 lower-case letters, digits, '-' or '_'",
                f.cluster.name
            ),
        );
    }
    if !f.cluster.state_dir.is_absolute() {
        p.add(at("cluster.state_dir"), "state_dir must be an absolute path");
    }
}

fn hosts(f: &ClusterFile, p: &mut Problems) {
    if f.hosts.is_empty() {
        p.add(at("hosts"), "no hosts: list every host of the cluster as a [[hosts]] table");
    }
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut fqdns: HashMap<String, usize> = HashMap::new();
    let mut addrs: HashMap<std::net::IpAddr, usize> = HashMap::new();
    for (i, h) in f.hosts.iter().enumerate() {
        let here = KeyPath::root().key("hosts").index(i);
        if !is_simple_name(&h.name) {
            p.add(
                here.clone().key("name"),
                format!("host name {:?} must be 1-63 lower-case letters, digits, '-' or '_'", h.name),
            );
        }
        if !is_fqdn(&h.fqdn) {
            p.add(here.clone().key("fqdn"), format!("{:?} is not a valid DNS name", h.fqdn));
        }
        if h.address.is_unspecified() || h.address.is_multicast() {
            p.add(
                here.clone().key("address"),
                format!("{} cannot be a host address (unspecified or multicast)", h.address),
            );
        }
        if let Some(j) = names.insert(&h.name, i) {
            p.add(here.clone().key("name"), format!("duplicate host name {:?} (also hosts[{j}])", h.name));
        }
        if let Some(j) = fqdns.insert(h.fqdn.to_ascii_lowercase(), i) {
            p.add(here.clone().key("fqdn"), format!("duplicate FQDN {:?} (also hosts[{j}])", h.fqdn));
        }
        if let Some(j) = addrs.insert(h.address, i) {
            p.add(here.clone().key("address"), format!("duplicate address {} (also hosts[{j}])", h.address));
        }
        if h.roles.is_empty() {
            p.add(here.clone().key("roles"), "a host needs at least one role: app, coordinator or balancer");
        }
        let mut seen = Vec::new();
        for (r, role) in h.roles.iter().enumerate() {
            if seen.contains(role) {
                p.add(here.clone().key("roles").index(r), format!("role {:?} listed twice", role.as_str()));
            }
            seen.push(*role);
        }
        if !(0..=256).contains(&h.weight) {
            p.add(here.clone().key("weight"), format!("weight {} out of range 0..=256", h.weight));
        }
        for (k, prof) in h.profiles.iter().enumerate() {
            if !is_profile_name(prof) {
                p.add(
                    here.clone().key("profiles").index(k),
                    format!("profile name {prof:?} must be letters, digits, '-' or '_'"),
                );
            }
        }
        if !h.has(Role::App) {
            if !h.profiles.is_empty() {
                p.add(here.clone().key("profiles"), "only app hosts serve profiles");
            }
            if h.weight != 100 {
                p.add(here.clone().key("weight"), "only app hosts take a weight");
            }
        }
    }
}

fn is_profile_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 63 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn topology(f: &ClusterFile, p: &mut Problems) {
    let count = |role| f.hosts.iter().filter(|h| h.has(role)).count();
    let coordinators = count(Role::Coordinator);
    if f.coordinator.external_endpoints.is_empty() {
        if coordinators < 3 {
            p.add(
                at("hosts"),
                format!(
                    "{coordinators} host(s) with role \"coordinator\": a Raft quorum that survives the loss of a host needs at least three"
                ),
            );
        } else if coordinators % 2 == 0 {
            p.add(
                at("hosts"),
                format!(
                    "{coordinators} hosts with role \"coordinator\": use an odd number (an even one tolerates no more failures than one fewer member)"
                ),
            );
        }
    } else if coordinators > 0 {
        p.add(
            at("coordinator.external_endpoints"),
            "external etcd endpoints are set, so no host may have the role \"coordinator\"",
        );
    }
    if count(Role::App) == 0 && !f.hosts.is_empty() {
        p.add(at("hosts"), "no host with role \"app\": the cluster needs at least one to run the engine and the database");
    }
    if count(Role::Balancer) == 0 && !f.hosts.is_empty() {
        p.add(at("hosts"), "no host with role \"balancer\": BI clients and browsers reach the cluster through it");
    }
}

fn ports(f: &ClusterFile, p: &mut Problems) {
    for (key, port) in f.ports.all() {
        if !(1..=65535).contains(&port) {
            p.add(KeyPath::root().key("ports").key(key), format!("port {port} out of range 1..=65535"));
        }
    }
    for (name, prof) in &f.profiles {
        if let Some(port) = prof.sql_port
            && !(1..=65535).contains(&port)
        {
            p.add(
                KeyPath::root().key("profiles").key(name.clone()).key("sql_port"),
                format!("port {port} out of range 1..=65535"),
            );
        }
    }
    // Ports bound on one host must differ; report each collision once, per distinct role set.
    let mut reported = Vec::new();
    for h in &f.hosts {
        let mut bound: Vec<(KeyPath, i64)> = f
            .ports
            .bound_by(&h.roles)
            .into_iter()
            .map(|(k, v)| (KeyPath::root().key("ports").key(k), v))
            .collect();
        if h.has(Role::Balancer) {
            for (name, prof) in &f.profiles {
                if let Some(port) = prof.sql_port {
                    bound.push((KeyPath::root().key("profiles").key(name.clone()).key("sql_port"), port));
                }
            }
        }
        let mut by_port: BTreeMap<i64, Vec<KeyPath>> = BTreeMap::new();
        for (k, v) in bound {
            by_port.entry(v).or_default().push(k);
        }
        for (port, keys) in by_port {
            if keys.len() > 1 && !reported.contains(&keys) {
                let names: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
                p.add(
                    keys[1].clone(),
                    format!("port {port} is used by {} on host {:?}", names.join(" and "), h.name),
                );
                reported.push(keys);
            }
        }
    }
}

fn timings(t: &Timings, p: &mut Problems) {
    let key = |k: &str| KeyPath::root().key("timings").key(k);
    let zero = Duration::ZERO;
    for (k, v) in [
        ("keeper_ttl", t.keeper_ttl),
        ("keeper_loop_interval", t.keeper_loop_interval),
        ("keeper_retry_timeout", t.keeper_retry_timeout),
        ("engine_lease_ttl", t.engine_lease_ttl),
        ("engine_heartbeat_interval", t.engine_heartbeat_interval),
        ("engine_peer_timeout", t.engine_peer_timeout),
        ("download_interval", t.download_interval),
        ("snapshot_interval", t.snapshot_interval),
        ("designer_lease_ttl", t.designer_lease_ttl),
        ("health_check_interval", t.health_check_interval),
        ("coordinator_heartbeat_interval", t.coordinator_heartbeat_interval),
        ("coordinator_election_timeout", t.coordinator_election_timeout),
    ] {
        if v.get() == zero {
            p.add(key(k), "must be greater than zero");
        }
    }
    // etcd leases are granted in whole seconds.
    for (k, v) in [("keeper_ttl", t.keeper_ttl), ("engine_lease_ttl", t.engine_lease_ttl), ("designer_lease_ttl", t.designer_lease_ttl)] {
        if v.get() < Duration::from_secs(2) || v.get().subsec_nanos() != 0 {
            p.add(key(k), format!("{v} is not a whole number of seconds of at least 2s (coordinator leases are granted in seconds)"));
        }
    }
    let (ttl, lp, retry) = (t.keeper_ttl.get(), t.keeper_loop_interval.get(), t.keeper_retry_timeout.get());
    if lp >= ttl {
        p.add(key("keeper_loop_interval"), format!("the leader renews every {} but its lease lasts only {}: renew interval must be shorter than keeper_ttl", t.keeper_loop_interval, t.keeper_ttl));
    } else if lp * 3 > ttl {
        p.add(key("keeper_ttl"), format!("keeper_ttl {} is shorter than three loop intervals ({}): one slow loop would lose the leader key", t.keeper_ttl, t.keeper_loop_interval));
    } else if lp + retry * 2 > ttl {
        p.add(key("keeper_retry_timeout"), format!("keeper_loop_interval + 2 × keeper_retry_timeout ({}) exceeds keeper_ttl ({}): the primary could not demote before its lease expires elsewhere", humantime::format_duration(lp + retry * 2), t.keeper_ttl));
    }
    let (ettl, hb) = (t.engine_lease_ttl.get(), t.engine_heartbeat_interval.get());
    if hb >= ettl {
        p.add(key("engine_heartbeat_interval"), format!("renew interval {} must be shorter than engine_lease_ttl {}", t.engine_heartbeat_interval, t.engine_lease_ttl));
    } else if hb * 3 > ettl {
        p.add(key("engine_lease_ttl"), format!("engine_lease_ttl {} is shorter than three heartbeat intervals ({})", t.engine_lease_ttl, t.engine_heartbeat_interval));
    }
    if t.engine_peer_timeout.get() < hb * 2 {
        p.add(key("engine_peer_timeout"), format!("engine_peer_timeout {} must cover at least two heartbeats ({} each)", t.engine_peer_timeout, t.engine_heartbeat_interval));
    }
    if t.upload_interval.get() >= ettl {
        p.add(key("upload_interval"), format!("writes held for {} could be acknowledged after the engine's lease ({}) expired: upload_interval must be shorter than engine_lease_ttl", t.upload_interval, t.engine_lease_ttl));
    }
    if t.health_check_fall < 1 {
        p.add(key("health_check_fall"), "must be at least 1");
    }
    if t.health_check_rise < 1 {
        p.add(key("health_check_rise"), "must be at least 1");
    }
    let (chb, cel) = (t.coordinator_heartbeat_interval.get(), t.coordinator_election_timeout.get());
    if chb > zero && cel < chb * 5 {
        p.add(key("coordinator_election_timeout"), format!("election timeout {} must be at least five heartbeats ({} each) or leaders are deposed by slow heartbeats", t.coordinator_election_timeout, t.coordinator_heartbeat_interval));
    }
    if chb > zero && chb < Duration::from_millis(10) {
        p.add(key("coordinator_heartbeat_interval"), "must be at least 10ms");
    }
    if cel * 2 > ttl {
        p.add(key("keeper_ttl"), format!("keeper_ttl {} must be at least two coordinator election timeouts ({}) so a coordinator leader change does not cost the database its primary", t.keeper_ttl, t.coordinator_election_timeout));
    }
}

/// Settings the keeper writes itself; accepting them from the file would break replication.
pub const KEEPER_OWNED_PARAMETERS: &[&str] = &[
    "listen_addresses",
    "port",
    "data_directory",
    "hba_file",
    "ident_file",
    "config_file",
    "cluster_name",
    "hot_standby",
    "wal_level",
    "primary_conninfo",
    "primary_slot_name",
    "synchronous_standby_names",
    "synchronous_commit",
    "recovery_target_timeline",
    "restore_command",
    "promote_trigger_file",
    "wal_log_hints",
];

fn database(d: &Database, p: &mut Problems) {
    let key = |k: &str| KeyPath::root().key("database").key(k);
    for (k, v) in [("name", &d.name), ("superuser", &d.superuser), ("replication_user", &d.replication_user), ("app_user", &d.app_user)] {
        if !is_identifier(v) {
            p.add(key(k), format!("{v:?} must be a lower-case SQL identifier (letters, digits, '_')"));
        }
    }
    if d.superuser == d.replication_user || d.superuser == d.app_user || d.replication_user == d.app_user {
        p.add(key("app_user"), "superuser, replication_user and app_user must be three different roles");
    }
    if d.maximum_lag_on_failover.get() == 0 && d.synchronous_mode == SyncMode::Off {
        p.add(key("maximum_lag_on_failover"), "0 with synchronous_mode = \"off\" would forbid every failover; use synchronous_mode = \"on\" instead");
    }
    for name in d.parameters.keys() {
        if KEEPER_OWNED_PARAMETERS.contains(&name.as_str()) {
            p.add(key("parameters").key(name.clone()), format!("{name} is managed by triad-keeper and cannot be set here"));
        } else if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
            p.add(key("parameters").key(name.clone()), format!("{name:?} is not a PostgreSQL setting name"));
        }
    }
    if let Some(f) = &d.password_file
        && !f.is_absolute()
    {
        p.add(key("password_file"), "must be an absolute path");
    }
}

fn tls(t: &crate::schema::Tls, p: &mut Problems) {
    for (name, path) in [("ca", &t.ca), ("cert", &t.cert), ("key", &t.key)] {
        if !path.starts_with('/') {
            p.add(KeyPath::root().key("tls").key(name), format!("{path:?} must be an absolute path"));
        }
    }
}

fn engine(e: &Engine, p: &mut Problems) {
    let key = |k: &str| KeyPath::root().key("engine").key(k);
    if let Some(process) = e.process_memory_budget
        && process.get() < 64 << 20
    {
        p.add(key("process_memory_budget"), format!("{process} is below the 64MiB an engine needs to start"));
    }
    if let Some(query) = e.query_memory_budget {
        if query.get() == 0 {
            p.add(key("query_memory_budget"), "must be greater than zero");
        } else if let Some(process) = e.process_memory_budget
            && query > process
        {
            p.add(key("query_memory_budget"), format!("{query} exceeds process_memory_budget {process}"));
        }
    }
    if e.max_concurrent_queries < 1 {
        p.add(key("max_concurrent_queries"), "must be at least 1");
    }
}

fn balancer(b: &Balancer, p: &mut Problems) {
    let key = |k: &str| KeyPath::root().key("balancer").key(k);
    if b.maxconn < 1 {
        p.add(key("maxconn"), "must be at least 1");
    }
    for (k, v) in [("sql_timeout", b.sql_timeout), ("http_timeout", b.http_timeout)] {
        if v.get().is_zero() {
            p.add(key(k), "must be greater than zero");
        }
    }
    if let Some(vip) = &b.virtual_ip {
        let max = if vip.address.is_ipv4() { 32 } else { 128 };
        if !(1..=max).contains(&vip.prefix_length) {
            p.add(key("virtual_ip").key("prefix_length"), format!("{} out of range 1..={max}", vip.prefix_length));
        }
        if !(1..=255).contains(&vip.router_id) {
            p.add(key("virtual_ip").key("router_id"), format!("{} out of range 1..=255", vip.router_id));
        }
        if vip.interface.is_empty() {
            p.add(key("virtual_ip").key("interface"), "must name the network interface that carries the virtual IP");
        }
    }
}

fn profiles_and_users(f: &ClusterFile, p: &mut Problems) {
    let served = |prof: &str| f.hosts.iter().any(|h| h.has(Role::App) && h.profiles.iter().any(|x| x == prof));
    for name in f.profiles.keys() {
        let here = KeyPath::root().key("profiles").key(name.clone());
        if !is_profile_name(name) {
            p.add(here.clone(), format!("profile name {name:?} must be letters, digits, '-' or '_'"));
        }
        if !served(name) {
            p.add(here, format!("profile {name:?} is served by no app host: add it to some host's profiles"));
        }
    }
    let mut names: HashMap<&str, usize> = HashMap::new();
    for (i, u) in f.users.iter().enumerate() {
        let here = KeyPath::root().key("users").index(i);
        if u.name.is_empty() || u.name.len() > 63 || !u.name.chars().all(|c| c.is_ascii_alphanumeric() || "_-.@".contains(c)) {
            p.add(here.clone().key("name"), format!("user name {:?} must be 1-63 letters, digits or _-.@", u.name));
        }
        if let Some(j) = names.insert(&u.name, i) {
            p.add(here.clone().key("name"), format!("duplicate user {:?} (also users[{j}])", u.name));
        }
        if !u.password_hash.starts_with("$argon2") {
            p.add(here.clone().key("password_hash"), "must be an argon2 PHC string ($argon2id$...); create one with `triadctl hash-password`");
        }
        if let Some(prof) = &u.profile
            && !served(prof)
        {
            p.add(here.clone().key("profile"), format!("profile {prof:?} is served by no app host"));
        }
    }
}

fn coordinator(c: &Coordinator, p: &mut Problems) {
    for (i, ep) in c.external_endpoints.iter().enumerate() {
        let here = KeyPath::root().key("coordinator").key("external_endpoints").index(i);
        let rest = ep.strip_prefix("http://").or_else(|| ep.strip_prefix("https://"));
        let ok = rest.is_some_and(|r| {
            r.rsplit_once(':').is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0))
        });
        if !ok {
            p.add(here, format!("{ep:?} is not an endpoint URL like http://10.0.0.9:2379"));
        }
    }
    if let Some(n) = c.snapshot_entries
        && n < 100
    {
        p.add(KeyPath::root().key("coordinator").key("snapshot_entries"), format!("{n} is too small; use at least 100"));
    }
}
