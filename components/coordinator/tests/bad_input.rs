//! Bad requests and bad configuration get clear errors (etcd's codes and messages for the
//! API) and change nothing.

mod common;
use common::*;
use std::process::Command;
use tonic::Code;
use triad_coordinator::pb::etcdserverpb::*;

fn expect<T: std::fmt::Debug>(r: Result<tonic::Response<T>, tonic::Status>, code: Code, msg: &str) {
    let e = r.expect_err("must fail");
    assert_eq!((e.code(), e.message()), (code, msg));
}

async fn revision(c: &TestCluster) -> i64 {
    let mut kv = c.kv(0).await;
    kv.range(RangeRequest { key: b("/x"), ..Default::default() }).await.unwrap().into_inner().header.unwrap().revision
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_are_refused_with_etcds_errors_and_change_nothing() {
    let c = TestCluster::start(3);
    c.wait_ready().await;
    let mut kv = c.kv(0).await;
    kv.put(PutRequest { key: b("/x"), value: b("1"), ..Default::default() }).await.unwrap();
    kv.put(PutRequest { key: b("/x"), value: b("2"), ..Default::default() }).await.unwrap();
    let before = revision(&c).await;

    expect(kv.put(PutRequest { key: b(""), value: b("v"), ..Default::default() }).await, Code::InvalidArgument, "etcdserver: key is not provided");
    expect(kv.range(RangeRequest::default()).await, Code::InvalidArgument, "etcdserver: key is not provided");
    let big = bytes::Bytes::from(vec![b'x'; 1536 * 1024 + 1]);
    expect(kv.put(PutRequest { key: b("/big"), value: big, ..Default::default() }).await, Code::InvalidArgument, "etcdserver: request is too large");
    expect(kv.put(PutRequest { key: b("/l"), value: b("v"), lease: 12345, ..Default::default() }).await, Code::NotFound, "etcdserver: requested lease not found");
    let mut lease = c.lease(0).await;
    expect(lease.lease_revoke(LeaseRevokeRequest { id: 999 }).await, Code::NotFound, "etcdserver: requested lease not found");
    let txn = TxnRequest {
        success: vec![
            RequestOp { request: Some(request_op::Request::RequestPut(PutRequest { key: b("/t1"), value: b("a"), ..Default::default() })) },
            RequestOp { request: Some(request_op::Request::RequestPut(PutRequest { key: b("/t2"), value: b("b"), lease: 777, ..Default::default() })) },
        ],
        ..Default::default()
    };
    expect(kv.txn(txn).await, Code::NotFound, "etcdserver: requested lease not found");
    kv.compact(CompactionRequest { revision: before, physical: false }).await.unwrap();
    let after_compact = revision(&c).await;
    expect(kv.range(RangeRequest { key: b("/x"), revision: 1, ..Default::default() }).await, Code::OutOfRange, "etcdserver: mvcc: required revision has been compacted");
    expect(kv.compact(CompactionRequest { revision: 1, physical: false }).await, Code::OutOfRange, "etcdserver: mvcc: required revision has been compacted");
    expect(kv.range(RangeRequest { key: b("/x"), revision: 10_000, ..Default::default() }).await, Code::OutOfRange, "etcdserver: mvcc: required revision is a future revision");
    expect(
        lease.lease_grant(LeaseGrantRequest { ttl: 9_000_000_001, id: 0 }).await,
        Code::OutOfRange,
        "etcdserver: too large lease TTL",
    );

    // Nothing above wrote anything.
    assert_eq!(before, after_compact);
    assert_eq!(revision(&c).await, before);
    for k in ["/big", "/l", "/t1", "/t2"] {
        let r = kv.range(RangeRequest { key: b(k), ..Default::default() }).await.unwrap().into_inner();
        assert_eq!(r.count, 0, "{k} must not exist");
    }

    // A watch from a compacted revision is cancelled with the compact revision, as etcd does.
    let mut w = c.watch(1).await;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(WatchRequest {
        request_union: Some(watch_request::RequestUnion::CreateRequest(WatchCreateRequest { key: b("/x"), start_revision: 1, ..Default::default() })),
    })
    .await
    .unwrap();
    let mut stream = w.watch(tokio_stream::wrappers::ReceiverStream::new(rx)).await.unwrap().into_inner();
    let created = stream.message().await.unwrap().unwrap();
    assert!(created.created);
    let cancelled = stream.message().await.unwrap().unwrap();
    assert!(cancelled.canceled);
    assert_eq!(cancelled.compact_revision, before);
}

#[test]
fn malformed_or_wrong_configuration_is_refused_with_file_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_triad-coordinator");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[cluster]\nname = \"x\"\n[[hosts]]\nname = \"a\"\nroles = [\"coordinator\"]\n").unwrap();
    let out = Command::new(bin).args(["--config", bad.to_str().unwrap(), "--host", "a", "--state-dir", dir.path().to_str().unwrap()]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("bad.toml"), "names the file: {err}");

    let c = TestCluster::new(3);
    let out = Command::new(bin).args(["--config", c.config.to_str().unwrap(), "--host", "lb"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("has no \"coordinator\" role"), "{err}");
    let out = Command::new(bin).args(["--config", c.config.to_str().unwrap(), "--host", "nope"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no host named \"nope\""), "{err}");
}
