# Evaluates Triad's flake the way Nix would, without a Nix store: the flake's own outputs
# (nixosModules wrappers, checks = the VM tests, packages, apps, devShells) with nixpkgs' lib,
# the stand-in package set of pkgs.nix and the NixOS options of nixos.nix, and summarises what
# every evaluated system holds (every node of a VM test and each of its specialisations, or a
# host of a documented deployment). Used by nixos-modules/tests/check.py (scripts/check-nix).
#
#   nix-instantiate --eval --strict --json nixos-modules/tests/eval.nix --arg lib 'import <lib>' \
#     --argstr what test:host-loss | --argstr what flake | --argstr what deployment:<dir> | --argstr what case:<name>
{ lib, what, root ? ../.. }:
let
  pkgs = import ./pkgs.nix { inherit lib; } // { testers.runNixOSTest = runNixOSTest; };
  nixos = import ./nixos.nix { inherit lib pkgs; };
  systems = [ "x86_64-linux" "aarch64-linux" ];
  # nixpkgs' flake: its lib carries nixosSystem.
  nixpkgs = {
    lib = lib // { nixosSystem = { modules, system ? null, specialArgs ? { }, ... }: nixos.evalSystem modules; };
    legacyPackages = lib.genAttrs systems (_: pkgs);
  };
  flake = import (root + "/flake.nix");
  self = flake.outputs { inherit self nixpkgs; } // { outPath = toString root; inputs = { inherit nixpkgs; }; };

  failed = c: map (a: a.message) (builtins.filter (a: !a.assertion) c.assertions);
  summarize = c: {
    failedAssertions = failed c;
    warnings = c.warnings;
    hostName = c.networking.hostName;
    triad = lib.optionalAttrs (c.services ? triad && c.services.triad.settings != { }) {
      inherit (c.services.triad) roles stateDir settings;
      configFile = toString c.services.triad.configFile;
      # the build step of the cluster file (checkConfig)
      configFileScript = c.services.triad.configFile.passthru.script or "";
      package = c.services.triad.package.name;
    };
    units = lib.mapAttrs (_: s: s.unitFile) c.systemd.services;
    etc = lib.mapAttrs (_: f: { inherit (f) enable target mode; source = toString f.source; }) c.environment.etc;
    firewall = { inherit (c.networking.firewall) enable allowedTCPPorts allowedUDPPorts extraCommands extraStopCommands extraInputRules; };
    users = lib.mapAttrs (_: u: { inherit (u) isSystemUser isNormalUser group extraGroups; }) c.users.users;
    groups = builtins.attrNames c.users.groups;
    sysctl = c.boot.kernel.sysctl;
    tmpfiles = c.systemd.tmpfiles.rules;
    keepalived = { inherit (c.services.keepalived) enable openFirewall vrrpScripts vrrpInstances; };
    haproxy = c.services.haproxy.enable;
    systemPackages = map (p: p.name) c.environment.systemPackages;
  };
  withSpecialisations = sys: summarize sys.config // {
    specialisations = lib.mapAttrs (_: s: summarize s.configuration) sys.config.specialisation;
  };

  # nixos/lib/testing: each node is a NixOS system of its module, with the framework's defaults
  # (host name = node name, test-instrumentation's sysctls at their priorities).
  runNixOSTest = t: {
    inherit (t) name globalTimeout testScript;
    nodes = lib.mapAttrs (nodeName: module: withSpecialisations (nixos.evalSystem [
      module
      {
        networking.hostName = lib.mkDefault nodeName;
        boot.kernel.sysctl = { "kernel.hung_task_timeout_secs" = 600; "vm.panic_on_oom" = lib.mkDefault 2; };
      }
    ])) t.nodes;
  };

  # A documented deployment: a directory holding a flake.nix whose outputs take nixpkgs and
  # triad (this flake) and give nixosConfigurations.
  deployment = dir:
    let d = import (/. + dir + "/flake.nix");
    in lib.mapAttrs (_: withSpecialisations) (d.outputs { self = d; inherit nixpkgs; triad = self; }).nixosConfigurations;

  cases = import ./cases.nix { inherit lib self; inherit (nixos) evalSystem; };
  kind = builtins.head (lib.splitString ":" what);
  arg = lib.removePrefix "${kind}:" what;
in
if kind == "test" then self.checks.x86_64-linux.${arg}
else if kind == "tests" then builtins.attrNames (removeAttrs self.checks.x86_64-linux [ "build" ])
else if kind == "flake" then {
  packages = lib.mapAttrs (_: ps: lib.mapAttrs (_: p: p.name) ps) self.packages;
  build = lib.mapAttrs (_: c: c.build.name) self.checks;
  apps = lib.mapAttrs (_: a: lib.mapAttrs (_: x: { inherit (x) type; program = x.program; }) a) self.apps;
  devShells = lib.mapAttrs (_: s: builtins.attrNames s) self.devShells;
  formatter = lib.mapAttrs (_: f: f.name) self.formatter;
  nixosModules = builtins.attrNames self.nixosModules;
}
else if kind == "deployment" then deployment arg
else if kind == "cases" then builtins.attrNames cases.cases
else if kind == "case" then summarize cases.cases.${arg}.config
else if kind == "fragment" then summarize (cases.fragment (/. + arg)).config
else throw "eval.nix: unknown `what` ${what}"
