//! How a daemon reaches the cluster database: through its own host's internal HAProxy
//! (`db_primary`), which follows the primary across failovers, as `[database] app_user`.
//!
//! A typed `tokio_postgres::Config`, not a DSN string: a password with quotes or spaces needs no
//! escaping. The connection's TCP settings bound how long a client stays attached to a primary
//! whose host vanished without a FIN or RST (a power cut): keepalives probe an idle connection,
//! and the TCP user timeout ends one whose sent data goes unacknowledged, so a commit waiting
//! on a dead host fails within the keeper's lease and is retried on the new primary.

use std::time::Duration;

use anyhow::{Context, Result};
use tokio_postgres::tls::NoTlsStream;
use tokio_postgres::{Client, Config, Connection, NoTls, Socket};

/// The cluster database as `application` on host `me` sees it.
pub fn config(cluster: &triad_config::Cluster, me: &str, application: &str) -> Result<Config> {
    let f = cluster.file();
    let host = cluster.host(me)?;
    let db = &f.database;
    let mut c = Config::new();
    c.host(host.address.to_string())
        .port(u16::try_from(f.ports.db_primary).context("ports.db_primary")?)
        .user(&db.app_user)
        .dbname(&db.name)
        .application_name(format!("{application}-{me}"))
        .connect_timeout(Duration::from_secs(3))
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(2))
        .keepalives_interval(Duration::from_secs(1))
        .keepalives_retries(3)
        .tcp_user_timeout(f.timings.keeper_ttl.get())
        // A daemon frozen (SIGSTOP, a stalled VM) between taking the change log's lock and
        // committing holds every engine's writes while its kernel still answers keepalives:
        // the server ends such a session after the keeper's lease. Its write was not
        // acknowledged; the writer's client retries it.
        .options(&format!("-c idle_in_transaction_session_timeout={}", f.timings.keeper_ttl.get().as_millis()));
    if let Some(p) = &db.password_file {
        let password = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
        c.password(password.trim());
    }
    Ok(c)
}

/// The whole connection set-up (TCP, then the start-up exchange through the internal HAProxy)
/// is bounded by `connect_timeout`: the driver applies it to the TCP connect alone, which to
/// the local HAProxy always succeeds at once, while HAProxy itself may still be trying the
/// primary that just vanished (4 s a try, 3 retries: a replication loop waited 16 s in a
/// host-replacement scenario, and every write with it). Given up early, the next attempt
/// goes to the server HAProxy has meanwhile found to be the primary.
pub async fn connect_raw(config: &Config) -> Result<(Client, Connection<Socket, NoTlsStream>)> {
    let limit = config.get_connect_timeout().copied().unwrap_or(Duration::from_secs(3));
    match tokio::time::timeout(limit, config.connect(NoTls)).await {
        Ok(connected) => connected.context("connecting to the cluster database"),
        Err(_) => anyhow::bail!("connecting to the cluster database: no answer within {limit:?} (the primary may be changing)"),
    }
}

/// Connects; the connection's task runs until the client is dropped or the link fails.
pub async fn connect(config: &Config) -> Result<Client> {
    let (client, conn) = connect_raw(config).await?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "cluster database connection ended");
        }
    });
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_taken_verbatim_and_the_tcp_timeouts_are_set() {
        let dir = std::env::temp_dir().join(format!("triad-changelog-db-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pw = dir.join("pw");
        std::fs::write(&pw, "it's a 'pass word'\n").unwrap();
        let text = format!("{}\n[database]\npassword_file = {:?}\n", include_str!("../../../docs/examples/cluster.toml"), pw.display().to_string());
        let cluster = triad_config::Cluster::parse("example", &text).unwrap();
        let me = cluster.file().hosts[0].name.clone();
        let c = config(&cluster, &me, "test").unwrap();
        assert_eq!(c.get_password(), Some("it's a 'pass word'".as_bytes()));
        assert_eq!(c.get_application_name(), Some(format!("test-{me}").as_str()));
        assert_eq!(c.get_tcp_user_timeout(), Some(&cluster.file().timings.keeper_ttl.get()));
        assert!(c.get_keepalives());
        assert!(c.get_options().is_some_and(|o| o.starts_with("-c idle_in_transaction_session_timeout=")), "{:?}", c.get_options());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_proxy_that_accepts_and_never_answers_is_given_up_on_within_the_connect_timeout() {
        // What the internal HAProxy looks like while it still tries a vanished primary.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = silent.local_addr().unwrap().port();
        let held = tokio::spawn(async move {
            let (_socket, _) = silent.accept().await.unwrap();
            std::future::pending::<()>().await
        });
        let mut c = Config::new();
        c.host("127.0.0.1").port(port).user("triad").dbname("triad").connect_timeout(Duration::from_millis(300));
        let started = std::time::Instant::now();
        let e = format!("{:#}", connect(&c).await.unwrap_err());
        assert!(started.elapsed() < Duration::from_secs(2), "gave up after {:?}", started.elapsed());
        assert!(e.contains("no answer within 300ms"), "{e}");
        held.abort();
    }
}
