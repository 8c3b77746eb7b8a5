//! Questions the daemons ask of a validated cluster: who am I, who are my peers, where is the
//! coordinator.

use crate::Cluster;
use crate::error::ConfigError;
use crate::schema::{Host, Ports, Role};

impl Cluster {
    /// The host entry for `--host NAME`, or an error listing the names the file has.
    pub fn host(&self, name: &str) -> Result<&Host, ConfigError> {
        self.hosts.iter().find(|h| h.name == name).ok_or_else(|| {
            let known: Vec<&str> = self.hosts.iter().map(|h| h.name.as_str()).collect();
            ConfigError::single(
                self.source.clone(),
                "hosts",
                format!("no host named {name:?} (the file lists: {})", known.join(", ")),
            )
        })
    }

    pub fn hosts_with(&self, role: Role) -> impl Iterator<Item = &Host> {
        self.hosts.iter().filter(move |h| h.has(role))
    }

    pub fn app_hosts(&self) -> impl Iterator<Item = &Host> {
        self.hosts_with(Role::App)
    }

    pub fn coordinator_members(&self) -> impl Iterator<Item = &Host> {
        self.hosts_with(Role::Coordinator)
    }

    /// Whether the cluster uses an external etcd instead of triad-coordinator.
    pub fn uses_external_etcd(&self) -> bool {
        !self.coordinator.external_endpoints.is_empty()
    }

    /// etcd v3 client endpoints: the external etcd if configured, else every coordinator member.
    pub fn dcs_endpoints(&self) -> Vec<String> {
        if self.uses_external_etcd() {
            return self.coordinator.external_endpoints.clone();
        }
        self.coordinator_members().map(|h| self.coordinator_client_url(h)).collect()
    }

    /// A coordinator member's client URL: `https://` when `[tls] coordinator` is set.
    pub fn coordinator_client_url(&self, h: &Host) -> String {
        let scheme = if self.tls.as_ref().is_some_and(|t| t.coordinator) { "https" } else { "http" };
        format!("{scheme}://{}", self.addr(h, self.ports.coordinator_client))
    }

    /// Raft peer URL of a coordinator member.
    pub fn peer_url(&self, h: &Host) -> String {
        format!("http://{}", self.addr(h, self.ports.coordinator_peer))
    }

    /// `address:port` for a host, with IPv6 addresses bracketed.
    pub fn addr(&self, h: &Host, port: i64) -> String {
        match h.address {
            std::net::IpAddr::V6(a) => format!("[{a}]:{}", Ports::get(port)),
            std::net::IpAddr::V4(a) => format!("{a}:{}", Ports::get(port)),
        }
    }

    /// Prefix of every key Triad keeps in the coordinator for this cluster.
    pub fn dcs_prefix(&self) -> String {
        format!("/triad/{}/", self.cluster.name)
    }
}
