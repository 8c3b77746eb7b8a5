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
      # Every module gets the flake's package as its default.
      withPackage = module: { pkgs, ... }: {
        imports = [ module ];
        services.triad.package = lib.mkDefault self.packages.${pkgs.stdenv.hostPlatform.system}.triad;
      };
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
            export PATH=${lib.makeBinPath [ pkgs.cargo pkgs.rustc pkgs.protobuf pkgs.haproxy pkgs.postgresql pkgs.curl pkgs.python3 ]}:$PATH
            export TRIAD_PG_BIN=${pkgs.postgresql}/bin
            exec ./scripts/demo "$@"
          '');
        };
      });

      devShells = forAll (pkgs: {
        default = pkgs.mkShell {
          packages = with pkgs; [ cargo rustc clippy rustfmt cargo-nextest protobuf postgresql haproxy etcd python3 nixfmt-rfc-style ];
          PROTOC = "${pkgs.protobuf}/bin/protoc";
        };
      });

      formatter = forAll (pkgs: pkgs.nixfmt-rfc-style);
    };
}
