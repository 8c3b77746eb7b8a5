# An app host: coordinator member (when the description gives it that role), keeper with
# PostgreSQL, engine, designer and the internal HAProxy (5000 -> primary, 5001 -> replicas).
{ config, lib, pkgs, ... }:
let
  cfg = config.services.triad;
  app = cfg.app;
  render = role: pkgs.runCommand "triad-haproxy-${role}.cfg" { nativeBuildInputs = [ cfg.package ]; } ''
    triadctl haproxy-config --role ${role} --host ${lib.escapeShellArg cfg.hostName} -o $out ${cfg.configFile}
  '';
  units = import ./units.nix {
    inherit lib cfg;
    placeholders = {
      "@bin@" = "${cfg.package}/bin";
      "@config@" = "/etc/triad/cluster.toml";
      "@host@" = cfg.hostName;
      "@state_dir@" = cfg.stateDir;
      "@haproxy_internal@" = "${render "internal"}";
      "@engine_memory_max@" = app.engine.memoryMax;
    };
    programs.haproxy = "${pkgs.haproxy}/bin/haproxy";
    # PostgreSQL runs as its own user, as the keeper's child.
    users = { triad-keeper = "postgres"; triad-haproxy-internal = "haproxy"; };
    extraPath = { triad-keeper = [ app.postgresql ]; };
    environment = app.environment;
  } "app";
  ports = cfg.settings.ports or { };
  port = name: default: ports.${name} or default;
in
{
  imports = [ ./default.nix ./coordinator-host.nix ];

  options.services.triad.app = {
    enable = lib.mkEnableOption "the Triad app host services (keeper with PostgreSQL, engine, designer, internal HAProxy)";
    postgresql = lib.mkPackageOption pkgs "postgresql" { };
    engine.memoryMax = lib.mkOption {
      type = lib.types.str;
      default = "";
      example = "8G";
      description = "MemoryMax= of the engine (systemd syntax; empty: no limit). The OOM killer stops the engine, systemd restarts it.";
    };
    environment = lib.mkOption {
      type = lib.types.attrsOf (lib.types.attrsOf lib.types.str);
      default = { };
      description = "Extra environment per unit (test-only settings of the VM tests).";
    };
  };

  config = lib.mkIf app.enable {
    services.triad.coordinator.enable = lib.mkDefault (builtins.elem "coordinator" cfg.roles);
    # The keeper finds PostgreSQL here unless the description sets [database] bin_dir.
    services.triad.settings.database.bin_dir = lib.mkDefault "${app.postgresql}/bin";

    systemd.services = units;
    systemd.tmpfiles.rules = [ "d ${cfg.stateDir} 0755 root root -" ];

    users.users.triad = { isSystemUser = true; group = "triad"; };
    users.groups.triad = { };
    users.users.postgres = { isSystemUser = true; group = "postgres"; };
    users.groups.postgres = { };
    users.users.haproxy = { isSystemUser = true; group = "haproxy"; };
    users.groups.haproxy = { };

    networking.firewall.allowedTCPPorts = [
      (port "postgres" 5432) (port "keeper_api" 8008) (port "db_primary" 5000) (port "db_replicas" 5001)
      (port "engine_sql" 5433) (port "engine_http" 8080) (port "engine_peer" 7100) (port "designer" 8090)
    ];
  };
}
