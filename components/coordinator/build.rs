//! Generates the etcd v3 API subset and the peer service with a vendored protoc, so no system
//! protoc is needed to build the coordinator.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = ["proto/mvccpb/kv.proto", "proto/etcdserverpb/rpc.proto", "proto/triad/coordinator.proto"];
    for p in protos {
        println!("cargo:rerun-if-changed={p}");
    }
    // A PROTOC given by the build environment wins (the Nix build: the vendored binary is not
    // linked for NixOS); otherwise the vendored one.
    println!("cargo:rerun-if-env-changed=PROTOC");
    if std::env::var_os("PROTOC").is_none() {
        // SAFETY: the build script is single-threaded; prost-build reads PROTOC when it runs protoc.
        unsafe { std::env::set_var("PROTOC", protoc_bin_vendored::protoc_bin_path()?) };
    }
    tonic_prost_build::configure()
        // Keys and values are `bytes::Bytes`: cheap to clone from the store into responses.
        .bytes(".")
        .compile_protos(&protos, &["proto"])?;
    Ok(())
}
