//! Load generator for `scripts/bench-coordinator`: the same etcd v3 workload against any
//! etcd-API cluster (triad-coordinator or etcd). Prints one line:
//! `kind=K clients=N ops=.. secs=.. ops_per_sec=.. p50_ms=.. p99_ms=.. errors=..`.
//!
//! usage: loadgen ENDPOINTS KIND CLIENTS SECONDS   (KIND: put | txn | range)

use std::time::{Duration, Instant};
use tonic::transport::Endpoint;
use triad_coordinator::pb::etcdserverpb::{compare::*, kv_client::KvClient, request_op::Request, *};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: loadgen http://a:2379,http://b:2379 put|txn|range CLIENTS SECONDS");
        std::process::exit(2);
    }
    let endpoints: Vec<String> = args[1].split(',').map(String::from).collect();
    let kind = args[2].clone();
    let clients: usize = args[3].parse().expect("CLIENTS");
    let secs: u64 = args[4].parse().expect("SECONDS");
    // Preload the keys ranges and txns touch.
    let ch = Endpoint::from_shared(endpoints[0].clone()).unwrap().connect().await.expect("connect");
    let mut kv = KvClient::new(ch);
    for k in 0..100 {
        kv.put(PutRequest { key: format!("/bench/{k:03}").into(), value: vec![b'v'; 256].into(), ..Default::default() }).await.expect("preload");
    }
    let until = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let url = endpoints[c % endpoints.len()].clone();
        let kind = kind.clone();
        tasks.push(tokio::spawn(async move {
            let ch = Endpoint::from_shared(url).unwrap().tcp_nodelay(true).connect().await.expect("connect");
            let mut kv = KvClient::new(ch);
            let mut lat = Vec::new();
            let mut errors = 0u64;
            let mut i = 0u64;
            while Instant::now() < until {
                i += 1;
                let key = format!("/bench/{:03}", (c as u64 * 7919 + i) % 100);
                let t = Instant::now();
                let ok = match kind.as_str() {
                    "put" => kv.put(PutRequest { key: key.into(), value: vec![b'v'; 256].into(), ..Default::default() }).await.is_ok(),
                    "range" => kv.range(RangeRequest { key: key.into(), ..Default::default() }).await.is_ok(),
                    "txn" => {
                        let txn = TxnRequest {
                            compare: vec![Compare {
                                result: CompareResult::Greater as i32,
                                target: CompareTarget::Mod as i32,
                                key: key.clone().into(),
                                target_union: Some(TargetUnion::ModRevision(0)),
                                range_end: Default::default(),
                            }],
                            success: vec![RequestOp { request: Some(Request::RequestPut(PutRequest { key: key.into(), value: vec![b't'; 256].into(), ..Default::default() })) }],
                            failure: vec![],
                        };
                        kv.txn(txn).await.is_ok()
                    }
                    other => panic!("unknown kind {other}"),
                };
                if ok {
                    lat.push(t.elapsed());
                } else {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    let start = Instant::now();
    let mut lat = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.unwrap();
        lat.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed().as_secs_f64().max(secs as f64);
    lat.sort();
    let pct = |p: f64| lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1))).map_or(0.0, |d| d.as_secs_f64() * 1000.0);
    println!(
        "kind={kind} clients={clients} ops={} secs={elapsed:.2} ops_per_sec={:.1} p50_ms={:.3} p99_ms={:.3} errors={errors}",
        lat.len(),
        lat.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99)
    );
}
