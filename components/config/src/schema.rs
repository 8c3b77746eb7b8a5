//! The typed shape of `cluster.toml`. Every section but `[cluster]` and `[[hosts]]` has
//! defaults, so a minimal file names the cluster and lists its hosts.
//!
//! Integer fields that have a valid range (ports, weights) are read wider than their final
//! type so that `validate` can report an out-of-range value with its location instead of a
//! bare deserialisation error.

use crate::units::{Bytes, Span};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterFile {
    pub cluster: ClusterSection,
    #[serde(default)]
    pub hosts: Vec<Host>,
    #[serde(default)]
    pub ports: Ports,
    #[serde(default)]
    pub timings: Timings,
    #[serde(default)]
    pub database: Database,
    #[serde(default)]
    pub engine: Engine,
    #[serde(default)]
    pub coordinator: Coordinator,
    #[serde(default)]
    pub balancer: Balancer,
    /// Board's OverallProfile: named groups of users routed to the hosts that list the profile.
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
    /// Users created in the cluster database at bootstrap, until the designer manages them.
    #[serde(default)]
    pub users: Vec<BootstrapUser>,
    /// TLS: the cluster's CA and each host's certificate (docs/security.md). Set, the engines'
    /// SQL port speaks only TLS.
    #[serde(default)]
    pub tls: Option<Tls>,
}

/// Where a host finds its TLS files. `{host}` in a path stands for the host's name, for
/// clusters whose hosts share one file system (the demo, tests).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// The cluster CA's certificate (PEM).
    pub ca: String,
    /// This host's certificate (PEM), issued by the CA (`triadctl certs issue`).
    pub cert: String,
    /// This host's private key (PEM).
    pub key: String,
    /// The coordinator's client port speaks only TLS and takes only clients that show a
    /// certificate of the cluster CA (mutual TLS); the daemons show their host's.
    #[serde(default)]
    pub coordinator: bool,
}

/// The PEM text of the CA, a certificate and its key.
#[derive(Debug, Clone)]
pub struct TlsPem {
    pub ca: Vec<u8>,
    pub cert: Vec<u8>,
    pub key: Vec<u8>,
}

impl Tls {
    /// The CA with `host`'s certificate and key, read; the error names the file.
    pub fn pem_for(&self, host: &str) -> Result<TlsPem, String> {
        self.pem_with(&Tls::path_for(&self.cert, host), &Tls::path_for(&self.key, host))
    }

    /// The CA with the certificate and key at these paths (a client's own), read.
    pub fn pem_with(&self, cert: &std::path::Path, key: &std::path::Path) -> Result<TlsPem, String> {
        let read = |what: &str, p: &std::path::Path| std::fs::read(p).map_err(|e| format!("reading the {what} {}: {e}", p.display()));
        Ok(TlsPem { ca: read("cluster CA's certificate", std::path::Path::new(&self.ca))?, cert: read("certificate", cert)?, key: read("private key", key)? })
    }

    /// `path` with `{host}` replaced by `host`.
    pub fn path_for(path: &str, host: &str) -> PathBuf {
        PathBuf::from(path.replace("{host}", host))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterSection {
    /// Cluster name: the keeper's scope in the coordinator and the `Cluster` column of `triadctl list`.
    pub name: String,
    /// Root of every daemon's state on a host (`coordinator/`, `postgres/`, `engine/`, ...).
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
}

fn default_state_dir() -> PathBuf {
    PathBuf::from("/var/lib/triad")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Engine, designer, PostgreSQL with its keeper, internal balancer.
    App,
    /// A member of the coordinator's Raft group.
    Coordinator,
    /// The external HAProxy for BI clients and browsers.
    Balancer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::App => "app",
            Role::Coordinator => "coordinator",
            Role::Balancer => "balancer",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Host {
    /// Short, stable name: the member name in the coordinator and the keeper.
    pub name: String,
    /// Fully qualified domain name; replacing a host with another FQDN changes only this entry.
    pub fqdn: String,
    pub address: IpAddr,
    pub roles: Vec<Role>,
    /// Board's PerformanceIndex: relative share of new connections (HAProxy weight, 1..=256).
    #[serde(default = "default_weight")]
    pub weight: i64,
    /// Profiles this host serves (Board's OverallProfile).
    #[serde(default)]
    pub profiles: Vec<String>,
    /// Board's DataProvider: writes made on this host's engine are sent to the change log.
    #[serde(default = "yes")]
    pub data_provider: bool,
    /// Board's DataConsumer: this host's engine applies the change log written by others.
    #[serde(default = "yes")]
    pub data_consumer: bool,
}

fn default_weight() -> i64 {
    100
}
fn yes() -> bool {
    true
}

impl Host {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// TCP ports, the same on every host (each daemon binds its host's `address`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Ports {
    pub coordinator_client: i64,
    pub coordinator_peer: i64,
    pub postgres: i64,
    pub keeper_api: i64,
    /// Internal HAProxy: read-write, routed to the primary.
    pub db_primary: i64,
    /// Internal HAProxy: read-only, routed to replicas with the primary as backup.
    pub db_replicas: i64,
    pub engine_sql: i64,
    pub engine_http: i64,
    pub engine_peer: i64,
    pub designer: i64,
    pub balancer_stats: i64,
    pub balancer_prometheus: i64,
}

impl Default for Ports {
    fn default() -> Self {
        Ports {
            coordinator_client: 2379,
            coordinator_peer: 2380,
            postgres: 5432,
            keeper_api: 8008,
            db_primary: 5000,
            db_replicas: 5001,
            engine_sql: 5433,
            engine_http: 8080,
            engine_peer: 7100,
            designer: 8090,
            balancer_stats: 8404,
            balancer_prometheus: 8405,
        }
    }
}

impl Ports {
    /// Every port with its key name, for validation and documentation.
    pub fn all(&self) -> [(&'static str, i64); 12] {
        [
            ("coordinator_client", self.coordinator_client),
            ("coordinator_peer", self.coordinator_peer),
            ("postgres", self.postgres),
            ("keeper_api", self.keeper_api),
            ("db_primary", self.db_primary),
            ("db_replicas", self.db_replicas),
            ("engine_sql", self.engine_sql),
            ("engine_http", self.engine_http),
            ("engine_peer", self.engine_peer),
            ("designer", self.designer),
            ("balancer_stats", self.balancer_stats),
            ("balancer_prometheus", self.balancer_prometheus),
        ]
    }

    /// The ports a host with these roles listens on.
    pub fn bound_by(&self, roles: &[Role]) -> Vec<(&'static str, i64)> {
        self.all()
            .into_iter()
            .filter(|(key, _)| {
                let needs = match *key {
                    "coordinator_client" | "coordinator_peer" => Role::Coordinator,
                    "balancer_stats" | "balancer_prometheus" => Role::Balancer,
                    _ => Role::App,
                };
                roles.contains(&needs)
            })
            .collect()
    }

    /// A port as `u16`; only valid after validation.
    pub fn get(port: i64) -> u16 {
        u16::try_from(port).expect("port validated to 1..=65535")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Timings {
    /// Leader-key lease of the keeper: a standby waits this long before taking over.
    pub keeper_ttl: Span,
    /// Keeper HA loop period (the lease itself is renewed every `keeper_ttl / 6`, beside it).
    pub keeper_loop_interval: Span,
    /// How long one coordinator request may take before the keeper counts it as failed.
    pub keeper_retry_timeout: Span,
    /// Lease of an engine's registration; an engine that cannot renew stops serving within it.
    pub engine_lease_ttl: Span,
    /// Period of engine lease renewals and engine-to-engine heartbeats.
    pub engine_heartbeat_interval: Span,
    /// How long an engine may miss a peer's heartbeats before the newer one leaves.
    pub engine_peer_timeout: Span,
    /// Group-commit window: writes arriving within it share one change-log transaction (0 = none).
    pub upload_interval: Span,
    /// Backstop poll of the change log, in case a NOTIFY was missed.
    pub download_interval: Span,
    /// How often the leader engine writes a snapshot.
    pub snapshot_interval: Span,
    /// Lease of the active designer.
    pub designer_lease_ttl: Span,
    /// HAProxy `inter` for every health check.
    pub health_check_interval: Span,
    /// Failed checks before HAProxy marks a server down.
    pub health_check_fall: i64,
    /// Successful checks before HAProxy marks a server up again.
    pub health_check_rise: i64,
    /// Raft heartbeat period of the coordinator.
    pub coordinator_heartbeat_interval: Span,
    /// Raft election timeout of the coordinator (at least five heartbeats).
    pub coordinator_election_timeout: Span,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            // 3 s: a host loss costs writes about this plus a second (docs/benchmarks.md); the
            // lease is renewed every ttl/6 and fenced outside the keeper (docs/keeper.md).
            keeper_ttl: Span::from_secs(3),
            keeper_loop_interval: Span::from_secs(1),
            keeper_retry_timeout: Span::from_secs(1),
            engine_lease_ttl: Span::from_secs(5),
            engine_heartbeat_interval: Span::from_secs(1),
            engine_peer_timeout: Span::from_secs(5),
            upload_interval: Span::from_millis(5),
            download_interval: Span::from_secs(1),
            snapshot_interval: Span::from_secs(300),
            designer_lease_ttl: Span::from_secs(5),
            health_check_interval: Span::from_secs(1),
            health_check_fall: 2,
            health_check_rise: 1,
            coordinator_heartbeat_interval: Span::from_millis(100),
            coordinator_election_timeout: Span::from_millis(1000),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncMode {
    /// Asynchronous replication; failover allowed within `maximum_lag_on_failover`.
    Off,
    /// Patroni's synchronous_mode: commits wait for the sync standby; dropped when it is lost.
    On,
    /// Patroni's synchronous_mode_strict: writes block rather than run without a sync standby.
    Strict,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

impl std::fmt::Display for ParamValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamValue::Bool(b) => write!(f, "{}", if *b { "on" } else { "off" }),
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Float(x) => write!(f, "{x}"),
            ParamValue::Text(s) => write!(f, "{s}"),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Database {
    /// Database holding Triad's own state (change log, models, users).
    pub name: String,
    pub synchronous_mode: SyncMode,
    /// Asynchronous mode only: a standby further behind than this is never promoted.
    pub maximum_lag_on_failover: Bytes,
    /// Owner of the cluster database; the keeper connects as this role.
    pub superuser: String,
    pub replication_user: String,
    /// Role the engine and designer use.
    pub app_user: String,
    /// File holding the password of all three roles. Without it, hosts of the cluster are trusted.
    pub password_file: Option<PathBuf>,
    /// Directory of `initdb`, `pg_ctl`, `postgres`, ...; found automatically when unset.
    pub bin_dir: Option<PathBuf>,
    /// Extra `postgresql.conf` settings, passed through. Settings the keeper owns are refused.
    pub parameters: BTreeMap<String, ParamValue>,
}

impl Default for Database {
    fn default() -> Self {
        Database {
            name: "triad".into(),
            synchronous_mode: SyncMode::On,
            maximum_lag_on_failover: Bytes(1 << 20),
            superuser: "postgres".into(),
            replication_user: "replicator".into(),
            app_user: "triad".into(),
            password_file: None,
            bin_dir: None,
            parameters: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Engine {
    /// Memory the engine may hold for cubes and queries together. Unset: half of the memory
    /// its service may use (its cgroup's limit, else the host's), at most 4GiB.
    pub process_memory_budget: Option<Bytes>,
    /// Memory one query may use for its intermediate results. Unset: 1GiB, at most the
    /// process budget.
    pub query_memory_budget: Option<Bytes>,
    /// Disk all running queries together may spill to, in `<state_dir>/engine/spill`. Unset:
    /// a quarter of the space free there at start, at most 16GiB; 0: queries never spill.
    pub spill_disk_budget: Option<Bytes>,
    /// Queries running at once per engine; more wait.
    pub max_concurrent_queries: i64,
}

impl Default for Engine {
    fn default() -> Self {
        Engine {
            process_memory_budget: None,
            query_memory_budget: None,
            spill_disk_budget: None,
            max_concurrent_queries: 32,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Coordinator {
    /// Use an existing etcd v3 cluster instead of triad-coordinator (e.g. `http://10.0.0.9:2379`).
    /// Hosts then need no coordinator role.
    pub external_endpoints: Vec<String>,
    /// Raft log entries between snapshots.
    pub snapshot_entries: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Balancer {
    /// HAProxy global maxconn.
    pub maxconn: i64,
    /// Idle timeout of client and server sides for SQL sessions.
    pub sql_timeout: Span,
    /// Client and server timeouts for HTTP.
    pub http_timeout: Span,
    /// Optional VRRP virtual IP shared by a pair of balancers (keepalived).
    pub virtual_ip: Option<VirtualIp>,
}

impl Default for Balancer {
    fn default() -> Self {
        Balancer {
            maxconn: 4096,
            sql_timeout: Span::from_secs(3600),
            http_timeout: Span::from_secs(60),
            virtual_ip: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VirtualIp {
    pub address: IpAddr,
    /// Prefix length of the virtual address on `interface`.
    #[serde(default = "default_prefix")]
    pub prefix_length: i64,
    pub interface: String,
    /// VRRP router id, 1..=255, unique on the network segment.
    pub router_id: i64,
}

fn default_prefix() -> i64 {
    24
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Profile {
    /// A dedicated SQL port on the balancer for this profile's users (optional).
    pub sql_port: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserRole {
    Admin,
    Modeler,
    Viewer,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BootstrapUser {
    pub name: String,
    /// An argon2 PHC string (`$argon2id$...`), e.g. from `triadctl hash-password`.
    pub password_hash: String,
    pub role: UserRole,
    #[serde(default)]
    pub profile: Option<String>,
}
