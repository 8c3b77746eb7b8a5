//! Concurrent clients doing put / get / compare-and-swap on a few keys while members are
//! SIGKILLed, restarted and cut off; the recorded history must be linearizable.

mod common;
use common::*;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use triad_testkit::lincheck::{self, Input, Op, Output};
use triad_coordinator::pb::etcdserverpb::{compare::*, request_op::Request, *};

const KEYS: [&str; 3] = ["/lin/a", "/lin/b", "/lin/c"];

async fn client(
    c: Arc<tokio::sync::RwLock<TestCluster>>,
    id: usize,
    start: Instant,
    until: Instant,
    max_ops: u64,
    history: Arc<Mutex<Vec<Op>>>,
) {
    let mut member = id % 3;
    let mut n = 0u64;
    let now = |start: Instant| start.elapsed().as_nanos() as u64;
    // Paced and capped so the history stays small enough to check in seconds on any machine.
    while Instant::now() < until && n < max_ops {
        tokio::time::sleep(Duration::from_millis(5)).await;
        n += 1;
        let key = KEYS[(rand::random::<u32>() as usize) % KEYS.len()];
        let roll = rand::random::<u32>() % 10;
        let kv = { c.read().await.kv(member).await };
        let mut kv = kv;
        let call = now(start);
        let (input, result) = if roll < 4 {
            let v = format!("c{id}-{n}");
            let r = tokio::time::timeout(Duration::from_secs(3), kv.put(PutRequest { key: b(key), value: b(&v), ..Default::default() })).await;
            (Input::Put(v), r.ok().and_then(|r| r.ok()).map(|_| Output::Put))
        } else if roll < 8 {
            let r = tokio::time::timeout(Duration::from_secs(3), kv.range(RangeRequest { key: b(key), ..Default::default() })).await;
            let out = r.ok().and_then(|r| r.ok()).map(|r| {
                Output::Get(r.into_inner().kvs.first().map(|kv| String::from_utf8_lossy(&kv.value).into_owned()))
            });
            (Input::Get, out)
        } else {
            // Compare-and-swap from a value some client may have written recently.
            let expect = format!("c{}-{}", rand::random::<u32>() % 4, n.saturating_sub((rand::random::<u64>() % 3) + 1));
            let new = format!("c{id}-{n}");
            let txn = TxnRequest {
                compare: vec![Compare {
                    result: CompareResult::Equal as i32,
                    target: CompareTarget::Value as i32,
                    key: b(key),
                    target_union: Some(TargetUnion::Value(b(&expect))),
                    range_end: Default::default(),
                }],
                success: vec![RequestOp { request: Some(Request::RequestPut(PutRequest { key: b(key), value: b(&new), ..Default::default() })) }],
                failure: vec![],
            };
            let r = tokio::time::timeout(Duration::from_secs(3), kv.txn(txn)).await;
            (Input::Cas { expect, new }, r.ok().and_then(|r| r.ok()).map(|r| Output::Cas(r.into_inner().succeeded)))
        };
        let (output, ret) = match result {
            Some(o) => (o, now(start)),
            None => {
                // Failed or timed out: the outcome is unknown. Try another member next.
                member = (member + 1) % 3;
                tokio::time::sleep(Duration::from_millis(50)).await;
                (Output::Unknown, u64::MAX)
            }
        };
        history.lock().unwrap().push(Op { key: key.to_string(), input, output, call, ret });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn history_under_kills_restarts_and_cuts_is_linearizable() {
    run(30, 2000).await;
}

/// The long variant: `cargo nextest run -p triad-coordinator --run-ignored only soak`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "soak: several minutes"]
async fn soak_history_under_faults_is_linearizable() {
    run(300, 20_000).await;
}

async fn run(secs: u64, max_ops_per_client: u64) {
    let c = TestCluster::start(3);
    c.wait_ready().await;
    let c = Arc::new(tokio::sync::RwLock::new(c));
    let history = Arc::new(Mutex::new(Vec::new()));
    let start = Instant::now();
    let until = start + Duration::from_secs(secs);
    let clients: Vec<_> = (0..4).map(|id| tokio::spawn(client(c.clone(), id, start, until, max_ops_per_client, history.clone()))).collect();

    // Faults, one at a time so a majority always exists: kill and restart, cut off and heal.
    let mut faults = Vec::new();
    let mut round = 0;
    while Instant::now() + Duration::from_secs(6) < until {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let victim = (rand::random::<u32>() % 3) as usize;
        if round % 2 == 0 {
            c.write().await.kill(victim);
            faults.push(format!("kill c{}", victim + 1));
            tokio::time::sleep(Duration::from_secs(3)).await;
            c.write().await.spawn(victim);
        } else {
            c.write().await.isolate(victim);
            faults.push(format!("cut c{}", victim + 1));
            tokio::time::sleep(Duration::from_secs(3)).await;
            c.write().await.heal();
        }
        round += 1;
    }
    for t in clients {
        t.await.unwrap();
    }
    let history = history.lock().unwrap().clone();
    let known = history.iter().filter(|o| o.output != Output::Unknown).count();
    let writes_ok = history.iter().filter(|o| matches!(o.output, Output::Put | Output::Cas(true))).count();
    eprintln!("faults: {faults:?}; {} operations, {known} with known outcome, {writes_ok} successful writes", history.len());
    assert!(faults.len() >= 4, "the fault schedule ran");
    assert!(known >= 100 && writes_ok >= 30, "enough operations completed to make the check meaningful");
    let t = Instant::now();
    lincheck::check(&history).expect("linearizable");
    eprintln!("checked in {:?}", t.elapsed());
}
