//! HAProxy configurations rendered from the cluster file — the role of the seed's
//! `generate_ha_proxy_cfg`, but complete and regenerated on every change.
//!
//! - `external`: the balancer host, for BI clients (SQL), HTTP clients and browsers.
//! - `internal`: each app host, routing the local applications to the primary database.

mod external;
mod internal;
mod text;

use std::fmt;
use triad_config::{Cluster, Host, Role};

pub use external::render_external;
pub use internal::render_internal;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Which {
    External,
    Internal,
}

#[derive(Debug, PartialEq, Eq)]
pub struct RenderError(pub String);

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RenderError {}

/// Renders the configuration for `which`, for the host named `host` (required for internal
/// configurations; for external ones only when several hosts have the balancer role).
pub fn render(cluster: &Cluster, which: Which, host: Option<&str>) -> Result<String, RenderError> {
    match which {
        Which::External => render_external(cluster, pick_host(cluster, Role::Balancer, host)?),
        Which::Internal => render_internal(cluster, pick_host(cluster, Role::App, host)?),
    }
}

fn pick_host<'c>(cluster: &'c Cluster, role: Role, host: Option<&str>) -> Result<&'c Host, RenderError> {
    let candidates: Vec<&Host> = cluster.hosts_with(role).collect();
    let names = || candidates.iter().map(|h| h.name.as_str()).collect::<Vec<_>>().join(", ");
    match host {
        Some(name) => {
            let h = cluster.host(name).map_err(|e| RenderError(e.to_string()))?;
            if h.has(role) {
                Ok(h)
            } else {
                Err(RenderError(format!(
                    "host {name:?} has no {:?} role (hosts with it: {})",
                    role.as_str(),
                    names()
                )))
            }
        }
        None if candidates.len() == 1 && role == Role::Balancer => Ok(candidates[0]),
        None => Err(RenderError(format!(
            "choose the host with --host: the cluster has {} host(s) with role {:?} ({})",
            candidates.len(),
            role.as_str(),
            names()
        ))),
    }
}
