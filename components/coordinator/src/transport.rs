//! Raft messages between members over gRPC: one long-lived client stream per peer, fed by a
//! bounded queue (a full queue drops messages; Raft retransmits). Outgoing connections bind
//! this member's own address, like every listener, so firewall rules per host pair work.

use crate::node::{Inbox, Outbound};
use crate::pb::etcdserverpb::Member;
use crate::pb::internal::{RaftMessage, peer_client::PeerClient};
use protobuf::Message as _;
use raft::prelude::{Message, MessageType};
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::mpsc::Sender as InboxSender;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Endpoint;

/// Largest peer message (snapshots travel as one message).
pub const MAX_PEER_MESSAGE: usize = 1 << 30;

pub type AddressBook = Arc<RwLock<HashMap<u64, String>>>;

pub struct PeerTransport {
    rt: Handle,
    local_ip: IpAddr,
    own_url: String,
    book: AddressBook,
    queues: Mutex<HashMap<u64, mpsc::Sender<Message>>>,
    inbox: InboxSender<Inbox>,
}

impl PeerTransport {
    pub fn new(rt: Handle, local_ip: IpAddr, own_url: String, inbox: InboxSender<Inbox>) -> PeerTransport {
        PeerTransport { rt, local_ip, own_url, book: AddressBook::default(), queues: Mutex::new(HashMap::new()), inbox }
    }

    pub fn book(&self) -> AddressBook {
        self.book.clone()
    }

    fn queue(&self, to: u64) -> mpsc::Sender<Message> {
        let mut qs = self.queues.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(q) = qs.get(&to).filter(|q| !q.is_closed()) {
            return q.clone();
        }
        let (tx, rx) = mpsc::channel(4096);
        qs.insert(to, tx.clone());
        let worker = PeerWorker {
            to,
            book: self.book.clone(),
            local_ip: self.local_ip,
            own_url: self.own_url.clone(),
            inbox: self.inbox.clone(),
        };
        self.rt.spawn(worker.run(rx));
        tx
    }
}

impl Outbound for PeerTransport {
    fn send(&self, msgs: Vec<Message>) {
        for m in msgs {
            let to = m.to;
            let is_snap = m.get_msg_type() == MessageType::MsgSnapshot;
            if self.queue(to).try_send(m).is_err() {
                let _ = self.inbox.send(if is_snap { Inbox::SnapshotFailed(to) } else { Inbox::Unreachable(to) });
            }
        }
    }

    fn set_members(&self, members: &BTreeMap<u64, Member>) {
        let mut book = self.book.write().unwrap_or_else(|p| p.into_inner());
        // The member list is authoritative; addresses learned from incoming messages only
        // fill in while it is unknown (a member that just joined).
        if !members.is_empty() {
            book.clear();
        }
        for m in members.values() {
            if let Some(u) = m.peer_ur_ls.first() {
                book.insert(m.id, u.clone());
            }
        }
        // Workers of removed members end when they find no address.
    }
}

struct PeerWorker {
    to: u64,
    book: AddressBook,
    local_ip: IpAddr,
    own_url: String,
    inbox: InboxSender<Inbox>,
}

impl PeerWorker {
    fn url(&self) -> Option<String> {
        self.book.read().unwrap_or_else(|p| p.into_inner()).get(&self.to).cloned()
    }

    async fn run(self, mut rx: mpsc::Receiver<Message>) {
        loop {
            let Some(url) = self.url() else {
                return; // no longer a member
            };
            let client = match connect(&url, self.local_ip).await {
                Ok(c) => c,
                Err(_) => {
                    self.fail(&mut rx, false);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let (tx, stream_rx) = mpsc::channel::<RaftMessage>(256);
            let mut client = client;
            let mut call = tokio::spawn(async move { client.raft(ReceiverStream::new(stream_rx)).await });
            let mut sent_snapshot = false;
            loop {
                tokio::select! {
                    m = rx.recv() => {
                        let Some(m) = m else { return };
                        sent_snapshot |= m.get_msg_type() == MessageType::MsgSnapshot;
                        let data = m.write_to_bytes().expect("raft message encodes");
                        if tx.send(RaftMessage { data: data.into(), from_url: self.own_url.clone() }).await.is_err() {
                            break;
                        }
                    }
                    _ = &mut call => break,
                }
            }
            call.abort();
            self.fail(&mut rx, sent_snapshot);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The peer is unreachable: tell Raft (it slows down replication to it) and drop what was
    /// queued; Raft resends what still matters.
    fn fail(&self, rx: &mut mpsc::Receiver<Message>, snapshot_lost: bool) {
        let mut snap = snapshot_lost;
        while let Ok(m) = rx.try_recv() {
            snap |= m.get_msg_type() == MessageType::MsgSnapshot;
        }
        let _ = self.inbox.send(Inbox::Unreachable(self.to));
        if snap {
            let _ = self.inbox.send(Inbox::SnapshotFailed(self.to));
        }
    }
}

/// Records a sender's address if the member list does not know it yet.
pub fn learn_address(book: &AddressBook, id: u64, url: &str) {
    if url.is_empty() {
        return;
    }
    let known = book.read().unwrap_or_else(|p| p.into_inner()).contains_key(&id);
    if !known {
        book.write().unwrap_or_else(|p| p.into_inner()).insert(id, url.to_string());
    }
}

/// A client to a peer's gRPC service, connecting from our own address.
pub async fn connect(url: &str, local_ip: IpAddr) -> anyhow::Result<PeerClient<tonic::transport::Channel>> {
    let ch = Endpoint::from_shared(url.to_string())?
        .local_address(Some(local_ip))
        .connect_timeout(Duration::from_millis(500))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(1))
        .keep_alive_timeout(Duration::from_secs(3))
        .connect()
        .await?;
    Ok(PeerClient::new(ch).max_decoding_message_size(MAX_PEER_MESSAGE).max_encoding_message_size(MAX_PEER_MESSAGE))
}
