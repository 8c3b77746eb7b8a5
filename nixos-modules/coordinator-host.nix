# A coordinator member (triad-coordinator, etcd v3 API): the only service of the coordinator
# host, and one of the services of app hosts that carry the `coordinator` role.
{ config, lib, pkgs, ... }:
let
  cfg = config.services.triad;
  ports = cfg.settings.ports or { };
  units = import ./units.nix {
    inherit lib cfg;
    placeholders = {
      "@bin@" = "${cfg.package}/bin";
      "@config@" = "/etc/triad/cluster.toml";
      "@host@" = cfg.hostName;
      "@state_dir@" = cfg.stateDir;
    };
  } "coordinator";
in
{
  imports = [ ./default.nix ];

  options.services.triad.coordinator.enable = lib.mkEnableOption "a Triad coordinator member on this host";

  config = lib.mkIf cfg.coordinator.enable {
    systemd.services = units;
    systemd.tmpfiles.rules = [ "d ${cfg.stateDir} 0755 root root -" ];
    users.users.triad = { isSystemUser = true; group = "triad"; };
    users.groups.triad = { };
    networking.firewall.allowedTCPPorts = [ (ports.coordinator_client or 2379) (ports.coordinator_peer or 2380) ];
  };
}
