# Evaluates Triad's NixOS modules without a Nix store: nixpkgs' `lib.evalModules` with stub
# declarations of the few NixOS options the modules set and a stub `pkgs` whose packages are
# fake store paths. Proves option types, defaults, assertions, the rendered cluster
# description and the systemd units. Used by scripts/check-nix (NIXPKGS_LIB=<nixpkgs lib>).
#
#   nix-instantiate --eval --strict --json nixos-modules/tests/eval.nix \
#     --arg lib 'import <nixpkgs lib>' --arg settings '<attrs>' --argstr host app1
{ lib, settings, host, memoryMax ? "" }:
let
  fake = name: { type = "derivation"; inherit name; outPath = "/nix/store/00000000000000000000000000000000-${name}"; };
  pkgs = {
    formats.toml = { }: {
      type = lib.types.attrsOf lib.types.anything;
      generate = name: value: (fake name).outPath;
    };
    runCommand = name: env: script: (fake name).outPath;
    haproxy = fake "haproxy";
    postgresql = fake "postgresql";
    coreutils = fake "coreutils";
  };
  any = lib.mkOption { type = lib.types.anything; default = { }; };
  stubs = {
    options = {
      networking.hostName = lib.mkOption { type = lib.types.str; };
      networking.firewall.allowedTCPPorts = lib.mkOption { type = lib.types.listOf lib.types.port; default = [ ]; };
      environment.etc = lib.mkOption { type = lib.types.attrsOf lib.types.anything; default = { }; };
      environment.systemPackages = lib.mkOption { type = lib.types.listOf lib.types.anything; default = [ ]; };
      systemd.services = lib.mkOption { type = lib.types.attrsOf lib.types.anything; default = { }; };
      systemd.tmpfiles.rules = lib.mkOption { type = lib.types.listOf lib.types.str; default = [ ]; };
      users.users = lib.mkOption { type = lib.types.attrsOf lib.types.anything; default = { }; };
      users.groups = lib.mkOption { type = lib.types.attrsOf lib.types.anything; default = { }; };
      services.haproxy.enable = lib.mkOption { type = lib.types.bool; default = false; };
      services.haproxy.config = lib.mkOption { type = lib.types.nullOr lib.types.lines; default = null; };
      services.keepalived = any;
      assertions = lib.mkOption { type = lib.types.listOf lib.types.anything; default = [ ]; };
    };
  };
  me = lib.findFirst (h: h.name == host) { roles = [ ]; } (settings.hosts or [ ]);
  has = role: builtins.elem role (me.roles or [ ]);
  evaluated = lib.evalModules {
    specialArgs = { inherit pkgs; };
    modules = [
      stubs
      ../app-host.nix
      ../balancer.nix
      {
        networking.hostName = host;
        services.triad = {
          package = fake "triad";
          inherit settings;
          app.enable = has "app";
          app.engine.memoryMax = memoryMax;
          coordinator.enable = lib.mkIf (has "coordinator") true;
          balancer.enable = has "balancer";
        };
      }
    ];
  };
  c = evaluated.config;
  unit = name: u: {
    inherit (u.serviceConfig) ExecStart Restart KillMode;
    MemoryMax = u.serviceConfig.MemoryMax or "";
    User = u.serviceConfig.User or "";
    startLimitBurst = u.startLimitBurst or null;
  };
in
{
  failedAssertions = map (a: a.message) (builtins.filter (a: !a.assertion) c.assertions);
  settings = c.services.triad.settings;
  units = lib.mapAttrs unit (lib.filterAttrs (n: _: lib.hasPrefix "triad-" n) c.systemd.services);
  haproxy = c.services.haproxy.enable;
  haproxyConfig = c.environment.etc."haproxy.cfg".source or null;
  firewall = c.networking.firewall.allowedTCPPorts;
  clusterFile = c.environment.etc."triad/cluster.toml".source or null;
}
