# services.triad: the shared cluster description every Triad host imports. It renders the
# cluster file (/etc/triad/cluster.toml, docs/configuration.md) from `settings` and checks the
# topology; the role modules (app-host.nix, coordinator-host.nix, balancer.nix) add services.
{ config, lib, pkgs, ... }:
let
  cfg = config.services.triad;
  format = pkgs.formats.toml { };
  hosts = cfg.settings.hosts or [ ];
  names = map (h: h.name) hosts;
  addresses = map (h: h.address or "") hosts;
  fqdns = map (h: lib.toLower (h.fqdn or "")) hosts;
  members = builtins.filter (h: builtins.elem "coordinator" (h.roles or [ ])) hosts;
  external = cfg.settings.coordinator.external_endpoints or [ ];
  duplicates = xs: lib.unique (builtins.filter (x: lib.count (y: y == x) xs > 1) xs);
  me = lib.findFirst (h: h.name == cfg.hostName) null hosts;
in
{
  options.services.triad = {
    package = lib.mkOption {
      type = lib.types.package;
      description = "The Triad package (all binaries: triad-coordinator, triad-keeper, triad-engine, triad-designer, triadctl).";
    };

    hostName = lib.mkOption {
      type = lib.types.str;
      default = config.networking.hostName;
      defaultText = lib.literalExpression "config.networking.hostName";
      description = "This host's `name` in the cluster description (the daemons' `--host`).";
    };

    settings = lib.mkOption {
      type = format.type;
      default = { };
      description = ''
        The cluster description, identical on every host: the keys of `cluster.toml`
        (see docs/configuration.md), e.g. `cluster.name`, `hosts`, `timings`, `database`.
      '';
    };

    configFile = lib.mkOption {
      type = lib.types.path;
      readOnly = true;
      default = format.generate "cluster.toml" cfg.settings;
      defaultText = lib.literalMD "rendered from `services.triad.settings`";
      description = "The rendered cluster file (installed as /etc/triad/cluster.toml).";
    };

    roles = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      readOnly = true;
      default = if me == null then [ ] else me.roles or [ ];
      description = "This host's roles, from its entry in the cluster description.";
    };

    stateDir = lib.mkOption {
      type = lib.types.str;
      default = "/var/lib/triad";
      description = "Root of the daemons' state (must equal `settings.cluster.state_dir` when that is set).";
    };
  };

  config = lib.mkIf (cfg.settings != { }) {
    assertions = [
      {
        assertion = me != null;
        message = "services.triad: this host (${cfg.hostName}) is not in services.triad.settings.hosts (hosts: ${lib.concatStringsSep ", " names})";
      }
      {
        assertion = duplicates names == [ ];
        message = "services.triad: host listed twice: ${lib.concatStringsSep ", " (duplicates names)}";
      }
      {
        assertion = builtins.all (h: (h.address or "") != "") hosts;
        message = "services.triad: hosts without an address: ${lib.concatStringsSep ", " (map (h: h.name) (builtins.filter (h: (h.address or "") == "") hosts))}";
      }
      {
        assertion = duplicates addresses == [ ];
        message = "services.triad: two hosts with one address: ${lib.concatStringsSep ", " (duplicates addresses)}";
      }
      {
        assertion = duplicates fqdns == [ ];
        message = "services.triad: two hosts with one FQDN: ${lib.concatStringsSep ", " (duplicates fqdns)}";
      }
      {
        assertion = external != [ ] || (builtins.length members >= 3 && lib.mod (builtins.length members) 2 == 1);
        message = "services.triad: the coordinator needs an odd number (at least three) of hosts with the `coordinator` role; found ${toString (builtins.length members)} (${lib.concatStringsSep ", " (map (h: h.name) members)})";
      }
    ];

    environment.etc."triad/cluster.toml".source = cfg.configFile;
    environment.systemPackages = [ cfg.package ];
  };
}
