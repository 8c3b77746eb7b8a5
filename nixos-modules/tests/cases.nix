# Hosts written the ways users write them, evaluated through the flake's module wrappers
# (`self.nixosModules`): each every host of docs/examples/*.toml, the idiomatic enable line,
# several of the flake's modules on one host, a state directory outside /var/lib, and wrong
# topologies (which must fail with their assertion's message). check.py says what each must show.
{ lib, self, evalSystem }:
let
  m = self.nixosModules;
  example = builtins.fromTOML (builtins.readFile ../../docs/examples/cluster.toml);
  board = builtins.fromTOML (builtins.readFile ../../docs/examples/board-cluster.toml);
  host = { modules ? [ m.app-host m.balancer ], settings ? example, name, extra ? { } }: evalSystem (modules ++ [
    ({ pkgs, options, ... }: {
      networking.hostName = name;
      # (conditional so that the cases also evaluate modules from before the option existed)
      services.triad = { inherit settings; } // lib.optionalAttrs (options.services.triad ? postgresqlPackage) { postgresqlPackage = pkgs.postgresql_17; };
    })
    extra
  ]);
  everyHost = prefix: settings: lib.listToAttrs (map (h: lib.nameValuePair "${prefix}-${h.name}" (host { inherit settings; inherit (h) name; })) settings.hosts);
in
{
  # A documented fragment (a ```nix block of docs/ that is not a whole file), as a module of
  # the example's balancer with a second balancer beside it.
  fragment = file: host {
    name = "balancer";
    settings = example // { hosts = example.hosts ++ [{ name = "balancer2"; fqdn = "lb2.triad.example"; address = "10.20.0.14"; roles = [ "balancer" ]; }]; };
    extra.imports = [ file ];
  };

  cases = everyHost "example" example // everyHost "board" board // {
  # The line users write (defect 2: infinite recursion when the module defined settings under it).
  idiomatic-enable = host {
    name = "app1";
    extra = { config, ... }: {
      services.triad.app.enable = builtins.elem "app" config.services.triad.roles;
      services.triad.coordinator.enable = builtins.elem "coordinator" config.services.triad.roles;
      services.triad.balancer.enable = builtins.elem "balancer" config.services.triad.roles;
    };
  };
  # Every module of the flake on one host (defect 8: one package default, not one per wrapper).
  all-modules = host { name = "app1"; modules = [ m.default m.app-host m.coordinator-host m.balancer ]; };
  # A host the description does not name runs nothing and fails nothing (defect 3).
  not-in-description = host { name = "client"; };
  # A role enabled that the description does not give: an error naming it.
  role-not-in-description = host { name = "coord"; extra.services.triad.app.enable = true; };
  # State outside /var/lib (defect 13): StateDirectory= cannot hold it.
  state-dir-elsewhere = host {
    name = "app1";
    settings = lib.recursiveUpdate example { cluster.state_dir = "/srv/triad"; };
    extra.services.triad = { app.enable = true; coordinator.enable = true; };
  };
  # The balancers of the board example with the enable line written out (as the docs
  # before the role defaults had it): VRRP must pass the firewall and track HAProxy, the
  # profiles' SQL ports must be open (defects 10, 11).
  explicit-lb1 = host { name = "lb1"; settings = board; extra.services.triad.balancer.enable = true; };
  explicit-lb2 = host { name = "lb2"; settings = board; extra.services.triad.balancer.enable = true; };
  state-dir-mismatch = host { name = "app1"; extra.services.triad.stateDir = "/srv/triad"; };
  two-hosts-one-address = host {
    name = "app1";
    settings = example // { hosts = map (h: if h.name == "app2" then h // { address = "10.20.0.11"; } else h) example.hosts; };
  };
  two-coordinator-members = host {
    name = "app1";
    settings = example // { hosts = map (h: if h.name == "coord" then h // { roles = [ "balancer" ]; } else h) example.hosts; };
  };
  # No PostgreSQL chosen: an app host must not evaluate (defect 9: no moving default).
  no-postgresql = evalSystem [
    m.app-host
    { networking.hostName = "app1"; services.triad.settings = example; }
  ];
  # The password file is read by the keeper (user postgres) and the engine (user triad).
  password-file = host {
    name = "app1";
    settings = lib.recursiveUpdate example { database.password_file = "/run/keys/triad-db"; };
  };
};
}
