# The failure scenarios as NixOS VM tests: one pkgs.testers.runNixOSTest per entry of
# vm-tests/scenarios/tests.toml (except those broken on purpose, `expect_failure`, which only
# the namespace driver runs). The test script is lib/checks.py followed by the scenario's own
# script: exactly what scripts/scenarios runs in network namespaces (vm-tests/README.md).
{ pkgs, lib, triadModules, triadPackage }:
let
  suite = builtins.fromTOML (builtins.readFile ../scenarios/tests.toml);
  description = file: builtins.fromTOML (builtins.readFile (../scenarios + "/${file}"));
  workload = pkgs.writeScriptBin "triad-test-workload"
    (builtins.replaceStrings [ "#!/usr/bin/env python3" ] [ "#!${pkgs.python3}/bin/python3" ]
      (builtins.readFile ../lib/triad-test-workload));
  kvWorkload = pkgs.writeScriptBin "triad-test-kv-workload"
    (builtins.replaceStrings [ "#!/usr/bin/env python3" ] [ "#!${pkgs.python3}/bin/python3" ]
      (builtins.readFile ../lib/triad-test-kv-workload));

  test = name: entry:
    let
      s = suite.defaults // entry;
      descriptions = s.descriptions or { };
      bootWith = node: if (s.boot_description or { }) ? ${node} then descriptions.${s.boot_description.${node}} else s.cluster;
      switchConfig = pkgs.writeShellScriptBin "triad-switch-config" ''
        set -eu
        [ $# -eq 1 ] || { echo "usage: triad-switch-config NAME" >&2; exit 2; }
        exec /run/current-system/specialisation/"$1"/bin/switch-to-configuration test
      '';
      # Node k in name order has 192.168.1.k (the test framework's addressing).
      address = node: "192.168.1.${toString (1 + lib.lists.findFirstIndex (n: n == node) null (lib.sort (a: b: a < b) s.nodes))}";
      node = nodeName: { pkgs, ... }: {
        imports = triadModules;
        networking.domain = s.domain;
        virtualisation.memorySize = 2048;
        boot.kernel.sysctl = s.sysctl or { };
        # Each node runs the services of the roles the description gives it (none for `client`,
        # none for a host the description does not name).
        services.triad = {
          package = triadPackage;
          postgresqlPackage = pkgs.postgresql_17;
          settings = description (bootWith nodeName);
          app.engine.memoryMax = s.engine_memory_max;
          app.environment = s.environment or { };
          # The client node's checks read the keepers' API (a cluster-internal port).
          firewall.adminSources = [ (address "client") ];
        };
        # Each other description the node can switch to (triad-switch-config NAME).
        specialisation = lib.mapAttrs (_: file: {
          inheritParentConfig = true;
          configuration.services.triad.settings = lib.mkForce (description file);
        }) descriptions;
        # etcd for etcdctl: the soak's coordinator clients (triad-test-kv-workload).
        environment.systemPackages = [ switchConfig workload kvWorkload pkgs.etcd pkgs.postgresql_17 pkgs.curl pkgs.python3 pkgs.iptables ];
        # The NixOS firewall stays on: the scenarios run through the rules the modules open.
      };
    in
    pkgs.testers.runNixOSTest {
      name = "triad-${name}";
      nodes = lib.genAttrs s.nodes node;
      globalTimeout = s.global_timeout;
      testScript = builtins.readFile ../lib/checks.py + "\n" + builtins.readFile (../scenarios + "/${s.script or "${name}.py"}");
    };
in
lib.mapAttrs test (lib.filterAttrs (_: e: !(e ? expect_failure)) suite.scenarios)
