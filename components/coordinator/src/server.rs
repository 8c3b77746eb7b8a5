//! Start-up and wiring of one member: identity (bootstrap, join or restart), storage, the Raft
//! thread, the client and peer gRPC servers, and the loop reconciling membership with the
//! cluster file.
// rust-protobuf messages (raft-rs types) have hidden fields: they are built by assignment.
#![allow(clippy::field_reassign_with_default)]

use crate::core::{SharedCore, SharedStatus};
use crate::errors::MAX_GRPC_MESSAGE;
use crate::handle::NodeHandle;
use crate::identity::{self, Identity};
use crate::member_ops::MemberOps;
use crate::membership::{self, ProbeAnswer, StartDecision};
use crate::node::{Inbox, Node, NodeConfig};
use crate::pb::etcdserverpb::{
    Member, cluster_server::ClusterServer, kv_server::KvServer, lease_server::LeaseServer,
    maintenance_server::MaintenanceServer, watch_server::WatchServer,
};
use crate::pb::internal::{JoinRequest, ProbeRequest, peer_server::PeerServer};
use crate::service::{cluster::ClusterService, kv::KvService, lease::LeaseService, maintenance::MaintenanceService, peer::*, watch::WatchService};
use crate::state::StateMachine;
use crate::storage::RaftStorage;
use crate::transport::{self, MAX_PEER_MESSAGE, PeerTransport};
use anyhow::Context;
use raft::prelude::{ConfState, Snapshot};
use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use triad_config::{Cluster, Host, Role};

/// Everything a member needs from the cluster file and the command line.
pub struct Settings {
    pub cluster: Cluster,
    pub host: Host,
    pub data_dir: PathBuf,
}

impl Settings {
    pub fn new(cluster: Cluster, host_name: &str, state_dir: Option<PathBuf>) -> anyhow::Result<Settings> {
        let host = cluster.host(host_name)?.clone();
        if !host.has(Role::Coordinator) {
            anyhow::bail!(
                "{}: host {host_name:?} has no \"coordinator\" role; triad-coordinator runs only on coordinator hosts",
                cluster.source
            );
        }
        let state_dir = state_dir.unwrap_or_else(|| cluster.cluster.state_dir.clone());
        Ok(Settings { data_dir: state_dir.join("coordinator"), cluster, host })
    }

    fn addr(&self, h: &Host, port: i64) -> SocketAddr {
        self.cluster.addr(h, port).parse().expect("validated address and port")
    }
    fn peer_addr(&self) -> SocketAddr {
        self.addr(&self.host, self.cluster.ports.coordinator_peer)
    }
    fn client_addr(&self) -> SocketAddr {
        self.addr(&self.host, self.cluster.ports.coordinator_client)
    }
    fn client_url(&self, h: &Host) -> String {
        self.cluster.coordinator_client_url(h)
    }
    fn tick(&self) -> Duration {
        self.cluster.timings.coordinator_heartbeat_interval.into()
    }
    fn election_ticks(&self) -> usize {
        let e: Duration = self.cluster.timings.coordinator_election_timeout.into();
        ((e.as_millis() / self.tick().as_millis().max(1)) as usize).max(2)
    }
    /// etcd's minimum lease TTL: 1.5 election timeouts, in whole seconds.
    fn min_lease_ttl(&self) -> i64 {
        let e: Duration = self.cluster.timings.coordinator_election_timeout.into();
        ((e.as_millis() * 3 / 2).div_ceil(1000) as i64).max(1)
    }
    fn snapshot_entries(&self) -> u64 {
        self.cluster.coordinator.snapshot_entries.map(|n| n.max(1) as u64).unwrap_or(10_000)
    }
    fn wanted_names(&self) -> BTreeSet<String> {
        self.cluster.coordinator_members().map(|h| h.name.clone()).collect()
    }
}

/// Runs the member until `stop` completes (Ok: the daemon's SIGTERM/SIGINT), a listener ends
/// or another fatal error. Stopping is graceful: the Raft thread is joined, its storage closed.
pub async fn run(s: Settings, stop: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
    let mut servers = triad_daemon::Servers::default();
    std::fs::create_dir_all(&s.data_dir).with_context(|| format!("creating {}", s.data_dir.display()))?;
    let identity_slot = Arc::new(OnceLock::new());
    let existing = Identity::load(&s.data_dir)?;
    if let Some(id) = existing {
        let _ = identity_slot.set(id);
    }
    let running = Arc::new(OnceLock::new());
    let peer = PeerService { identity: identity_slot.clone(), running: running.clone(), name: s.host.name.clone() };
    let peer_listener = tokio::net::TcpListener::bind(s.peer_addr())
        .await
        .with_context(|| format!("binding the peer address {}", s.peer_addr()))?;
    let peer_server = tonic::transport::Server::builder()
        .tcp_nodelay(true)
        .add_service(PeerServer::new(peer).max_decoding_message_size(MAX_PEER_MESSAGE).max_encoding_message_size(MAX_PEER_MESSAGE))
        .serve_with_incoming(nodelay(peer_listener));
    servers.spawn(format!("peer (Raft) on {}", s.peer_addr()), peer_server);

    let identity = match existing {
        Some(id) => id,
        None => {
            identity::clear_partial(&s.data_dir)?;
            let id = establish(&s).await?;
            let _ = identity_slot.set(id);
            id
        }
    };
    tracing::info!(member = format!("{:x}", identity.member_id), cluster = format!("{:x}", identity.cluster_id), "starting member");

    // Storage and state machine.
    let core = SharedCore::new(StateMachine::new(s.min_lease_ttl()));
    let (storage, recovered) = RaftStorage::open(&s.data_dir, core.clone())?;
    if let Some(snap) = recovered.snapshot {
        core.write().sm = StateMachine::from_snapshot(&snap, s.min_lease_ttl(), Instant::now())?;
    }
    if core.read().sm.cluster_id == 0 {
        core.write().sm.cluster_id = identity.cluster_id;
    }
    let status = SharedStatus::default();
    status.set(|st| st.id = identity.member_id);
    let (inbox_tx, inbox_rx) = std::sync::mpsc::channel();
    let local_ip = s.host.address;
    let out = PeerTransport::new(tokio::runtime::Handle::current(), local_ip, s.cluster.peer_url(&s.host), inbox_tx.clone());
    let book = out.book();
    let cfg = NodeConfig {
        id: identity.member_id,
        tick: s.tick(),
        election_ticks: s.election_ticks(),
        snapshot_entries: s.snapshot_entries(),
    };
    let node = Node::new(cfg, storage, core.clone(), status.clone(), out, inbox_rx)?;
    let raft_thread = std::thread::Builder::new().name("raft".into()).spawn(move || node.run())?;

    let e: Duration = s.cluster.timings.coordinator_election_timeout.into();
    let handle = NodeHandle::new(identity.member_id, core, status.clone(), inbox_tx.clone(), Duration::from_secs(5) + 2 * e);
    let ops = Arc::new(MemberOps::new(handle.clone(), local_ip));
    let _ = running.set(Running { node: handle.clone(), ops: ops.clone(), book });

    let client_listener = tokio::net::TcpListener::bind(s.client_addr())
        .await
        .with_context(|| format!("binding the client address {}", s.client_addr()))?;
    let h = handle.clone();
    let tls = crate::client_tls::server_config(&s.cluster, &s.host.name).context("TLS on the client port ([tls] coordinator)")?;
    let client_services = tonic::transport::Server::builder()
        .tcp_nodelay(true)
        .add_service(KvServer::new(KvService { node: h.clone() }).max_decoding_message_size(MAX_GRPC_MESSAGE))
        .add_service(LeaseServer::new(LeaseService { node: h.clone() }))
        .add_service(WatchServer::new(WatchService { node: h.clone() }))
        .add_service(ClusterServer::new(ClusterService { node: h.clone(), ops: ops.clone() }))
        .add_service(MaintenanceServer::new(MaintenanceService { node: h }));
    let what = format!("client (etcd v3 API) on {}", s.client_addr());
    match tls {
        Some(tls) => servers.spawn(what, client_services.serve_with_incoming(crate::client_tls::incoming(client_listener, tls))),
        None => servers.spawn(what, client_services.serve_with_incoming(nodelay(client_listener))),
    }
    tracing::info!(client = %s.client_addr(), peer = %s.peer_addr(), "serving");

    let wanted = s.wanted_names();
    let removal_grace = 3 * Duration::from(s.cluster.timings.coordinator_election_timeout);
    let reconcile_ops = ops.clone();
    let reconciler = tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(1));
        loop {
            every.tick().await;
            if let Err(e) = reconcile_ops.reconcile(&wanted, removal_grace).await {
                tracing::debug!("membership reconciliation: {e}");
            }
        }
    });

    let mut stop = std::pin::pin!(stop);
    let mut watch_removed = tokio::time::interval(Duration::from_millis(200));
    let outcome = loop {
        tokio::select! {
            () = &mut stop => break Ok(()),
            e = servers.failed() => break Err(e),
            _ = watch_removed.tick() => {
                if status.get().removed {
                    break Err(anyhow::anyhow!("this member was removed from the cluster"));
                }
                if raft_thread.is_finished() {
                    break Err(anyhow::anyhow!("the raft thread stopped"));
                }
            }
        }
    };
    reconciler.abort();
    drop(servers); // aborts both listeners' tasks
    let _ = inbox_tx.send(Inbox::Stop);
    match raft_thread.join() {
        Ok(Err(e)) => return Err(e.context("raft storage failed")),
        Err(_) => anyhow::bail!("the raft thread panicked"),
        Ok(Ok(())) => {}
    }
    if let Err(e) = &outcome
        && status.get().removed {
            // Declarative: if the cluster file still names this host, the service manager
            // restarts it and it rejoins with a fresh identity.
            let aside = s.data_dir.with_extension(format!("removed-{}", std::process::id()));
            std::fs::rename(&s.data_dir, &aside)?;
            tracing::error!("{e}; its data moved to {}", aside.display());
        }
    outcome
}

/// Accepted connections with Nagle's algorithm off (the builder's `tcp_nodelay` only applies to
/// listeners tonic binds itself): small gRPC frames must not wait for delayed ACKs.
fn nodelay(l: tokio::net::TcpListener) -> impl tokio_stream::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    use tokio_stream::StreamExt;
    tokio_stream::wrappers::TcpListenerStream::new(l).map(|s| {
        let s = s?;
        s.set_nodelay(true)?;
        Ok(s)
    })
}

/// An empty data directory: bootstrap with the other initial members, or join the existing
/// cluster as a learner with a new member id.
async fn establish(s: &Settings) -> anyhow::Result<Identity> {
    let others: Vec<Host> = s.cluster.coordinator_members().filter(|h| h.name != s.host.name).cloned().collect();
    let initial = others.len() + 1;
    let mut last_log = Instant::now() - Duration::from_secs(60);
    loop {
        let answers = futures::future::join_all(others.iter().map(|h| probe(s, h))).await;
        let kinds: Vec<ProbeAnswer> = answers.iter().map(|(a, _)| *a).collect();
        match membership::decide_start(initial, &kinds) {
            StartDecision::Bootstrap => return bootstrap(s).await,
            StartDecision::Join => {
                for (h, (a, _)) in others.iter().zip(&answers) {
                    if *a != ProbeAnswer::Initialized {
                        continue;
                    }
                    match join(s, h).await {
                        Ok(id) => return Ok(id),
                        Err(e) => tracing::warn!(via = %h.name, "join failed, will retry: {e:#}"),
                    }
                }
            }
            StartDecision::Wait => {
                if last_log.elapsed() > Duration::from_secs(10) {
                    tracing::info!("data directory is empty; waiting for a quorum of coordinator hosts to answer");
                    last_log = Instant::now();
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn probe(s: &Settings, h: &Host) -> (ProbeAnswer, u64) {
    let url = s.cluster.peer_url(h);
    let attempt = async {
        let mut c = transport::connect(&url, s.host.address).await?;
        let r = c.probe(ProbeRequest { cluster_name: s.cluster.cluster.name.clone() }).await?.into_inner();
        anyhow::Ok(r)
    };
    match tokio::time::timeout(Duration::from_secs(2), attempt).await {
        Ok(Ok(r)) if r.initialized && r.term == 1 => (ProbeAnswer::Fresh, r.cluster_id),
        Ok(Ok(r)) if r.initialized => (ProbeAnswer::Initialized, r.cluster_id),
        Ok(Ok(_)) => (ProbeAnswer::Uninitialized, 0),
        _ => (ProbeAnswer::Unreachable, 0),
    }
}

async fn join(s: &Settings, via: &Host) -> anyhow::Result<Identity> {
    let mut c = transport::connect(&s.cluster.peer_url(via), s.host.address).await?;
    let req = JoinRequest { name: s.host.name.clone(), peer_url: s.cluster.peer_url(&s.host), client_url: s.client_url(&s.host) };
    let r = tokio::time::timeout(Duration::from_secs(30), c.join(req)).await??.into_inner();
    let id = Identity { member_id: r.member_id, cluster_id: r.cluster_id };
    id.save(&s.data_dir)?;
    tracing::info!(member = format!("{:x}", id.member_id), "joined the cluster as a learner");
    Ok(id)
}

/// Creates the initial state every initial member derives identically from the cluster file:
/// a snapshot at index 1 holding the member list, so any later member receives it as a
/// snapshot (the log starts at 2).
async fn bootstrap(s: &Settings) -> anyhow::Result<Identity> {
    let hosts: Vec<&Host> = s.cluster.coordinator_members().collect();
    let name = &s.cluster.cluster.name;
    let members: Vec<Member> = hosts
        .iter()
        .map(|h| {
            let peer = s.cluster.peer_url(h);
            Member {
                id: membership::initial_member_id(name, &h.name, &peer),
                name: h.name.clone(),
                peer_ur_ls: vec![peer],
                client_ur_ls: vec![s.client_url(h)],
                is_learner: false,
            }
        })
        .collect();
    let ids: Vec<u64> = members.iter().map(|m| m.id).collect();
    let me = membership::initial_member_id(name, &s.host.name, &s.cluster.peer_url(&s.host));
    let cluster_id = membership::cluster_id(&ids);
    let mut sm = StateMachine::new(s.min_lease_ttl());
    sm.members = members.into_iter().map(|m| (m.id, m)).collect();
    sm.cluster_id = cluster_id;
    sm.conf_state = ConfState::from((ids.clone(), Vec::<u64>::new()));
    sm.applied_index = 1;
    sm.applied_term = 1;
    let mut snap = Snapshot::default();
    snap.data = sm.to_snapshot().into();
    snap.mut_metadata().index = 1;
    snap.mut_metadata().term = 1;
    snap.mut_metadata().set_conf_state(sm.conf_state.clone());
    {
        let (mut storage, _) = RaftStorage::open(&s.data_dir, SharedCore::new(StateMachine::new(1)))?;
        storage.install_snapshot(&snap)?;
    }
    let id = Identity { member_id: me, cluster_id };
    id.save(&s.data_dir)?;
    tracing::info!(member = format!("{me:x}"), cluster = format!("{cluster_id:x}"), members = ids.len(), "bootstrapped a new cluster");
    Ok(id)
}

/// The host's own address, for binding outgoing connections.
pub fn local_ip(h: &Host) -> IpAddr {
    h.address
}
