//! The coordinator as triadctl reaches it: the etcd v3 Cluster and Maintenance APIs through the
//! `etcd-client` crate, one endpoint at a time, so the same commands work against
//! triad-coordinator and against an external etcd (and triadctl does not link the coordinator).

use anyhow::{Context, bail};
use clap::Args;
use etcd_client::{Client, ConnectOptions, Error, GetOptions, StatusResponse, TlsOptions};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;
use tonic::Code;

/// Where the coordinator is: the cluster file's coordinator hosts, or explicit endpoints.
#[derive(Args, Clone)]
pub struct Target {
    /// The cluster file (its coordinator hosts, or `coordinator.external_endpoints`).
    #[arg(long, env = "TRIAD_CONFIG", default_value = "/etc/triad/cluster.toml")]
    pub config: PathBuf,
    /// Comma-separated client URLs instead of the cluster file's (e.g. http://10.0.0.1:2379).
    #[arg(long, value_delimiter = ',')]
    pub endpoints: Vec<String>,
}

impl Target {
    /// The endpoints; for `https://` ones, the TLS that [`connect`] shows is set up too (the
    /// cluster file's CA, the certificate `TRIAD_TLS_CERT` and `TRIAD_TLS_KEY` name).
    pub fn endpoints(&self) -> anyhow::Result<Vec<String>> {
        let https = self.endpoints.iter().any(|e| e.starts_with("https://"));
        if !self.endpoints.is_empty() && !https {
            return Ok(self.endpoints.clone());
        }
        let cluster = triad_config::Cluster::load(&self.config)?;
        let endpoints = if self.endpoints.is_empty() { cluster.dcs_endpoints() } else { self.endpoints.clone() };
        if let Some(tls) = triad_dcs::endpoints::client_tls(&cluster, &endpoints, None)? {
            let _ = CLIENT_TLS.set(tls);
        }
        Ok(endpoints)
    }
}

/// The TLS `https://` endpoints are reached with, once [`Target::endpoints`] has set it.
static CLIENT_TLS: OnceLock<TlsOptions> = OnceLock::new();

/// One member of the coordinator, as the commands show and resolve it.
#[derive(Clone, Debug, Default)]
pub struct Member {
    pub id: u64,
    /// Empty until the member has started and published its name.
    pub name: String,
    pub peer_urls: Vec<String>,
    pub client_urls: Vec<String>,
    pub is_learner: bool,
}

impl From<&etcd_client::Member> for Member {
    fn from(m: &etcd_client::Member) -> Self {
        Member {
            id: m.id(),
            name: m.name().to_string(),
            peer_urls: m.peer_urls().to_vec(),
            client_urls: m.client_urls().to_vec(),
            is_learner: m.is_learner(),
        }
    }
}

/// A client of exactly one endpoint (the connection is made on first use).
pub async fn connect(url: &str) -> anyhow::Result<Client> {
    let mut options = ConnectOptions::new().with_connect_timeout(Duration::from_secs(2)).with_timeout(Duration::from_secs(10));
    if url.starts_with("https://") {
        options = options.with_tls(CLIENT_TLS.get().cloned().context("an https:// endpoint, but no [tls] in the cluster file to reach it with")?);
    }
    Client::connect([url], Some(options)).await.with_context(|| format!("bad endpoint {url:?}"))
}

/// Runs `f` against each endpoint in turn until one answers.
pub async fn first_answer<T, F, Fut>(endpoints: &[String], mut f: F) -> anyhow::Result<T>
where
    F: FnMut(Client) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let mut last = None;
    for url in endpoints {
        // The request timeout also bounds waiting for a connection that never comes.
        let answer = tokio::time::timeout(Duration::from_secs(12), f(connect(url).await?)).await;
        match answer {
            Ok(Ok(v)) => return Ok(v),
            // An answer from the server is final (e.g. "member not found"); try others only
            // when this endpoint could not be reached.
            Ok(Err(Error::GRpcStatus(s))) if s.code() != Code::Unavailable && s.code() != Code::DeadlineExceeded => {
                bail!("{url}: {}", s.message())
            }
            Ok(Err(Error::GRpcStatus(s))) => last = Some(format!("{url}: {}", s.message())),
            Ok(Err(e)) => last = Some(format!("{url}: {e}")),
            Err(_) => last = Some(format!("{url}: no answer")),
        }
    }
    bail!("no coordinator endpoint answered ({})", last.unwrap_or_else(|| "no endpoints".into()))
}

/// The member list as of now (linearizable): it fails, rather than answer from a stale view,
/// when the endpoint's member has lost the quorum.
pub async fn list_members(endpoints: &[String]) -> anyhow::Result<Vec<Member>> {
    first_answer(endpoints, |mut c| async move {
        // etcd-client always asks for a serializable member list (the member's local view). A
        // linearizable read first makes that member catch up with the leader's commit index
        // (ReadIndex), so the list that follows is at least as new as the moment of the call.
        c.get("triadctl/read-barrier", Some(GetOptions::new().with_count_only())).await?;
        Ok(c.member_list().await?.members().iter().map(Member::from).collect())
    })
    .await
}

/// One endpoint's status, or None when it does not answer within 3 s.
pub async fn status(url: &str) -> Option<StatusResponse> {
    let mut c = connect(url).await.ok()?;
    tokio::time::timeout(Duration::from_secs(3), c.status()).await.ok()?.ok()
}
