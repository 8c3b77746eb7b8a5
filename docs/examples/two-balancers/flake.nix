# A deployment of five hosts: two app hosts, a coordinator host, two balancers with a shared
# virtual address. Add each host's hardware configuration to its modules. Evaluated by
# scripts/check-nix (docs/nix.md, "Two balancers with a virtual address").
{
  inputs.triad.url = "github:triad-ha/triad";
  inputs.nixpkgs.follows = "triad/nixpkgs";
  outputs = { self, nixpkgs, triad }:
    let
      host = name: module: nixpkgs.lib.nixosSystem {
        system = "x86_64-linux";
        modules = [ module ./cluster.nix { networking.hostName = name; system.stateVersion = "25.11"; } ];
      };
    in {
      nixosConfigurations = {
        app1 = host "app1" triad.nixosModules.app-host;
        app2 = host "app2" triad.nixosModules.app-host;
        coord = host "coord" triad.nixosModules.coordinator-host;
        lb1 = host "lb1" triad.nixosModules.balancer;
        lb2 = host "lb2" triad.nixosModules.balancer;
      };
    };
}
