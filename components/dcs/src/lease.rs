//! Leases: the coordinator forgets keys bound to a lease its holder stopped renewing. The
//! renewal loop belongs to the caller, whose HA logic decides what a missed renewal means.

use std::time::Duration;

use crate::endpoints::Dcs;
use crate::error::{DcsError, Result};

impl Dcs {
    /// A new lease of `ttl` (whole seconds, at least one, as etcd counts them); returns its id.
    pub async fn grant(&self, ttl: Duration) -> Result<i64> {
        let secs = ttl.as_secs().max(1) as i64;
        let resp = self.call("lease grant", |mut c| async move { c.lease_grant(secs, None).await }).await?;
        Ok(resp.id())
    }

    /// Renews a lease once. `Some(ttl)`: renewed, it now lasts `ttl` from the server's receipt;
    /// `None`: the lease no longer exists (expired or revoked) and its keys are gone.
    pub async fn keep_alive_once(&self, lease: i64) -> Result<Option<Duration>> {
        let ttl = self.call("lease keep-alive", |mut c| async move {
            let renewed = async {
                let (mut keeper, mut stream) = c.lease_keep_alive(lease).await?;
                keeper.keep_alive().await?;
                match stream.message().await? {
                    Some(resp) => Ok(resp.ttl()),
                    None => Err(etcd_client::Error::LeaseKeepAliveError("keep-alive stream closed".into())),
                }
            };
            match renewed.await {
                // etcd answers an expired lease with TTL 0; etcd-client reports it as an error.
                Err(etcd_client::Error::LeaseKeepAliveError(why)) if why.contains("not found") => Ok(0),
                other => other,
            }
        }).await?;
        Ok((ttl > 0).then(|| Duration::from_secs(ttl as u64)))
    }

    /// The time a lease has left, or `None` when it no longer exists.
    pub async fn lease_ttl(&self, lease: i64) -> Result<Option<Duration>> {
        let resp = self.call("lease time-to-live", |mut c| async move { c.lease_time_to_live(lease, None).await }).await?;
        Ok((resp.ttl() > 0).then(|| Duration::from_secs(resp.ttl() as u64)))
    }

    /// Ends a lease now, deleting its keys (a clean shutdown's way to hand over at once).
    pub async fn revoke(&self, lease: i64) -> Result<()> {
        match self.call("lease revoke", |mut c| async move { c.lease_revoke(lease).await }).await {
            Ok(_) => Ok(()),
            // Already gone is what revoking wanted.
            Err(DcsError::Refused(why)) if why.contains("not found") => Ok(()),
            Err(e) => Err(e),
        }
    }
}
