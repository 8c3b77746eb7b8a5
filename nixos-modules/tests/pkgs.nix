# The part of nixpkgs Triad's flake and modules use, for evaluation without a Nix store. A
# derivation is an attribute set with `type = "derivation"` and an output path that depends on
# everything it is built from (its name and, for runCommand/writeText, its script or text, which
# name the paths of its inputs), as a real store path does: a changed cluster description
# gives a changed cluster.toml path, and so on down to the units that name it. The types of
# `formats.toml` are nixpkgs' own (pkgs/pkgs-lib/formats.nix); `generate` records its JSON input
# (the build step is json2toml, which scripts/check-nix mirrors, then `triadctl config validate`).
{ lib, system ? "x86_64-linux" }:
let
  storePath = name: seed: "/nix/store/${builtins.substring 0 32 (builtins.hashString "sha256" "${name}\n${seed}")}-${name}";
  drv = name: seed: extra: {
    type = "derivation";
    inherit name system;
    outPath = storePath name seed;
    drvPath = storePath "${name}.drv" seed;
    outputs = [ "out" ];
    meta = { };
  } // extra;
  package = pname: version: extra: let self = drv "${pname}-${version}" "package" ({ inherit pname version; meta.mainProgram = pname; } // extra); in self // { out = self; };
  runCommand = name: env: script: drv name (builtins.toJSON (removeAttrs env [ "nativeBuildInputs" "passthru" ] // { inputs = map toString (env.nativeBuildInputs or [ ]); inherit script; })) { passthru = { inherit script env; }; };
  writeText = name: text: drv name text { passthru.text = text; };
  postgresql = major: minor: package "postgresql" "${major}.${minor}" { psqlSchema = major; };
  pkgs = {
    inherit lib runCommand writeText;
    stdenv = { hostPlatform = { inherit system; }; cc = package "gcc-wrapper" "14.3.0" { }; };
    formats.toml = { }: {
      type = with lib.types; let
        valueType = oneOf [ bool int float str path (attrsOf valueType) (listOf valueType) ] // { description = "TOML value"; };
      in valueType;
      generate = name: value: drv name (builtins.toJSON value) { passthru.json = builtins.toJSON value; };
    };
    writeShellScript = name: text: writeText name text;
    writeScript = name: text: writeText name text;
    writeShellScriptBin = name: text: writeText name text;
    writeScriptBin = name: text: writeText name text;
    callPackage = f: args: let fn = if builtins.isPath f then import f else f; in fn (builtins.intersectAttrs (builtins.functionArgs fn) pkgs // args);
    rustPlatform.buildRustPackage = args: package args.pname args.version { };
    haproxy = package "haproxy" "3.2.4" { };
    keepalived = package "keepalived" "2.3.4" { };
    coreutils = package "coreutils" "9.7" { };
    procps = package "procps" "4.0.4" { };
    curl = package "curl" "8.14.1" { };
    python3 = package "python3" "3.13.5" { };
    iptables = package "iptables" "1.8.11" { };
    protobuf = package "protobuf" "31.1" { };
    cargo = package "cargo" "1.94.0" { };
    clippy = package "clippy" "1.94.0" { };
    rustfmt = package "rustfmt" "1.94.0" { };
    cargo-nextest = package "cargo-nextest" "0.9.100" { };
    etcd = package "etcd" "3.5.21" { };
    nixfmt = package "nixfmt" "1.0.1" { };
    # a deprecated alias in nixpkgs (evaluating it warns)
    nixfmt-rfc-style = lib.warn "nixfmt-rfc-style is now the same as pkgs.nixfmt which should be used instead." pkgs.nixfmt;
    mkShell = args: drv "nix-shell" (builtins.toJSON (map toString (args.packages or [ ]))) { };
    rustc = package "rustc" "1.94.0" { };
    postgresql_16 = postgresql "16" "9";
    postgresql_17 = postgresql "17" "5";
    postgresql_18 = postgresql "18" "1";
    # nixpkgs' moving alias (its major changes with nixpkgs updates)
    postgresql = pkgs.postgresql_17;
    testers.runNixOSTest = throw "pkgs.testers.runNixOSTest: given by eval.nix";
  };
in
pkgs
