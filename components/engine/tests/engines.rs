//! Two engines on one cluster database (real PostgreSQL) and one etcd: SQL through psql,
//! replication between the engines through the change log, passwords, concurrent writers
//! keeping log order = commit order, local_only cubes, random queries compared with
//! PostgreSQL's answers on the same data, and fencing when the coordinator is lost. The SQL
//! port speaks only TLS ([tls], certificates from triadctl's CA): psql connects with
//! sslmode=verify-full; plain text and a server from another CA are refused; a renewed
//! certificate is served without a restart.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use triad_testkit::etcd::etcd_cluster;

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

struct Procs(Vec<Child>, tempfile::TempDir);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new("runuser").args(["-u", "postgres", "--", &format!("{PG_BIN}/pg_ctl"), "-D"]).arg(self.1.path().join("pg")).args(["stop", "-m", "immediate"]).output();
        if std::thread::panicking() {
            for n in ["e1", "e2"] {
                let log = fs::read_to_string(self.1.path().join(format!("{n}.log"))).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(30).collect();
                eprintln!("----- {n} -----\n{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
            }
        }
    }
}

fn eventually<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "not within {secs} s: {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A request to an engine's HTTP API: its status and body (status 0 when it does not answer).
/// The engine's HTTP API as the modeler `analyst`.
fn http(ip: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    http_as(ip, Some(("analyst", "secret")), method, path, body)
}

/// The HTTP API with these Basic credentials, or none; port 8080 unless `ip` names one.
fn http_as(ip: &str, user: Option<(&str, &str)>, method: &str, path: &str, body: &str) -> (u16, String) {
    let client = reqwest::blocking::Client::builder().connect_timeout(Duration::from_secs(2)).timeout(Duration::from_secs(30)).build().unwrap();
    let at = if ip.contains(':') { ip.to_string() } else { format!("{ip}:8080") };
    let mut request = client.request(method.parse().unwrap(), format!("http://{at}{path}"));
    if let Some((name, password)) = user {
        request = request.basic_auth(name, Some(password));
    }
    match request.header("content-type", "application/json").body(body.to_string()).send() {
        Ok(answer) => (answer.status().as_u16(), answer.text().unwrap_or_default()),
        Err(_) => (0, String::new()),
    }
}

/// An engine's `/metrics`, checked to be Prometheus text with its content type, by sample.
fn metrics(ip: &str) -> std::collections::BTreeMap<String, f64> {
    let answer = reqwest::blocking::get(format!("http://{ip}:8080/metrics")).unwrap();
    assert_eq!(answer.headers()["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    triad_testkit::prometheus::parse(&answer.text().unwrap()).unwrap()
}

/// The CA psql trusts (`sslrootcert`), set once the test made it.
static TRUSTED_CA: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

/// tokio-postgres over TLS, verifying the engine's certificate against the test's CA (as
/// `sslmode=verify-full`).
async fn connect_tls(e: &str) -> tokio_postgres::Client {
    use tokio_rustls::rustls;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_file_iter(TRUSTED_CA.get().expect("the test made its CA")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    #[expect(deprecated, reason = "ring, as the engine (src/tls.rs)")]
    let provider = rustls::crypto::ring::default_provider();
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(provider)).with_safe_default_protocol_versions().unwrap().with_root_certificates(roots).with_no_client_auth();
    let tls = tokio_postgres_rustls::MakeRustlsConnect::new(config);
    let (client, conn) = tokio_postgres::connect(&format!("host={e} port=5433 user=analyst password=secret dbname=triad sslmode=require"), tls).await.unwrap();
    tokio::spawn(conn);
    client
}

fn psql(ip: &str, password: &str, sql: &str) -> Result<String, String> {
    psql_as(ip, password, sql, "verify-full", TRUSTED_CA.get().expect("the test made its CA"))
}

/// psql with a whole connection string (user, TLS settings, a name other than the address).
fn psql_conninfo(conninfo: &str, sql: &str) -> Result<String, String> {
    let out = Command::new("psql").args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql, conninfo]).env("PGPASSWORD", "secret").output().unwrap();
    if out.status.success() { Ok(String::from_utf8_lossy(&out.stdout).trim().to_string()) } else { Err(String::from_utf8_lossy(&out.stderr).to_string()) }
}

fn psql_as(ip: &str, password: &str, sql: &str, sslmode: &str, ca: &std::path::Path) -> Result<String, String> {
    let out = Command::new("psql")
        .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", ip, "-p", "5433", "-U", "analyst", "-d", "triad", "-c", sql])
        .env("PGPASSWORD", password)
        .env("PGCONNECT_TIMEOUT", "3")
        .env("PGSSLMODE", sslmode)
        .env("PGSSLROOTCERT", ca)
        .output()
        .unwrap();
    if out.status.success() { Ok(String::from_utf8_lossy(&out.stdout).trim().to_string()) } else { Err(String::from_utf8_lossy(&out.stderr).to_string()) }
}

fn hash(password: &str) -> String {
    use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
    argon2::Argon2::default().hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng)).unwrap().to_string()
}

#[test]
fn two_engines_serve_sql_replicate_writes_in_order_and_fence_without_the_coordinator() {
    let mut etcd = etcd_cluster(1);
    let o = etcd[0].ip.octets();
    let ip = |i: u8| format!("127.{}.{}.{i}", o[1], o[2]);
    let (e1, e2) = (ip(21), ip(22));
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let mut procs = Procs(vec![], dir);
    let d = procs.1.path().to_path_buf();

    // The cluster database: one PostgreSQL on both engines' addresses at the db_primary port
    // (in a cluster, each host's internal HAProxy answers there).
    let pg = d.join("pg");
    fs::create_dir(&pg).unwrap();
    Command::new("chown").args(["postgres:postgres", pg.to_str().unwrap()]).status().unwrap();
    let as_pg = |args: &[&str]| Command::new("runuser").args(["-u", "postgres", "--"]).args(args).output().unwrap();
    assert!(as_pg(&[&format!("{PG_BIN}/initdb"), "-D", pg.to_str().unwrap(), "-U", "postgres", "-A", "trust"]).status.success());
    let opts = format!("-c listen_addresses={e1},{e2} -c port=5000 -c unix_socket_directories={}", pg.display());
    let started = as_pg(&[&format!("{PG_BIN}/pg_ctl"), "-D", pg.to_str().unwrap(), "-o", &opts, "-l", pg.join("log").to_str().unwrap(), "-w", "start"]);
    assert!(started.status.success(), "{}", String::from_utf8_lossy(&started.stderr));
    let sql = |s: &str| as_pg(&["psql", "-X", "-h", &e1, "-p", "5000", "-U", "postgres", "-c", s]);
    sql("CREATE ROLE triad LOGIN");
    sql("CREATE DATABASE triad OWNER triad");

    // The cluster CA and both engines' certificates, as `triadctl certs` makes them.
    let now = time::OffsetDateTime::now_utc();
    let tls = d.join("tls");
    fs::create_dir(&tls).unwrap();
    let authority = triad_ctl::ca::new_ca("et", now, 30).unwrap();
    fs::write(tls.join("ca.crt"), &authority.cert).unwrap();
    let issue = |name: &str, address: &str| {
        // As `triadctl certs issue` names them: an app host's certificate also names the
        // balancer, through which clients reach its SQL port.
        let identity = triad_ctl::ca::Identity { name: name.into(), fqdn: format!("{name}.test"), address: address.parse().unwrap(), via_names: vec!["lb.test".into()], via_addresses: vec![ip(30).parse().unwrap()] };
        let pem = triad_ctl::ca::issue(&authority, &identity, now, 30).unwrap();
        fs::write(tls.join(format!("{name}.key")), pem.key).unwrap();
        fs::write(tls.join(format!("{name}.crt")), pem.cert).unwrap();
    };
    issue("e1", &e1);
    issue("e2", &e2);
    TRUSTED_CA.set(tls.join("ca.crt")).unwrap();

    let config = d.join("cluster.toml");
    fs::write(
        &config,
        format!(
            "[cluster]\nname = \"et\"\n\n[[hosts]]\nname = \"e1\"\nfqdn = \"e1.test\"\naddress = \"{e1}\"\nroles = [\"app\"]\n\n[[hosts]]\nname = \"e2\"\nfqdn = \"e2.test\"\naddress = \"{e2}\"\nroles = [\"app\"]\n\n\
             [[hosts]]\nname = \"lb\"\nfqdn = \"lb.test\"\naddress = \"{}\"\nroles = [\"balancer\"]\n\n[coordinator]\nexternal_endpoints = [\"{}\"]\n\n\
             [timings]\nsnapshot_interval = \"1s\"\nengine_lease_ttl = \"4s\"\nengine_heartbeat_interval = \"1s\"\nengine_peer_timeout = \"3s\"\n\n[[users]]\nname = \"analyst\"\npassword_hash = \"{}\"\nrole = \"modeler\"\n\n\
             [[users]]\nname = \"vic\"\npassword_hash = \"{}\"\nrole = \"viewer\"\n\n\
             [tls]\nca = \"{}\"\ncert = \"{}/{{host}}.crt\"\nkey = \"{}/{{host}}.key\"\n",
            ip(30),
            etcd[0].endpoint(),
            hash("secret"),
            hash("secret"),
            tls.join("ca.crt").display(),
            tls.display(),
            tls.display()
        ),
    )
    .unwrap();
    for n in ["e1", "e2"] {
        let log = fs::File::create(d.join(format!("{n}.log"))).unwrap();
        procs.0.push(
            Command::new(env!("CARGO_BIN_EXE_triad-engine"))
                .args(["--config", config.to_str().unwrap(), "--host", n, "--state-dir"])
                .arg(d.join(n))
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap(),
        );
    }
    for e in [&e1, &e2] {
        eventually(60, &format!("engine on {e} serving"), || (http(e, "GET", "/health", "").0 == 200).then_some(()));
    }

    // TLS on the SQL port: verify-full takes e1's certificate for its address; plain text
    // is refused with the reason; a client trusting another CA refuses the engine.
    assert_eq!(psql(&e1, "secret", "SELECT 1").unwrap(), "1");
    let plain = psql_as(&e1, "secret", "SELECT 1", "disable", &tls.join("ca.crt")).unwrap_err();
    assert!(plain.contains("only over TLS"), "{plain}");
    let other_ca = d.join("other-ca.crt");
    fs::write(&other_ca, triad_ctl::ca::new_ca("other", now, 30).unwrap().cert).unwrap();
    let foreign = psql_as(&e1, "secret", "SELECT 1", "verify-full", &other_ca).unwrap_err();
    assert!(foreign.contains("certificate verify failed"), "{foreign}");
    // A renewed certificate is served to the next connection, without a restart.
    let served = |e: &str| {
        let s_client = format!("openssl s_client -starttls postgres -connect {e}:5433 </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256");
        String::from_utf8_lossy(&Command::new("sh").args(["-c", &s_client]).output().unwrap().stdout).trim().to_string()
    };
    let on_file = |n: &str| {
        let o = Command::new("openssl").args(["x509", "-noout", "-fingerprint", "-sha256", "-in"]).arg(tls.join(format!("{n}.crt"))).output().unwrap();
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    assert_eq!(served(&e1), on_file("e1"));
    let before = on_file("e1");
    issue("e1", &e1);
    assert_ne!(on_file("e1"), before);
    assert_eq!(served(&e1), on_file("e1"), "the renewed certificate is not served");
    assert_eq!(psql(&e1, "secret", "SELECT 1").unwrap(), "1");

    // Through the external balancer (real HAProxy, as `triadctl haproxy-config` renders it):
    // it passes the SQL port's TCP through, so verify-full checks the engine's certificate
    // against the balancer's name, which the certificate carries; another name is refused.
    let haproxy_cfg = d.join("haproxy-external.cfg");
    let rendered = triad_ctl::haproxy::render(&triad_config::Cluster::load(&config).unwrap(), triad_ctl::haproxy::Which::External, Some("lb")).unwrap();
    fs::write(&haproxy_cfg, rendered).unwrap();
    procs.0.push(Command::new("haproxy").arg("-db").arg("-f").arg(&haproxy_cfg).stdout(Stdio::null()).stderr(fs::File::create(d.join("haproxy.log")).unwrap()).spawn().expect("haproxy"));
    let through_lb = |name: &str| {
        psql_conninfo(&format!("host={name} hostaddr={} port=5433 user=analyst dbname=triad sslmode=verify-full sslrootcert={} connect_timeout=3", ip(30), tls.join("ca.crt").display()), "SELECT 1")
    };
    eventually(30, "psql verify-full through the balancer", || through_lb("lb.test").ok().filter(|a| a == "1"));
    let wrong = through_lb("elsewhere.test").unwrap_err();
    assert!(wrong.contains("does not match host name"), "{wrong}");

    // Publish a model through one engine: both get it at the same log position.
    let model = r#"{"model": {"name": "sales", "cubes": [{"name": "revenue", "dimensions": [{"name": "region"}, {"name": "month"}],
        "measures": [{"name": "amount", "type": "decimal"}, {"name": "units", "type": "integer"}]},
        {"name": "scratch", "local_only": true, "dimensions": [{"name": "k"}], "measures": [{"name": "v", "type": "float"}]}]}}"#;
    assert_eq!(http(&e1, "POST", "/api/models", model).0, 200);
    let bad = r#"{"model": {"name": "bad", "cubes": [{"name": "c", "dimensions": []}]}}"#;
    let (code, body) = http(&e1, "POST", "/api/models", bad);
    assert_eq!(code, 422, "{body}");
    assert!(body.contains("cubes[0].dimensions"), "{body}");

    // Writes through e1, visible on e2; queries aggregate.
    psql(&e1, "secret", "INSERT INTO sales.revenue (region, month, amount, units) VALUES ('north', '2026-01', 10.5, 2), ('south', '2026-01', 4, 1), ('north', '2026-02', 1.5, 7)").unwrap();
    let by_region = eventually(20, "writes visible on e2", || psql(&e2, "secret", "SELECT region, sum(amount), sum(units) FROM sales.revenue GROUP BY region ORDER BY region").ok().filter(|r| r.lines().count() == 2));
    assert_eq!(by_region, "north|12|9\nsouth|4|1");
    assert_eq!(psql(&e2, "secret", "SELECT month FROM sales.revenue WHERE units > 1 ORDER BY month DESC LIMIT 1").unwrap(), "2026-02");
    // A viewer reads and may not write, by INSERT or UPDATE; nothing of its writes is kept.
    let as_viewer = |sql: &str| {
        psql_conninfo(&format!("host={e1} port=5433 user=vic dbname=triad sslmode=verify-full sslrootcert={} connect_timeout=3", tls.join("ca.crt").display()), sql)
    };
    assert_eq!(as_viewer("SELECT count(*) FROM sales.revenue").unwrap(), "3");
    for write in ["INSERT INTO sales.revenue (region, month, amount) VALUES ('viewer', '2026-01', 1)", "UPDATE sales.revenue SET amount = 0 WHERE region = 'north'"] {
        let refused = as_viewer(write).unwrap_err();
        assert!(refused.contains("permission denied: user \"vic\" is a viewer"), "{write}: {refused}");
    }
    // The HTTP API, through the balancer: no user, a wrong password, a viewer writing or
    // publishing, a body naming another publisher are refused, each saying why.
    let lb = ip(30);
    let cell = r#"[{"region": "http", "month": "2026-01", "amount": 1}]"#;
    let (code, body) = eventually(30, "the balancer's HTTP frontend", || Some(http_as(&lb, None, "POST", "/api/cubes/sales/revenue/rows", cell)).filter(|(c, _)| *c != 0 && *c != 503));
    assert_eq!(code, 401, "{body}");
    assert!(body.contains("this API needs a user"), "{body}");
    let (code, body) = http_as(&lb, Some(("analyst", "guess")), "POST", "/api/cubes/sales/revenue/rows", cell);
    assert_eq!((code, body.contains("wrong user name or password")), (401, true), "{body}");
    let (code, body) = http_as(&lb, Some(("nobody", "secret")), "GET", "/api/cubes", "");
    assert_eq!((code, body.contains("wrong user name or password")), (401, true), "{body}");
    let (code, body) = http_as(&lb, Some(("vic", "secret")), "POST", "/api/cubes/sales/revenue/rows", cell);
    assert_eq!((code, body.contains("is a viewer; writing cells")), (403, true), "{body}");
    let (code, body) = http_as(&lb, Some(("vic", "secret")), "POST", "/api/cubes/sales/revenue/csv?wait=true", "region,month,amount\nhttp,2026-01,1\n");
    assert_eq!((code, body.contains("is a viewer; writing cells")), (403, true), "{body}");
    let (code, body) = http_as(&lb, Some(("vic", "secret")), "POST", "/api/models", model);
    assert_eq!((code, body.contains("is a viewer; publishing a model")), (403, true), "{body}");
    let (code, body) = http_as(&lb, None, "GET", "/api/models", "");
    assert_eq!(code, 401, "{body}");
    let (code, body) = http_as(&lb, Some(("vic", "secret")), "GET", "/api/cubes", "");
    assert_eq!((code, body.contains("sales.revenue")), (200, true), "{body}");
    let (code, body) = http(&lb, "POST", "/api/models", &model.replacen("{\"model\"", "{\"published_by\": \"mallory\", \"model\"", 1));
    assert_eq!((code, body.contains(r#"signed in as \"analyst\""#)), (422, true), "{body}");
    // Health and metrics stay open (balancers and Prometheus ask without a user); what
    // engines ask each other is on the peer port only.
    assert_eq!(http_as(&e1, None, "GET", "/health", "").0, 200);
    assert_eq!(http_as(&e1, None, "GET", "/api/peer/ping", "").0, 401);
    assert_eq!(http(&e1, "GET", "/api/peer/ping", "").0, 404);
    assert_eq!(http_as(&format!("{e1}:7100"), None, "GET", "/api/peer/ping", ""), (200, "pong".to_string()));
    assert_eq!(psql(&e1, "secret", "SELECT count(*), sum(amount) FROM sales.revenue").unwrap(), "3|16");
    // Writing a cell again sets it.
    psql(&e2, "secret", "INSERT INTO sales.revenue (region, month, amount) VALUES ('south', '2026-01', 5)").unwrap();
    assert_eq!(psql(&e2, "secret", "SELECT amount, units FROM sales.revenue WHERE region = 'south'").unwrap(), "5|1");
    // The database drops e2's connections (as an idle timeout in HAProxy would): the next
    // write still succeeds at the first attempt (a closed connection is replaced before use).
    let out = as_pg(&["psql", "-X", "-At", "-h", &e1, "-p", "5000", "-U", "postgres", "-d", "triad", "-c", "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'triad-engine-e2'"]);
    assert!(String::from_utf8_lossy(&out.stdout).trim().parse::<i32>().unwrap() >= 1, "e2's connections were there to drop");
    std::thread::sleep(Duration::from_millis(500));
    psql(&e2, "secret", "INSERT INTO sales.revenue (region, month, amount) VALUES ('south', '2026-01', 5)").unwrap();

    // UPDATE sets measures of the cells that match, computed on the image, in one commit.
    let out = psql(&e1, "secret", "UPDATE sales.revenue SET amount = amount * 2, units = units + 1 WHERE region = 'north'").unwrap();
    assert_eq!(out, "UPDATE 2");
    let by_region = eventually(20, "the update on e2", || psql(&e2, "secret", "SELECT region, sum(amount), sum(units) FROM sales.revenue GROUP BY region ORDER BY region").ok().filter(|r| r.starts_with("north|24")));
    assert_eq!(by_region, "north|24|11\nsouth|5|1");
    let err = psql(&e1, "secret", "UPDATE sales.revenue SET units = '1.5'").unwrap_err();
    assert!(err.contains("integer") && err.contains("bigint"), "text that is no whole number for an integer measure: {err}");
    let err = psql(&e1, "secret", "UPDATE sales.revenue SET region = 'x'").unwrap_err();
    assert!(err.contains("addresses cells"), "{err}");
    let err = psql(&e1, "secret", "UPDATE sales.revenue SET colour = 1").unwrap_err();
    assert!(err.contains("\"colour\"") && err.contains("does not exist"), "{err}");
    assert_eq!(psql(&e1, "secret", "UPDATE sales.revenue SET amount = 0 WHERE region = 'nowhere'").unwrap(), "UPDATE 0");
    assert_eq!(psql(&e1, "secret", "SELECT sum(units) FROM sales.revenue").unwrap(), "12", "the refused updates changed nothing");
    assert!(psql(&e1, "secret", "DELETE FROM sales.revenue").unwrap_err().contains("not deleted"));

    // Bad input: clear errors, nothing written.
    let err = psql(&e1, "secret", "SELECT region FROM sales.revenue WHERE amount > )").unwrap_err();
    assert!(err.contains("syntax error") && err.contains("LINE 1"), "the error names the position: {err}");
    let err = psql(&e1, "secret", "INSERT INTO sales.revenue (region, amount) VALUES ('x', 1)").unwrap_err();
    assert!(err.contains("dimension \"month\""), "{err}");
    let err = psql(&e1, "secret", "SELECT * FROM sales.nope").unwrap_err();
    assert!(err.contains("nope"), "{err}");
    let err = psql(&e1, "wrong", "SELECT 1").unwrap_err();
    assert!(err.to_lowercase().contains("password authentication failed"), "{err}");

    // Concurrent writers on both engines: every write lands, positions are dense and distinct.
    let threads: Vec<_> = [e1.clone(), e2.clone()]
        .into_iter()
        .enumerate()
        .map(|(w, e)| {
            std::thread::spawn(move || {
                for i in 0..25 {
                    psql(&e, "secret", &format!("INSERT INTO sales.revenue (region, month, units) VALUES ('w{w}', 'm{i:02}', {i})")).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    for e in [&e1, &e2] {
        eventually(20, "all concurrent writes on every engine", || (psql(e, "secret", "SELECT count(*) FROM sales.revenue WHERE region LIKE 'w%'").ok()? == "50").then_some(()));
    }
    prepared_statements(&e2);
    transactions(&e1, &e2);
    session_statements(&e1);
    catalog_queries(&e2);
    csv_loads(&e1, &e2);
    differential_against_postgres(&e1, &e2, &as_pg);

    // A local_only cube: written on e1, visible there only, never in the log.
    psql(&e1, "secret", "INSERT INTO sales.scratch (k, v) VALUES ('only-here', 2.5)").unwrap();
    assert_eq!(psql(&e1, "secret", "SELECT v FROM sales.scratch").unwrap(), "2.5");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(psql(&e2, "secret", "SELECT count(*) FROM sales.scratch").unwrap(), "0", "a local_only write reached another engine");
    let err = psql(&e1, "secret", "INSERT INTO sales.scratch (k, v) VALUES ('x', 'not a number')").unwrap_err();
    assert!(err.contains("not a number"), "{err}");
    let in_log = as_pg(&["psql", "-X", "-At", "-h", &e1, "-p", "5000", "-U", "postgres", "-d", "triad", "-c", "SELECT count(*) FROM triad_engine.change_log WHERE cube = 'sales.scratch'"]);
    assert_eq!(String::from_utf8_lossy(&in_log.stdout).trim(), "0", "a local_only write reached the change log");

    let out = as_pg(&["psql", "-X", "-At", "-h", &e1, "-p", "5000", "-U", "postgres", "-d", "triad", "-c", "SELECT count(*), count(DISTINCT pos), max(pos) - min(pos) + 1 FROM triad_engine.change_log"]);
    let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let nums: Vec<&str> = line.split('|').collect();
    assert_eq!(nums.len(), 3, "{line} {}", String::from_utf8_lossy(&out.stderr));
    assert!(nums[0] == nums[1] && nums[1] == nums[2], "log positions dense and distinct: {line}");

    // Snapshots: one engine writes them; a restarted engine loads the newest and applies only
    // the log after it, and ends with the same image.
    let last_pos = String::from_utf8_lossy(&as_pg(&["psql", "-X", "-At", "-h", &e1, "-p", "5000", "-U", "postgres", "-d", "triad", "-c", "SELECT max(pos) FROM triad_engine.change_log"]).stdout).trim().to_string();
    eventually(20, "a snapshot of the whole log", || {
        let out = as_pg(&["psql", "-X", "-At", "-h", &e1, "-p", "5000", "-U", "postgres", "-d", "triad", "-c", "SELECT max(pos) FROM triad_engine.snapshots"]);
        (String::from_utf8_lossy(&out.stdout).trim() == last_pos).then_some(())
    });
    let _ = procs.0[1].kill();
    let _ = procs.0[1].wait();
    psql(&e1, "secret", "INSERT INTO sales.revenue (region, month, units) VALUES ('after-snapshot', 'm', 1)").unwrap();
    // What a query spilling when the engine was killed leaves behind; the restart removes it.
    let spill = d.join("e2/engine/spill");
    fs::create_dir_all(spill.join("datafusion-killed")).unwrap();
    fs::write(spill.join("datafusion-killed/.tmp0001"), vec![7u8; 3 << 20]).unwrap();
    let log = fs::OpenOptions::new().append(true).open(d.join("e2.log")).unwrap();
    procs.0[1] = Command::new(env!("CARGO_BIN_EXE_triad-engine")).args(["--config", config.to_str().unwrap(), "--host", "e2", "--state-dir"]).arg(d.join("e2")).stdout(Stdio::null()).stderr(log).spawn().unwrap();
    eventually(60, "the restarted e2 serving", || (http(&e2, "GET", "/health", "").0 == 200).then_some(()));
    let e2_log = fs::read_to_string(d.join("e2.log")).unwrap();
    assert!(e2_log.contains("loaded the snapshot"), "{e2_log}");
    assert!(!spill.join("datafusion-killed").exists(), "the killed run's spill files are removed at start");
    assert!(e2_log.contains("removed spill files a previous run left") && e2_log.contains("mib=3"), "{e2_log}");
    let checksum = "SELECT count(*), round(sum(amount), 6), sum(units) FROM sales.revenue";
    assert_eq!(psql(&e2, "secret", checksum).unwrap(), psql(&e1, "secret", checksum).unwrap(), "the restarted engine's image");
    let checksum = "SELECT count(*), round(sum(x), 6), sum(y) FROM d.diff";
    assert_eq!(psql(&e2, "secret", checksum).unwrap(), psql(&e1, "secret", checksum).unwrap());

    // /metrics tells what /api/status tells: serving, the applied position, cells per cube
    // (the local_only cube has its cell on e1 only).
    for e in [&e1, &e2] {
        let m = metrics(e);
        let status: serde_json::Value = serde_json::from_str(&http(e, "GET", "/api/status", "").1).unwrap();
        assert_eq!(m["triad_engine_serving"], 1.0, "{m:?}");
        assert_eq!(m["triad_engine_applied_position"], status["applied"].as_f64().unwrap(), "{m:?}");
        for cube in status["cubes"].as_array().unwrap() {
            let sample = format!("triad_engine_cube_cells{{cube=\"{}\"}}", cube["cube"].as_str().unwrap());
            assert_eq!(m.get(&sample), Some(&cube["cells"].as_f64().unwrap()), "{sample} in {m:?}");
        }
        assert_eq!(m.len(), 2 + status["cubes"].as_array().unwrap().len(), "{m:?}");
        let scratch = if e == &e1 { 1.0 } else { 0.0 };
        assert_eq!(m.get("triad_engine_cube_cells{cube=\"sales.scratch\"}"), Some(&scratch), "{m:?}");
    }
    // e1's acknowledged writes each passed every stage once, and each is in the histograms.
    let stages = &serde_json::from_str::<serde_json::Value>(&http(&e1, "GET", "/api/status", "").1).unwrap()["write_stages"];
    let count = |s: &str| stages[s]["count"].as_u64().unwrap();
    assert!(count("total") > 0, "{stages}");
    for s in ["queue", "commit", "apply"] {
        assert_eq!(count(s), count("total"), "{s} in {stages}");
        assert_eq!(stages[s]["buckets"].as_array().unwrap().last().unwrap()[1].as_u64(), Some(count(s)), "{s} in {stages}");
    }

    // The coordinator is lost: both engines leave (exit non-zero) within their lease.
    etcd[0].kill();
    for (i, child) in procs.0.iter_mut().take(2).enumerate() {
        let status = eventually(20, &format!("engine e{} exits", i + 1), || child.try_wait().unwrap());
        assert!(!status.success(), "an engine that lost the coordinator exits with an error status");
    }
    let log = fs::read_to_string(d.join("e1.log")).unwrap();
    assert!(log.contains("leaving the engine cluster: it cannot reach the coordinator"), "{log}");
}

/// The same cells in a cube (through e1's HTTP API) and in a PostgreSQL table; many random
/// GROUP BY queries through e2 must give PostgreSQL's answers (numbers within 1e-9 relative).
fn differential_against_postgres(e1: &str, e2: &str, as_pg: &dyn Fn(&[&str]) -> std::process::Output) {
    let mut seed: u64 = 0x5eed;
    let mut rnd = move |n: u64| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let model = r#"{"model": {"name": "d", "cubes": [{"name": "diff", "dimensions": [{"name": "a", "members": ["a0", "a1", "a2", "a3", "a4"]},
        {"name": "b", "levels": [{"name": "bg", "parents": {"b0": "g0", "b1": "g1", "b2": "g2", "b3": "g0", "b4": "g1", "b5": "g2", "b6": "g0"}}]}, {"name": "c"}],
        "measures": [{"name": "x", "type": "decimal"}, {"name": "y", "type": "integer"}]}]}}"#;
    assert_eq!(http(e1, "POST", "/api/models", model).0, 200);
    let (mut cells, mut rows) = (vec![], vec![]);
    for a in 0..5 {
        for b in 0..7 {
            // c: one member per cell, more than VIEW_ABOVE in all, so the engine sends it as
            // string views; a, b and bg stay dictionaries.
            for c in (0..40).map(|c| (a * 7 + b) * 40 + c) {
                if rnd(5) == 0 {
                    continue;
                }
                let (x, y) = (rnd(100_000) as f64 / 100.0 - 300.0, rnd(1000) as i64 - 200);
                cells.push(format!(r#"{{"a": "a{a}", "b": "b{b}", "c": "c{c}", "x": {x}, "y": {y}}}"#));
                rows.push(format!("('a{a}', 'b{b}', 'g{}', 'c{c}', {x}, {y})", b % 3));
            }
        }
    }
    let (code, body) = http(e1, "POST", "/api/cubes/d/diff/rows", &format!("[{}]", cells.join(",")));
    assert_eq!(code, 200, "{body}");
    let pg = |q: &str| {
        let out = as_pg(&["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", e1, "-p", "5000", "-U", "postgres", "-d", "triad", "-c", q]);
        assert!(out.status.success(), "{q}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    pg(&format!("CREATE TABLE diff_ref (a text, b text, bg text, c text, x float8, y bigint); INSERT INTO diff_ref VALUES {}", rows.join(",")));
    let n = rows.len().to_string();
    eventually(20, "the cells on e2", || (psql(e2, "secret", "SELECT count(*) FROM d.diff").ok()? == n).then_some(()));
    let types = psql(e2, "secret", "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'd' AND table_name = 'diff' AND column_name IN ('a', 'c') ORDER BY column_name").unwrap();
    assert_eq!(types, "a|Dictionary(UInt32, Utf8)\nc|Utf8View", "both column representations are compared");

    let dims = ["a", "b", "bg", "c"];
    let aggs = ["sum(x)", "sum(y)", "min(x)", "max(y)", "count(*)", "avg(x)", "count(DISTINCT c)"];
    for i in 0..150 {
        let group: Vec<&str> = dims.iter().copied().filter(|_| rnd(2) == 0).collect();
        let group = if group.is_empty() { vec![dims[rnd(4) as usize]] } else { group };
        // Repeats allowed: the same unnamed aggregate twice is valid PostgreSQL.
        let chosen: Vec<&str> = (0..1 + rnd(3)).map(|_| aggs[rnd(aggs.len() as u64) as usize]).collect();
        let filter = match rnd(4) {
            0 => format!(" WHERE a = 'a{}'", rnd(5)),
            1 => format!(" WHERE y > {}", rnd(600) as i64 - 200),
            2 => format!(" WHERE x < {} AND b <> 'b{}'", rnd(600) as i64 - 300, rnd(7)),
            3 => format!(" WHERE bg IN ('g{}', 'g{}')", rnd(3), rnd(3)),
            _ => String::new(),
        };
        let filter = if rnd(5) == 4 { String::new() } else { filter };
        let cols = group.join(", ");
        let select = format!("SELECT {cols}, {} FROM {{t}}{filter} GROUP BY {cols} ORDER BY {cols}", chosen.join(", "));
        let mine = psql(e2, "secret", &select.replace("{t}", "d.diff")).unwrap_or_else(|e| panic!("query {i}: {select}: {e}"));
        let theirs = pg(&select.replace("{t}", "diff_ref"));
        let (ml, tl): (Vec<&str>, Vec<&str>) = (mine.lines().collect(), theirs.lines().collect());
        assert_eq!(ml.len(), tl.len(), "query {i}: {select}\nengine:\n{mine}\npostgres:\n{theirs}");
        for (m, t) in ml.iter().zip(&tl) {
            for (mv, tv) in m.split('|').zip(t.split('|')) {
                let same = match (mv.parse::<f64>(), tv.parse::<f64>()) {
                    (Ok(a), Ok(b)) => (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0),
                    _ => mv == tv,
                };
                assert!(same, "query {i}: {select}\nengine row {m:?} != postgres row {t:?}");
            }
        }
    }
}

/// The extended protocol, as tokio-postgres speaks it (binary results, typed parameters).
fn prepared_statements(e: &str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = connect_tls(e).await;
        let insert = client.prepare("INSERT INTO sales.revenue (region, month, amount, units) VALUES ($1, $2, $3, $4)").await.unwrap();
        assert_eq!(client.execute(&insert, &[&"east", &"2026-03", &2.25f64, &4i64]).await.unwrap(), 1);
        let q = client.prepare("SELECT region, sum(amount) AS amount, CAST(sum(units) AS bigint) AS units FROM sales.revenue WHERE region = $1 GROUP BY region").await.unwrap();
        let rows = client.query(&q, &[&"east"]).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].get::<_, String>(0), rows[0].get::<_, f64>(1), rows[0].get::<_, i64>(2)), ("east".to_string(), 2.25, 4));
        // PostgreSQL's column names (repeats allowed), and columns even for an empty result.
        let q = client.prepare("SELECT sales.revenue.region, sum(amount), sum(amount), count(*) FROM sales.revenue WHERE region = 'nowhere' GROUP BY region").await.unwrap();
        assert_eq!(q.columns().iter().map(|c| c.name()).collect::<Vec<_>>(), ["region", "sum", "sum", "count"]);
        assert!(client.query(&q, &[]).await.unwrap().is_empty());
        let err = client.query("SELECT region FROM sales.revenue WHERE amount > )", &[]).await.unwrap_err();
        assert_eq!(err.code().map(|c| c.code()), Some("42601"), "{err}");
        let err = client.execute(&insert, &[&"east", &"2026-03", &f64::NAN, &1.5f64]).await;
        assert!(err.is_err(), "a float for an integer measure is refused by the client's types");
    });
}

/// Writes are real transactions: nothing is seen before COMMIT, ROLLBACK and errors leave
/// nothing, a multi-statement message is all or nothing; quoted numbers are stored, not lost.
fn transactions(e1: &str, e2: &str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let connect = |e: String| async move { connect_tls(&e).await };
        let (a, other) = (connect(e1.to_string()).await, connect(e2.to_string()).await);
        let cell = |c: &'static str| format!("SELECT amount, units FROM sales.revenue WHERE region = 'tx' AND month = '{c}'");
        async fn rows(client: &tokio_postgres::Client, sql: String) -> Vec<(Option<String>, Option<String>)> {
            let messages = client.simple_query(&sql).await.unwrap();
            messages.into_iter().filter_map(|m| if let tokio_postgres::SimpleQueryMessage::Row(r) = m { Some((r.get(0).map(str::to_string), r.get(1).map(str::to_string))) } else { None }).collect()
        }

        // Quoted numbers (as many drivers bind them) are stored with their value, everywhere.
        a.simple_query("INSERT INTO sales.revenue (region, month, amount, units) VALUES ('tx', 'quoted', '2.50', '5')").await.unwrap();
        for c in [&a, &other] {
            let mut got = vec![];
            for _ in 0..100 {
                got = rows(c, cell("quoted")).await;
                if !got.is_empty() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert_eq!(got, [(Some("2.5".into()), Some("5".into()))], "the quoted numbers are there");
        }

        // ROLLBACK: read-your-own-writes inside, nobody else sees it, nothing is left.
        a.batch_execute("BEGIN").await.unwrap();
        a.execute("INSERT INTO sales.revenue (region, month, units) VALUES ($1, $2, $3)", &[&"tx", &"rolled-back", &7i64]).await.unwrap();
        assert_eq!(rows(&a, cell("rolled-back")).await, [(None, Some("7".into()))], "the session reads its own write");
        a.batch_execute("UPDATE sales.revenue SET units = units + 1 WHERE region = 'tx' AND month = 'rolled-back'").await.unwrap();
        assert_eq!(rows(&a, cell("rolled-back")).await, [(None, Some("8".into()))], "and updates it");
        assert!(rows(&other, cell("rolled-back")).await.is_empty(), "another session does not see uncommitted writes");
        a.batch_execute("ROLLBACK").await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        for c in [&a, &other] {
            assert!(rows(c, cell("rolled-back")).await.is_empty(), "ROLLBACK leaves nothing");
        }

        // An error aborts the block: 25P02 until its end, and COMMIT then commits nothing.
        a.batch_execute("BEGIN").await.unwrap();
        a.batch_execute("INSERT INTO sales.revenue (region, month, units) VALUES ('tx', 'aborted', 1)").await.unwrap();
        assert!(a.batch_execute("SELECT * FROM sales.nope").await.is_err());
        let err = a.batch_execute("INSERT INTO sales.revenue (region, month, units) VALUES ('tx', 'aborted', 2)").await.unwrap_err();
        assert_eq!(err.code().map(|c| c.code()), Some("25P02"), "{err}");
        a.batch_execute("COMMIT").await.unwrap();
        // A multi-statement message is one transaction: the failing SELECT undoes the INSERT.
        assert!(a.batch_execute("INSERT INTO sales.revenue (region, month, units) VALUES ('tx', 'multi', 1); SELECT * FROM sales.nope").await.is_err());
        // Savepoints: what came after one is undone by ROLLBACK TO, the rest commits.
        a.batch_execute("BEGIN; INSERT INTO sales.revenue (region, month, units) VALUES ('tx', 'kept', 1); SAVEPOINT s1").await.unwrap();
        a.batch_execute("INSERT INTO sales.revenue (region, month, units) VALUES ('tx', 'undone', 1)").await.unwrap();
        assert!(a.batch_execute("SELECT * FROM sales.nope").await.is_err());
        a.batch_execute("ROLLBACK TO SAVEPOINT s1").await.unwrap();
        a.batch_execute("INSERT INTO sales.revenue (region, month, units) VALUES ('tx', 'kept', 2)").await.unwrap();
        a.batch_execute("COMMIT").await.unwrap();
        let mut got = vec![];
        for _ in 0..100 {
            got = rows(&other, "SELECT month, units FROM sales.revenue WHERE region = 'tx' AND month <> 'quoted' ORDER BY month".into()).await;
            if !got.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(got, [(Some("kept".into()), Some("2".into()))], "only the committed writes, on the other engine");

        // What the engine does not implement is refused, not ignored.
        for sql in ["INSERT INTO sales.revenue (region, month, units) VALUES ('tx', 'c', 1) ON CONFLICT DO NOTHING", "INSERT INTO sales.revenue (region, month, units) VALUES ('tx', 'r', 1) RETURNING units", "BEGIN ISOLATION LEVEL SERIALIZABLE"] {
            let err = a.batch_execute(sql).await.unwrap_err();
            assert_eq!(err.code().map(|c| c.code()), Some("0A000"), "{sql}: {err}");
        }
        assert!(rows(&a, "SELECT month FROM sales.revenue WHERE region = 'tx' AND month IN ('c', 'r')".into()).await.is_empty());
    });
}

/// SHOW, SET and the functions drivers call at connect (psqlODBC, SQLAlchemy, pgcli).
fn session_statements(e: &str) {
    let q = |sql: &str| psql(e, "secret", sql).unwrap_or_else(|err| panic!("{sql}: {err}"));
    assert_eq!(q("SHOW transaction_isolation"), "read committed");
    assert_eq!(q("SHOW TRANSACTION ISOLATION LEVEL"), "read committed");
    assert_eq!(q("SHOW standard_conforming_strings"), "on");
    assert_eq!(q("SHOW time zone"), "UTC");
    assert!(q("SHOW ALL").lines().count() > 20);
    assert!(q("SELECT version()").starts_with("PostgreSQL 15.0 (Triad"));
    let last = |sql: &str| q(sql).lines().last().unwrap_or_default().to_string();
    let out = q("SET search_path = sales; SELECT count(*) > 0 FROM revenue; SELECT current_setting('search_path')");
    assert!(out.lines().any(|l| l == "t") && out.ends_with("sales"), "an unqualified cube is found through search_path: {out}");
    assert_eq!(last("SET statement_timeout = '5s'; SHOW statement_timeout"), "5000ms");
    assert_eq!(last("SET DateStyle = 'ISO'; SET extra_float_digits = 2; SHOW transaction_isolation"), "read committed", "psqlODBC's first message");
    assert!(psql(e, "secret", "SET DateStyle = 'SQL, DMY'").unwrap_err().contains("not supported"));
    assert!(psql(e, "secret", "SHOW no_such_parameter").unwrap_err().contains("unrecognized configuration parameter"));
    assert_eq!(q("DISCARD ALL"), "DISCARD ALL");
    assert!(q("EXPLAIN SELECT sum(units) FROM sales.revenue").contains("logical_plan"));
    // Server-side cursors hand a result out in parts; COPY writes it in bulk.
    let out = q("BEGIN; DECLARE c CURSOR FOR SELECT month FROM sales.revenue WHERE region = 'w0' ORDER BY month; FETCH 2 FROM c; FETCH FORWARD 1 FROM c; CLOSE c; COMMIT");
    let months: Vec<&str> = out.lines().filter(|l| l.starts_with('m')).collect();
    assert_eq!(months, ["m00", "m01", "m02"], "{out}");
    assert!(psql(e, "secret", "DECLARE c CURSOR FOR SELECT 1").unwrap_err().contains("transaction blocks"));
    let csv = q("COPY (SELECT region, units FROM sales.revenue WHERE region = 'w1' AND month IN ('m00', 'm01') ORDER BY month) TO STDOUT WITH (FORMAT csv, HEADER)");
    assert_eq!(csv, "region,units\nw1,0\nw1,1");
    let text = q("COPY (SELECT 'a\tb' AS t, NULL::text AS n, 1.5::float8 AS f) TO STDOUT");
    assert_eq!(text, "a\\tb\t\\N\t1.5", "text format escapes tabs and writes NULL as \\N");
    assert!(psql(e, "secret", "COPY sales.revenue FROM STDIN").unwrap_err().contains("TO STDOUT"));
}

/// What psql's backslash commands and drivers' metadata queries ask: schemas (models), tables
/// (cubes), columns and their types, the database's name.
fn catalog_queries(e: &str) {
    let meta = |cmd: &str| psql(e, "secret", cmd).unwrap_or_else(|err| panic!("{cmd}: {err}"));
    let schemas = meta("\\dn");
    assert!(schemas.lines().any(|l| l.starts_with("sales|")), "\\dn lists the model:\n{schemas}");
    let tables = meta("\\dt sales.*");
    assert!(tables.lines().any(|l| l.starts_with("sales|revenue|table")), "\\dt lists the cube:\n{tables}");
    let columns = meta("\\d sales.revenue");
    for want in ["region|text", "month|text", "amount|double precision", "units|bigint"] {
        assert!(columns.lines().any(|l| l.starts_with(want)), "\\d sales.revenue shows {want}:\n{columns}");
    }
    assert_eq!(meta("SELECT current_database()"), "triad");
    let info = meta("SELECT column_name FROM information_schema.columns WHERE table_schema = 'sales' AND table_name = 'revenue' ORDER BY ordinal_position");
    assert_eq!(info.lines().collect::<Vec<_>>(), ["region", "month", "amount", "units"]);
}

/// CSV loads through the HTTP API: waited for, refused whole with every bad line, followed by
/// progress polling; the cells reach the other engine.
fn csv_loads(e1: &str, e2: &str) {
    let model = r#"{"model": {"name": "l", "cubes": [{"name": "c", "dimensions": [{"name": "k", "levels": [{"name": "kg", "parents": {"a": "g1", "b": "g1", "c": "g2"}}]}],
        "measures": [{"name": "v", "type": "integer"}]}]}}"#;
    assert_eq!(http(e1, "POST", "/api/models", model).0, 200);
    let (code, body) = http(e1, "POST", "/api/cubes/l/c/csv?wait=true", "k,v\na,1\nb,2\n");
    assert_eq!(code, 200, "{body}");
    assert!(body.contains(r#""state":"done""#) && body.contains(r#""rows":2"#), "{body}");
    let (code, body) = http(e1, "POST", "/api/cubes/l/c/csv?wait=true", "k,v\nc,3\nzz,4\nc,many\n");
    assert_eq!(code, 422, "{body}");
    assert!(body.contains(r#""line":3"#) && body.contains(r#""line":4"#) && body.contains("no parent in level"), "{body}");
    let (code, body) = http(e1, "POST", "/api/cubes/l/c/csv?wait=true", "k,kg,v\nc,g2,3\n");
    assert!(code == 422 && body.contains("is a level of dimension"), "{code} {body}");
    assert_eq!(http(e1, "POST", "/api/cubes/l/nope/csv?wait=true", "k,v\na,1\n").0, 404);
    let (code, body) = http(e1, "POST", "/api/cubes/l/c/csv", "k,v\nc,30\n");
    assert_eq!(code, 202, "{body}");
    let id = body.split(r#""load":"#).nth(1).and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next()).unwrap().to_string();
    eventually(20, "the load done", || http(e1, "GET", &format!("/api/loads/{id}"), "").1.contains(r#""state":"done""#).then_some(()));
    let sums = eventually(20, "the loads on e2", || psql(e2, "secret", "SELECT kg, sum(v) FROM l.c GROUP BY kg ORDER BY kg").ok().filter(|r| r.lines().count() == 2));
    assert_eq!(sums, "g1|3\ng2|30", "nothing of the refused loads was applied");
    let cubes = http(e1, "GET", "/api/cubes", "").1;
    assert!(cubes.contains(r#""levels":["kg"]"#) && cubes.contains(r#""cube":"l.c""#), "{cubes}");
}
