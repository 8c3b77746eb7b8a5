# A coordinator member (triad-coordinator, etcd v3 API): the only service of the coordinator
# host, and one of the services of app hosts that carry the `coordinator` role.
{ config, lib, pkgs, ... }:
let
  cfg = config.services.triad;
  ports = cfg.settings.ports or { };
  rendered = import ./units.nix {
    inherit lib cfg;
    placeholders = {
      "@bin@" = "${cfg.package}/bin";
      "@config@" = "${cfg.configFile}";
      "@host@" = cfg.hostName;
      "@state_dir@" = cfg.stateDir;
    };
  } "coordinator";
in
{
  imports = [ ./default.nix ];

  options.services.triad.coordinator.enable = lib.mkOption {
    type = lib.types.bool;
    default = builtins.elem "coordinator" cfg.roles;
    defaultText = lib.literalExpression ''builtins.elem "coordinator" config.services.triad.roles'';
    description = "Run a coordinator member on this host. By default exactly when the description gives this host the `coordinator` role.";
  };

  config = lib.mkIf cfg.coordinator.enable {
    assertions = [{
      assertion = builtins.elem "coordinator" cfg.roles;
      message = "services.triad.coordinator.enable is set, but this host (${cfg.hostName}) has no `coordinator` role in services.triad.settings.hosts";
    }];
    systemd.services = rendered.services;
    systemd.tmpfiles.rules = rendered.tmpfiles;
    # Clients (keepers, engines, designers, triadctl) are on the cluster's hosts.
    services.triad.firewall.clusterTCPPorts = [ (ports.coordinator_client or 2379) (ports.coordinator_peer or 2380) ];
  };
}
