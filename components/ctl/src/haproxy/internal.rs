//! The internal balancer of an app host: applications never know which database is the
//! primary; they connect here. 5000 goes to the primary, 5001 to the standbys (falling back
//! to the primary when none is up). Health comes from each keeper's REST API, exactly as
//! HAProxy configurations written for Patroni do it.

use super::RenderError;
use super::text::{at, default_server, global, header, ms};
use std::fmt::Write;
use triad_config::{Cluster, Host};

pub fn render_internal(cluster: &Cluster, me: &Host) -> Result<String, RenderError> {
    let p = &cluster.ports;
    let mut out = String::new();
    header(&mut out, cluster, "Internal HAProxy (database routing)", me);
    global(&mut out, 2000);
    let _ = write!(
        out,
        "defaults\n    log global\n    mode tcp\n    option dontlognull\n    timeout connect 4s\n    \
         timeout client 30m\n    timeout server 30m\n    timeout check {}\n\n",
        ms(cluster.timings.health_check_interval)
    );

    // Read-write: only the keeper holding the leader lease answers 200 on /primary. Sessions
    // to a primary that is marked down are cut so no client keeps writing to a demoted node.
    let _ = write!(
        out,
        "listen db_primary\n    bind {}\n    option httpchk\n    http-check send meth GET uri /primary\n    \
         http-check expect status 200\n",
        at(cluster, me, p.db_primary)
    );
    out.push_str(&default_server(cluster, " on-marked-down shutdown-sessions"));
    for h in cluster.app_hosts() {
        let _ = writeln!(out, "    server {} {} maxconn 1000 check port {}", h.name, at(cluster, h, p.postgres), p.keeper_api);
    }

    // Read-only: standbys that the keeper reports healthy (/replica), else the primary.
    let _ = write!(
        out,
        "\nfrontend db_replicas\n    bind {}\n    use_backend db_standbys if {{ nbsrv(db_standbys) ge 1 }}\n    \
         default_backend db_primary\n\n\
         backend db_standbys\n    balance leastconn\n    option httpchk\n    http-check send meth GET uri /replica\n    \
         http-check expect status 200\n",
        at(cluster, me, p.db_replicas)
    );
    out.push_str(&default_server(cluster, " on-marked-down shutdown-sessions"));
    for h in cluster.app_hosts() {
        let _ = writeln!(out, "    server {} {} maxconn 1000 check port {}", h.name, at(cluster, h, p.postgres), p.keeper_api);
    }
    Ok(out)
}
