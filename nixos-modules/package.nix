# The Triad workspace: every binary (triad-coordinator, triad-keeper, triad-engine,
# triad-designer, triadctl) in one reproducible build.
{ lib, rustPlatform, protobuf }:
rustPlatform.buildRustPackage {
  pname = "triad";
  version = (builtins.fromTOML (builtins.readFile ../Cargo.toml)).workspace.package.version;

  # Only what the build reads: a change to docs or tests does not rebuild the package.
  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [ ../Cargo.toml ../Cargo.lock ../components ../third_party ];
  };
  cargoLock.lockFile = ../Cargo.lock;

  # The coordinator (prost) and raft-proto (protobuf-build, patched in third_party/ to accept
  # a current protoc) compile protobuf definitions at build time with nixpkgs' protoc; no
  # vendored protoc binary runs (they are not linked for the sandbox).
  nativeBuildInputs = [ protobuf ];
  env.PROTOC = "${protobuf}/bin/protoc";

  # The tests start PostgreSQL, HAProxy, etcd and network namespaces: they run in
  # scripts/test (CI) and as the flake's VM checks, not inside the build sandbox.
  doCheck = false;

  meta = {
    description = "Highly available in-memory BI engine cluster: coordinator, keeper, engine, designer, operator CLI";
    license = lib.licenses.asl20;
    mainProgram = "triadctl";
    platforms = lib.platforms.linux;
  };
}
