{
  description = "Triad: a highly available cluster for an in-memory BI engine";

  # Pinned in flake.lock (nixos-unstable, June 2026): its rustc is at least the workspace's
  # rust-version (1.94).
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      lib = nixpkgs.lib;
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAll = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
      # The one place that gives services.triad.package its default (the flake's package).
      # Every wrapper imports this same module; its `key` makes the module system import it
      # once, so a host importing several of the flake's modules has one definition.
      packageDefault = {
        key = "triad-flake#package-default";
        imports = [
          ({ pkgs, ... }: { services.triad.package = lib.mkDefault self.packages.${pkgs.stdenv.hostPlatform.system}.triad; })
        ];
      };
      withPackage = module: { imports = [ module packageDefault ]; };
    in
    {
      packages = forAll (pkgs: rec {
        triad = pkgs.callPackage ./nixos-modules/package.nix { };
        default = triad;
      });

      nixosModules = {
        default = withPackage ./nixos-modules/default.nix;
        app-host = withPackage ./nixos-modules/app-host.nix;
        coordinator-host = withPackage ./nixos-modules/coordinator-host.nix;
        balancer = withPackage ./nixos-modules/balancer.nix;
      };

      # One VM test per failure scenario (vm-tests/scenarios/tests.toml), plus the build.
      checks = forAll (pkgs:
        import ./vm-tests/nixos {
          inherit pkgs lib;
          triadModules = [ self.nixosModules.app-host self.nixosModules.balancer ];
          triadPackage = self.packages.${pkgs.stdenv.hostPlatform.system}.triad;
        } // { build = self.packages.${pkgs.stdenv.hostPlatform.system}.triad; });

      apps = forAll (pkgs: {
        demo = {
          type = "app";
          program = toString (pkgs.writeShellScript "triad-demo" ''
            set -eu
            # The demo builds the workspace with cargo and keeps its hosts beside it: it runs in
            # a writable copy of this flake's source, wherever it is called from.
            work="''${XDG_CACHE_HOME:-$HOME/.cache}/triad-demo"
            mkdir -p "$work"
            cp -rT --no-preserve=mode ${self} "$work"
            chmod +x "$work"/scripts/* "$work"/vm-tests/driver/*.py "$work"/vm-tests/driver/hostbin/* "$work"/vm-tests/lib/triad-test-workload "$work"/vm-tests/lib/triad-test-kv-workload
            cd "$work"
            export PATH=${lib.makeBinPath [ pkgs.cargo pkgs.rustc pkgs.stdenv.cc pkgs.protobuf pkgs.haproxy pkgs.postgresql_17 pkgs.curl pkgs.python3 ]}:$PATH
            export PROTOC=${pkgs.protobuf}/bin/protoc
            export TRIAD_PG_BIN=${pkgs.postgresql_17}/bin
            exec ./scripts/demo "$@"
          '');
        };
      });

      devShells = forAll (pkgs: {
        default = pkgs.mkShell {
          packages = with pkgs; [ cargo rustc clippy rustfmt cargo-nextest protobuf postgresql_17 haproxy etcd python3 nixfmt ];
          PROTOC = "${pkgs.protobuf}/bin/protoc";
        };
      });

      formatter = forAll (pkgs: pkgs.nixfmt);
    };
}
