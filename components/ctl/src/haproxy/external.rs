//! The external balancer: BI clients (SQL), HTTP clients and browsers enter the cluster here.
//!
//! - SQL (engine_sql): least connections, weighted by each host's `weight` (Board's
//!   PerformanceIndex), health from the engine's HTTP `/health`.
//! - Engine HTTP: a cookie keeps a browser or client on one engine; profile routing (Board's
//!   OverallProfile) sends requests that carry a profile — header `X-Triad-Profile` or cookie
//!   `TRIAD_PROFILE` — to the hosts serving it, the other hosts standing by as backups. A profile
//!   with `sql_port` also gets its own SQL entry point routed the same way.
//! - Designer: only the active designer answers `/health` with 200, so all traffic goes there.
//! - Stats page and the Prometheus exporter.

use super::RenderError;
use super::text::{at, default_server, global, header, ms};
use std::fmt::Write;
use triad_config::{Cluster, Host};

pub fn render_external(cluster: &Cluster, me: &Host) -> Result<String, RenderError> {
    let p = &cluster.ports;
    let b = &cluster.balancer;
    let apps: Vec<&Host> = cluster.app_hosts().collect();
    let mut out = String::new();
    header(&mut out, cluster, "External HAProxy (clients and browsers)", me);
    global(&mut out, b.maxconn);
    let _ = write!(
        out,
        "defaults\n    log global\n    option dontlognull\n    timeout connect 5s\n    timeout check {}\n    \
         timeout client {}\n    timeout server {}\n    timeout http-request 30s\n\n",
        ms(cluster.timings.health_check_interval),
        ms(b.http_timeout),
        ms(b.http_timeout)
    );
    let binds = |port: i64| -> String {
        let mut s = format!("    bind {}\n", at(cluster, me, port));
        if let Some(vip) = &b.virtual_ip {
            // The VRRP address lives on only one balancer at a time; `transparent` lets the
            // standby bind it in advance (IP_FREEBIND).
            let addr = match vip.address {
                std::net::IpAddr::V6(a) => format!("[{a}]:{port}"),
                std::net::IpAddr::V4(a) => format!("{a}:{port}"),
            };
            let _ = writeln!(s, "    bind {addr} transparent");
        }
        s
    };

    // SQL.
    let sql_backend = |out: &mut String, name: &str, profile: Option<&str>| {
        let _ = write!(
            out,
            "backend {name}\n    mode tcp\n    balance leastconn\n    timeout server {}\n    option httpchk\n    \
             http-check send meth GET uri /health\n    http-check expect status 200\n",
            ms(b.sql_timeout)
        );
        if profile.is_some() {
            out.push_str("    option allbackups\n");
        }
        out.push_str(&default_server(cluster, " on-marked-down shutdown-sessions"));
        for h in &apps {
            let backup = profile.is_some_and(|pr| !h.profiles.iter().any(|x| x == pr));
            let _ = writeln!(
                out,
                "    server {} {} weight {} check port {}{}",
                h.name,
                at(cluster, h, p.engine_sql),
                h.weight,
                p.engine_http,
                if backup { " backup" } else { "" }
            );
        }
        out.push('\n');
    };
    let _ = write!(
        out,
        "frontend engine_sql\n    mode tcp\n{}    timeout client {}\n    default_backend engine_sql\n\n",
        binds(p.engine_sql),
        ms(b.sql_timeout)
    );
    sql_backend(&mut out, "engine_sql", None);
    for (name, prof) in &cluster.profiles {
        if let Some(port) = prof.sql_port {
            let backend = format!("engine_sql_{name}");
            let _ = write!(
                out,
                "frontend {backend}\n    mode tcp\n{}    timeout client {}\n    default_backend {backend}\n\n",
                binds(port),
                ms(b.sql_timeout)
            );
            sql_backend(&mut out, &backend, Some(name));
        }
    }

    // Engine HTTP with cookie persistence and profile routing.
    let profiles: Vec<&String> = served_profiles(cluster);
    let _ = write!(
        out,
        "frontend engine_http\n    mode http\n{}    option forwardfor\n",
        binds(p.engine_http)
    );
    for prof in &profiles {
        let _ = writeln!(
            out,
            "    acl profile_{prof} req.hdr(X-Triad-Profile) -m str {prof}\n    acl profile_{prof} req.cook(TRIAD_PROFILE) -m str {prof}\n    use_backend engine_http_{prof} if profile_{prof}"
        );
    }
    out.push_str("    default_backend engine_http\n\n");
    let http_backend = |out: &mut String, name: &str, profile: Option<&str>| {
        let _ = write!(
            out,
            "backend {name}\n    mode http\n    balance roundrobin\n    cookie TRIAD_ENGINE insert indirect nocache httponly\n    \
             option httpchk\n    http-check send meth GET uri /health\n    http-check expect status 200\n"
        );
        if profile.is_some() {
            out.push_str("    option allbackups\n");
        }
        out.push_str(&default_server(cluster, ""));
        for h in &apps {
            let backup = profile.is_some_and(|pr| !h.profiles.iter().any(|x| x == pr));
            let _ = writeln!(
                out,
                "    server {} {} weight {} cookie {} check{}",
                h.name,
                at(cluster, h, p.engine_http),
                h.weight,
                h.name,
                if backup { " backup" } else { "" }
            );
        }
        out.push('\n');
    };
    http_backend(&mut out, "engine_http", None);
    for prof in &profiles {
        http_backend(&mut out, &format!("engine_http_{prof}"), Some(prof));
    }

    // Designer: active/passive by health.
    let _ = write!(
        out,
        "frontend designer\n    mode http\n{}    option forwardfor\n    default_backend designer\n\n\
         backend designer\n    mode http\n    option httpchk\n    http-check send meth GET uri /health\n    \
         http-check expect status 200\n",
        binds(p.designer)
    );
    out.push_str(&default_server(cluster, ""));
    for h in &apps {
        let _ = writeln!(out, "    server {} {} check", h.name, at(cluster, h, p.designer));
    }

    // Observability.
    let _ = write!(
        out,
        "\nfrontend stats\n    mode http\n{}    stats enable\n    stats uri /stats\n    stats refresh 5s\n    stats show-legends\n\n\
         frontend prometheus\n    mode http\n{}    http-request use-service prometheus-exporter if {{ path /metrics }}\n    \
         http-request return status 404 if !{{ path /metrics }}\n",
        binds(p.balancer_stats),
        binds(p.balancer_prometheus)
    );
    Ok(out)
}

/// Every profile some app host serves, in a stable order.
fn served_profiles(cluster: &Cluster) -> Vec<&String> {
    let mut v: Vec<&String> = cluster.app_hosts().flat_map(|h| h.profiles.iter()).collect();
    v.sort();
    v.dedup();
    v
}
