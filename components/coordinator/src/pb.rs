//! Generated protobuf and gRPC code: etcd's API subset (`etcdserverpb`, `mvccpb`) and the
//! coordinator's own log, snapshot and peer messages (`triad::coordinator`).
#![allow(clippy::all, missing_docs)]

pub mod mvccpb {
    tonic::include_proto!("mvccpb");
}
pub mod etcdserverpb {
    tonic::include_proto!("etcdserverpb");
}
pub mod triad {
    pub mod coordinator {
        tonic::include_proto!("triad.coordinator");
    }
}

pub use triad::coordinator as internal;
