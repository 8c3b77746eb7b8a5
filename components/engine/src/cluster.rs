//! The engine cluster's I/O loop; its rules are pure functions in `cluster_rules`. From the
//! seeds (atscale-failure-scenarios):
//! - an engine registers in the coordinator (`engine/members/<host>`, bound to a lease of
//!   `engine_lease_ttl`: a `triad_dcs::Session` renewed every `engine_heartbeat_interval`);
//! - an engine that cannot renew in time (the session's one deadline rule, with one heartbeat
//!   interval of margin) has lost the coordinator: it tells the other engines
//!   it is leaving, stops serving and exits non-zero (the service manager restarts it, and it
//!   registers again once the coordinator is reachable);
//! - engines that reach the coordinator but not each other for `engine_peer_timeout`: the
//!   newest (latest registration) shuts itself down;
//! - every engine logs the others joining, leaving (announced) or being lost (lease expired).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use triad_dcs::{Dcs, Session, SessionState, WatchEvent};

use crate::cluster_rules::{Leave, Peer, Timings, newer_of_two, registration, request_timeout};
use crate::engine::Engine;

const MEMBERS: &str = "engine/members/";

/// Hosts that announced they were leaving (their registration's disappearance is "left").
#[derive(Default)]
pub struct Departures(pub Mutex<HashSet<String>>);

pub async fn run(engine: Arc<Engine>, dcs: Dcs, departures: Arc<Departures>) -> anyhow::Result<()> {
    let t = &engine.cluster.file().timings;
    let timings = Timings { ttl: t.engine_lease_ttl.get(), beat: t.engine_heartbeat_interval.get(), peer_timeout: t.engine_peer_timeout.get() };
    let (ttl, beat) = (timings.ttl, timings.beat);
    let dcs = dcs.with_request_timeout(request_timeout(ttl, beat));
    let session = Session::start(dcs.clone(), ttl, beat, beat);
    // Register (retrying until the coordinator answers).
    let (lease, my_revision) = loop {
        if session.state().lease.is_none() {
            tokio::time::sleep(Duration::from_millis(100)).await; // the session is being granted one
            continue;
        }
        match register(&dcs, &engine, session.state()).await {
            Ok(r) => break r,
            Err(e) => {
                tracing::warn!(error = %e, "registering in the coordinator: retrying");
                tokio::time::sleep(beat).await;
            }
        }
    };
    engine.update_lifecycle(|l| l.registered = true);
    tracing::info!(lease, revision = my_revision, "registered in the coordinator");
    tokio::spawn(watch_members(engine.clone(), dcs.clone(), departures));
    tokio::spawn(crate::snapshot_writer::run(engine.clone(), dcs.clone(), lease, session.subscribe()));

    let mut last_seen: HashMap<String, Instant> = HashMap::new();
    loop {
        tokio::time::sleep(beat).await;
        let state = session.state();
        if let Some(leave) = registration(state.lease, lease, state.holds(lease, Instant::now())) {
            return fence(&engine, leave).await;
        }
        // Peers: ping every registered engine; the newer of two that cannot talk leaves.
        let Ok((members, _)) = dcs.list(MEMBERS).await else { continue };
        let mut all_seen = true;
        for m in members.iter().filter(|m| m.key != format!("{MEMBERS}{}", engine.me)) {
            let host = m.key.trim_start_matches(MEMBERS).to_string();
            if engine.cluster.host(&host).is_err() {
                // Registered but not in this host's cluster file: a host being replaced or added
                // while the new description is rolled out. Only peers both sides know count.
                continue;
            }
            let seen = last_seen.entry(host.clone()).or_insert_with(Instant::now);
            if ping(&engine, &host).await {
                *seen = Instant::now();
            } else {
                all_seen = false;
                let peer = Peer { host: host.clone(), revision: m.mod_revision, unreachable_for: seen.elapsed() };
                if let Some(leave) = newer_of_two(my_revision, &peer, timings) {
                    tracing::error!(peer = %host, "cannot reach engine {host} while both reach the coordinator: this engine is the newer one and leaves");
                    return fence(&engine, leave).await;
                }
            }
        }
        if all_seen && engine.update_lifecycle(|l| l.peers_seen = true) {
            tracing::info!("every registered engine is reachable: serving");
        }
    }
}

async fn register(dcs: &Dcs, engine: &Engine, session: SessionState) -> triad_dcs::Result<(i64, i64)> {
    let Some(lease) = session.lease.filter(|l| session.holds(*l, Instant::now())) else {
        return Err(triad_dcs::DcsError::Refused("no lease granted yet".into()));
    };
    let value = serde_json::json!({"host": engine.me, "pid": std::process::id()}).to_string();
    // The registration's age is the revision of its last write (its mod revision): an engine
    // restarted while its old registration had not yet expired overwrites the key and is the
    // newest, though the key was created long ago.
    let revision = dcs.put(&format!("{MEMBERS}{}", engine.me), value, Some(lease)).await?;
    Ok((lease, revision))
}

/// Leaves the cluster: stop serving, tell the other engines, exit non-zero.
async fn fence(engine: &Engine, why: Leave) -> anyhow::Result<()> {
    engine.update_lifecycle(|l| l.left = Some(why.to_string()));
    tracing::error!("leaving the engine cluster: {why}");
    for host in engine.cluster.app_hosts().filter(|h| h.name != engine.me) {
        let _ = tokio::time::timeout(Duration::from_secs(1), http_post(engine, &host.name, &format!("/api/peer/leaving?host={}", engine.me))).await;
    }
    if std::env::var("TRIAD_ENGINE_TEST_DISABLE_FENCING").as_deref() == Ok("1") {
        // Test-only: the scenario that proves the checks notice an engine that keeps serving.
        tracing::warn!("TRIAD_ENGINE_TEST_DISABLE_FENCING=1: staying up and serving anyway");
        engine.update_lifecycle(|l| l.left = None);
        std::future::pending::<()>().await;
    }
    std::process::exit(3);
}

/// Logs other engines joining, leaving and being lost. Survives the loss of the coordinator
/// member it watches through (that is what a host failure often is): it lists the members
/// again, reports what changed meanwhile, and watches on from there.
async fn watch_members(engine: Arc<Engine>, dcs: Dcs, departures: Arc<Departures>) {
    let mut known: Option<HashSet<String>> = None;
    let gone = |host: &str| {
        if departures.0.lock().unwrap().remove(host) {
            tracing::warn!("engine {host} left the cluster (it announced its departure)");
        } else {
            tracing::warn!("engine {host} lost: its registration expired");
        }
    };
    loop {
        let Ok((kvs, rev)) = dcs.list(MEMBERS).await else {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        let now: HashSet<String> = kvs.iter().map(|kv| kv.key.trim_start_matches(MEMBERS).to_string()).filter(|h| *h != engine.me).collect();
        if let Some(before) = &known {
            for h in before.difference(&now) {
                gone(h);
            }
            for h in now.difference(before) {
                tracing::info!("engine {h} joined");
            }
        }
        let mut members = now;
        let mut w = dcs.watch_prefix(MEMBERS, rev + 1);
        loop {
            let events = match w.next().await {
                Ok(e) => e,
                Err(e) => {
                    tracing::debug!(error = %e, "watching the engine members: listing again");
                    break;
                }
            };
            for e in events {
                let host = e.key().trim_start_matches(MEMBERS).to_string();
                if host == engine.me {
                    continue;
                }
                match e {
                    WatchEvent::Put(kv) => {
                        if members.insert(host.clone()) || kv.version == 1 {
                            tracing::info!("engine {host} joined");
                        }
                    }
                    WatchEvent::Delete { .. } => {
                        members.remove(&host);
                        gone(&host);
                    }
                }
            }
        }
        known = Some(members);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn ping(engine: &Engine, host: &str) -> bool {
    matches!(tokio::time::timeout(Duration::from_secs(1), http_get(engine, host, "/api/peer/ping")).await, Ok(Ok(200)))
}

/// Engines talk to each other on the peer port (`engine_peer`, 7100), apart from clients.
fn peer_addr(engine: &Engine, host: &str) -> Option<String> {
    let h = engine.cluster.host(host).ok()?;
    Some(engine.cluster.addr(h, engine.cluster.file().ports.engine_peer))
}

async fn http_get(engine: &Engine, host: &str, path: &str) -> std::io::Result<u16> {
    request(engine, host, "GET", path).await
}

async fn http_post(engine: &Engine, host: &str, path: &str) -> std::io::Result<u16> {
    request(engine, host, "POST", path).await
}

async fn request(engine: &Engine, host: &str, method: &str, path: &str) -> std::io::Result<u16> {
    let addr = peer_addr(engine, host).ok_or_else(|| std::io::Error::other("unknown host"))?;
    triad_probe::status(&addr, method, path).await
}
