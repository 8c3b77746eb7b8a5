//! The connection to the coordinator: one etcd client per member and failover between them.
//!
//! Why not one balanced channel over every endpoint: a member that is cut off (its host
//! crashed, packets dropped) keeps a request waiting until its timeout, and a balanced channel
//! keeps sending a share of requests there. Here a request goes to the member that answered
//! last; when that member fails or stays silent for its share of the request timeout the
//! request moves to the next member, so one request never takes much longer than the timeout.
//! Retried requests are only those that are safe to repeat or whose repetition the caller
//! detects (the leadership transaction recognises its own earlier success).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use etcd_client::{Certificate, Client, ConnectOptions, Identity, TlsOptions};
use triad_config::Cluster;

use crate::error::{DcsError, Result, is_retryable};

/// The TLS a client of the coordinator shows when an endpoint is `https://` (`[tls]
/// coordinator`, or an external etcd with TLS): the cluster CA to check the member, and a
/// certificate of that CA to prove the client: `host`'s own for a daemon; for a tool run by an
/// operator (`host` is `None`), the files `TRIAD_TLS_CERT` and `TRIAD_TLS_KEY` name.
pub fn client_tls(cluster: &Cluster, endpoints: &[String], host: Option<&str>) -> Result<Option<TlsOptions>> {
    if !endpoints.iter().any(|e| e.starts_with("https://")) {
        return Ok(None);
    }
    let Some(tls) = cluster.tls.as_ref() else {
        return Err(DcsError::Refused("the coordinator's endpoints are https://, but the cluster file has no [tls] (the CA and certificates to use)".into()));
    };
    let pem = match host {
        Some(h) => tls.pem_for(h),
        None => match (std::env::var_os("TRIAD_TLS_CERT"), std::env::var_os("TRIAD_TLS_KEY")) {
            (Some(cert), Some(key)) => tls.pem_with(cert.as_ref(), key.as_ref()),
            _ => Err("the coordinator takes only clients with a certificate of the cluster CA ([tls] coordinator): set TRIAD_TLS_CERT and TRIAD_TLS_KEY to the files of one (triadctl certs issue)".into()),
        },
    }
    .map_err(DcsError::Refused)?;
    Ok(Some(TlsOptions::new().ca_certificate(Certificate::from_pem(pem.ca)).identity(Identity::from_pem(pem.cert, pem.key))))
}

/// The shortest time one member gets to answer, however many members there are.
const MIN_ATTEMPT: Duration = Duration::from_millis(400);

/// A handle on the coordinator, rooted at the cluster's key prefix. Cheap to clone.
#[derive(Clone)]
pub struct Dcs {
    inner: Arc<Inner>,
}

struct Inner {
    members: Vec<(String, Client)>,
    preferred: AtomicUsize,
    prefix: String,
    request_timeout: Duration,
}

impl Dcs {
    /// Connects to the cluster's coordinator (or external etcd) as the cluster file describes
    /// it, with `host`'s own member first when it runs one (it answers fastest and shares the
    /// host's fate).
    pub async fn connect(cluster: &Cluster, host: Option<&str>) -> Result<Dcs> {
        let mut endpoints = cluster.dcs_endpoints();
        if let Some(own) = host.and_then(|h| cluster.host(h).ok()) {
            let own_endpoint = cluster.coordinator_client_url(own);
            if let Some(i) = endpoints.iter().position(|e| *e == own_endpoint) {
                endpoints[..=i].rotate_right(1);
            }
        }
        let tls = client_tls(cluster, &endpoints, host)?;
        Dcs::connect_with(&endpoints, &cluster.dcs_prefix(), Duration::from_secs(3), tls).await
    }

    /// Connects to explicit endpoints (`http://host:port` or `host:port`) with keys under
    /// `prefix`. `request_timeout` bounds one request across every member it is tried on.
    pub async fn connect_to(endpoints: &[String], prefix: &str, request_timeout: Duration) -> Result<Dcs> {
        Dcs::connect_with(endpoints, prefix, request_timeout, None).await
    }

    /// As [`Dcs::connect_to`], with TLS options for `https://` endpoints.
    pub async fn connect_with(endpoints: &[String], prefix: &str, request_timeout: Duration, tls: Option<TlsOptions>) -> Result<Dcs> {
        if endpoints.is_empty() {
            return Err(DcsError::Refused("no coordinator endpoints configured".into()));
        }
        let attempt = attempt_timeout(request_timeout, endpoints.len());
        let mut members = Vec::with_capacity(endpoints.len());
        for e in endpoints {
            let url = if e.contains("://") { e.clone() } else { format!("http://{e}") };
            let options = ConnectOptions::new()
                .with_connect_timeout(attempt)
                .with_timeout(attempt)
                .with_keep_alive(Duration::from_secs(2), attempt)
                .with_require_leader(true);
            let options = match &tls {
                Some(t) if url.starts_with("https://") => options.with_tls(t.clone()),
                _ => options,
            };
            let client = Client::connect([url.as_str()], Some(options))
                .await
                .map_err(|err| DcsError::Refused(format!("endpoint {url}: {err}")))?;
            members.push((url, client));
        }
        let prefix = if prefix.ends_with('/') { prefix.to_string() } else { format!("{prefix}/") };
        Ok(Dcs { inner: Arc::new(Inner { members, preferred: AtomicUsize::new(0), prefix, request_timeout }) })
    }

    /// The same connections with another bound on one request (e.g. the keeper's retry
    /// timeout, shorter than its leader TTL).
    pub fn with_request_timeout(&self, timeout: Duration) -> Dcs {
        let inner = &self.inner;
        Dcs {
            inner: Arc::new(Inner {
                members: inner.members.clone(),
                preferred: AtomicUsize::new(inner.preferred.load(Ordering::Relaxed)),
                prefix: inner.prefix.clone(),
                request_timeout: timeout,
            }),
        }
    }

    /// The key prefix every relative key lives under (`/triad/<cluster>/`).
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// The absolute key of a relative one.
    pub fn key(&self, rel: &str) -> String {
        format!("{}{}", self.inner.prefix, rel)
    }

    /// The relative key of an absolute one (keys outside the prefix are returned whole).
    pub fn rel<'a>(&self, key: &'a str) -> &'a str {
        key.strip_prefix(self.inner.prefix.as_str()).unwrap_or(key)
    }

    /// The endpoint requests currently go to.
    pub fn current_endpoint(&self) -> &str {
        &self.inner.members[self.inner.preferred.load(Ordering::Relaxed) % self.inner.members.len()].0
    }

    /// Runs `op` on the preferred member, then on each other member in turn while the answer
    /// is "unreachable" or none comes within the member's share of the request timeout.
    pub(crate) async fn call<T, F, Fut>(&self, what: &str, op: F) -> Result<T>
    where
        F: Fn(Client) -> Fut,
        Fut: Future<Output = std::result::Result<T, etcd_client::Error>>,
    {
        let n = self.inner.members.len();
        let start = self.inner.preferred.load(Ordering::Relaxed);
        let attempt = attempt_timeout(self.inner.request_timeout, n);
        let mut failures = Vec::new();
        for i in 0..n {
            let idx = (start + i) % n;
            let (url, client) = &self.inner.members[idx];
            match tokio::time::timeout(attempt, op(client.clone())).await {
                Ok(Ok(v)) => {
                    self.inner.preferred.store(idx, Ordering::Relaxed);
                    return Ok(v);
                }
                Ok(Err(e)) if !is_retryable(&e) => return Err(DcsError::Refused(format!("{what}: {e}"))),
                Ok(Err(e)) => failures.push(format!("{url}: {e}")),
                Err(_) => failures.push(format!("{url}: no answer within {attempt:?}")),
            }
        }
        tracing::debug!(what, ?failures, "no coordinator member answered");
        Err(DcsError::Unavailable(failures))
    }
}

impl std::fmt::Debug for Dcs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let endpoints: Vec<&str> = self.inner.members.iter().map(|(u, _)| u.as_str()).collect();
        f.debug_struct("Dcs").field("endpoints", &endpoints).field("prefix", &self.inner.prefix).finish()
    }
}

fn attempt_timeout(request_timeout: Duration, members: usize) -> Duration {
    (request_timeout / members.max(1) as u32).max(MIN_ATTEMPT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_member_gets_a_share_but_never_less_than_the_floor() {
        assert_eq!(attempt_timeout(Duration::from_secs(3), 3), Duration::from_secs(1));
        assert_eq!(attempt_timeout(Duration::from_millis(600), 3), MIN_ATTEMPT);
        assert_eq!(attempt_timeout(Duration::from_secs(2), 0), Duration::from_secs(2));
    }
}
