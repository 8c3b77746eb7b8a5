//! Asking the local PostgreSQL what it is doing, and the few statements the keeper runs.

use anyhow::{Context, Result};
use tokio_postgres::{Client, NoTls};

use crate::member::parse_lsn;
use crate::pg::Postgres;

/// One round's view of the running server.
#[derive(Debug, Clone, Default)]
pub struct Status {
    pub in_recovery: bool,
    pub timeline: u32,
    pub lsn: u64,
    /// Standby: the WAL receiver streams from this host.
    pub streaming_from: Option<String>,
    /// Primary: (application_name, is sync) of streaming standbys.
    pub replicas: Vec<(String, bool, u64)>,
    pub sync_names: String,
}

pub async fn connect(pg: &Postgres) -> Result<Client> {
    let (client, conn) = tokio_postgres::connect(&pg.local_dsn("postgres"), NoTls).await.context("connecting to the local PostgreSQL")?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

pub async fn status(c: &Client) -> Result<Status> {
    let in_recovery: bool = c.query_one("SELECT pg_is_in_recovery()", &[]).await?.get(0);
    let mut s = Status { in_recovery, ..Default::default() };
    s.sync_names = c.query_one("SELECT current_setting('synchronous_standby_names')", &[]).await?.get(0);
    if in_recovery {
        let lsn: Option<String> = c.query_one("SELECT pg_last_wal_replay_lsn()::text", &[]).await?.get(0);
        s.lsn = lsn.as_deref().and_then(parse_lsn).unwrap_or(0);
        let tl: i32 = c.query_one("SELECT timeline_id FROM pg_control_checkpoint()", &[]).await?.get(0);
        s.timeline = tl as u32;
        if let Some(row) = c.query_opt("SELECT sender_host, received_tli FROM pg_stat_wal_receiver WHERE status = 'streaming'", &[]).await? {
            s.streaming_from = row.get::<_, Option<String>>(0);
            let tli: Option<i32> = row.get(1);
            if let Some(t) = tli {
                s.timeline = s.timeline.max(t as u32);
            }
        }
    } else {
        let row = c.query_one("SELECT pg_current_wal_lsn()::text, ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int", &[]).await?;
        s.lsn = parse_lsn(&row.get::<_, String>(0)).unwrap_or(0);
        s.timeline = row.get::<_, i32>(1) as u32;
        for r in c.query("SELECT application_name, sync_state, COALESCE(replay_lsn::text, '0/0') FROM pg_stat_replication WHERE state = 'streaming'", &[]).await? {
            let lsn = parse_lsn(&r.get::<_, String>(2)).unwrap_or(0);
            s.replicas.push((r.get(0), r.get::<_, String>(1) == "sync", lsn));
        }
    }
    Ok(s)
}

pub async fn set_sync_names(c: &Client, names: &str) -> Result<()> {
    // ALTER SYSTEM takes no parameters: quote the value as a literal.
    let literal = format!("'{}'", names.replace('\'', "''"));
    c.batch_execute(&format!("ALTER SYSTEM SET synchronous_standby_names = {literal}")).await?;
    c.batch_execute("SELECT pg_reload_conf()").await?;
    Ok(())
}

/// A physical slot for every other member (standbys stream through them, so the primary keeps
/// the WAL they still need), and no slot for hosts that left.
pub async fn sync_slots(c: &Client, members: &[String], me: &str) -> Result<()> {
    let want: Vec<String> = members.iter().filter(|m| *m != me).map(|m| Postgres::slot(m)).collect();
    let have: Vec<(String, bool)> = c
        .query("SELECT slot_name::text, active FROM pg_replication_slots WHERE slot_type = 'physical'", &[])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    for w in &want {
        if !have.iter().any(|(h, _)| h == w) {
            c.execute("SELECT pg_create_physical_replication_slot($1, true)", &[w]).await?;
        }
    }
    for (h, active) in &have {
        if !active && !want.contains(h) {
            c.execute("SELECT pg_drop_replication_slot($1)", &[h]).await?;
        }
    }
    Ok(())
}

/// The roles and database the applications use (run once, on the bootstrapping primary).
pub async fn create_roles(c: &Client, pg: &Postgres) -> Result<()> {
    let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let pw = |p: &Option<String>| p.as_ref().map(|p| format!(" PASSWORD '{}'", p.replace('\'', "''"))).unwrap_or_default();
    if pg.password.is_some() {
        c.batch_execute(&format!("ALTER ROLE {}{}", q(&pg.superuser), pw(&pg.password))).await?;
    }
    c.batch_execute(&format!("CREATE ROLE {} REPLICATION LOGIN{}", q(&pg.replication_user), pw(&pg.password))).await?;
    if pg.app_user != pg.superuser {
        c.batch_execute(&format!("CREATE ROLE {} LOGIN{}", q(&pg.app_user), pw(&pg.password))).await?;
    }
    c.batch_execute(&format!("CREATE DATABASE {} OWNER {}", q(&pg.database), q(&pg.app_user))).await?;
    Ok(())
}
