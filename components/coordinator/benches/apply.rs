//! The apply path: decoding a Raft entry's command batch and applying it to the state machine
//! (puts, compare-and-swap txns), and serving ranges from it.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use prost::Message;
use std::time::Instant;
use triad_coordinator::pb::etcdserverpb::{compare::*, request_op::Request, *};
use triad_coordinator::pb::internal::{Command, CommandBatch, command::Op};
use triad_coordinator::state::StateMachine;

fn key(i: usize) -> bytes::Bytes {
    bytes::Bytes::from(format!("/bench/key/{i:08}"))
}

fn put_batch(n: usize, offset: usize) -> Vec<u8> {
    let commands = (0..n)
        .map(|i| Command {
            id: i as u64,
            origin: 1,
            op: Some(Op::Put(PutRequest { key: key((i + offset) % 10_000), value: bytes::Bytes::from(vec![b'v'; 128]), ..Default::default() })),
        })
        .collect();
    CommandBatch { commands }.encode_to_vec()
}

fn cas_batch(n: usize) -> Vec<u8> {
    let commands = (0..n)
        .map(|i| {
            let txn = TxnRequest {
                compare: vec![Compare {
                    result: CompareResult::Greater as i32,
                    target: CompareTarget::Mod as i32,
                    key: key(i),
                    target_union: Some(TargetUnion::ModRevision(0)),
                    range_end: Default::default(),
                }],
                success: vec![RequestOp { request: Some(Request::RequestPut(PutRequest { key: key(i), value: "x".into(), ..Default::default() })) }],
                failure: vec![],
            };
            Command { id: i as u64, origin: 1, op: Some(Op::Txn(txn)) }
        })
        .collect();
    CommandBatch { commands }.encode_to_vec()
}

fn apply(sm: &mut StateMachine, entry: &[u8]) {
    let batch = CommandBatch::decode(entry).unwrap();
    let now = Instant::now();
    let mut events = Vec::new();
    for c in &batch.commands {
        let _ = sm.apply(c, now, &mut events);
    }
}

fn loaded() -> StateMachine {
    let mut sm = StateMachine::new(2);
    for off in (0..10_000).step_by(500) {
        apply(&mut sm, &put_batch(500, off));
    }
    sm
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("apply");
    g.throughput(Throughput::Elements(256));
    let puts = put_batch(256, 0);
    g.bench_function("put_batch_256", |b| b.iter_batched_ref(loaded, |sm| apply(sm, &puts), BatchSize::LargeInput));
    let cas = cas_batch(256);
    g.bench_function("cas_txn_batch_256", |b| b.iter_batched_ref(loaded, |sm| apply(sm, &cas), BatchSize::LargeInput));
    g.finish();

    let sm = loaded();
    let mut g = c.benchmark_group("read");
    g.bench_function("range_one_key", |b| {
        let r = RangeRequest { key: key(4242), ..Default::default() };
        b.iter(|| sm.range(&r, false).unwrap())
    });
    g.bench_function("range_prefix_limit_100", |b| {
        let r = RangeRequest { key: "/bench/".into(), range_end: "/bench0".into(), limit: 100, ..Default::default() };
        b.iter(|| sm.range(&r, false).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
