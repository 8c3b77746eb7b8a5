# An app host: keeper with PostgreSQL, engine, designer and the internal HAProxy (5000 ->
# primary, 5001 -> replicas); a coordinator member too when the description gives the host that
# role (coordinator-host.nix).
{ config, lib, pkgs, ... }:
let
  cfg = config.services.triad;
  app = cfg.app;
  pg = cfg.postgresqlPackage;
  major = pg.psqlSchema or (lib.versions.major pg.version);
  render = role: pkgs.runCommand "triad-haproxy-${role}.cfg" { nativeBuildInputs = [ cfg.package pkgs.haproxy ]; preferLocalBuild = true; } ''
    triadctl haproxy-config --role ${role} --host ${lib.escapeShellArg cfg.hostName} -o $out ${cfg.configFile}
    haproxy -c -f $out
  '';
  rendered = import ./units.nix {
    inherit lib cfg;
    placeholders = {
      "@bin@" = "${cfg.package}/bin";
      "@config@" = "${cfg.configFile}";
      "@host@" = cfg.hostName;
      "@state_dir@" = cfg.stateDir;
      "@etc@" = "/etc";
      "@pg_major@" = major;
      "@haproxy_internal@" = "${render "internal"}";
      "@engine_memory_max@" = app.engine.memoryMax;
    };
    programs = { haproxy = lib.getExe pkgs.haproxy; kill = "${pkgs.coreutils}/bin/kill"; };
    # PostgreSQL runs as its own user, as the keeper's child; a password_file is shared with
    # the engine and designer through the `triad` group (chgrp triad, chmod 0640).
    # The fence runs as root: it kills PostgreSQL's processes and may open /dev/watchdog.
    users = { triad-keeper = "postgres"; triad-haproxy-internal = "haproxy"; triad-keeper-fence = "root"; };
    serviceConfig.triad-keeper.SupplementaryGroups = [ "triad" ];
    # The keeper finds initdb, pg_ctl, postgres, pg_basebackup and pg_rewind on its PATH.
    extraPath = { triad-keeper = [ pg ]; };
    # The fence kicks the kernel watchdog (softdog) when the host has it: a fence that stops
    # running (the host frozen) gets the host reset. Test settings may override it.
    environment = lib.recursiveUpdate
      (lib.optionalAttrs app.softdog.enable { triad-keeper-fence.TRIAD_KEEPER_WATCHDOG = "/dev/watchdog"; })
      app.environment;
  } "app";
  ports = cfg.settings.ports or { };
  port = name: default: ports.${name} or default;
in
{
  imports = [ ./default.nix ./coordinator-host.nix ];

  options.services.triad.app = {
    enable = lib.mkOption {
      type = lib.types.bool;
      default = builtins.elem "app" cfg.roles;
      defaultText = lib.literalExpression ''builtins.elem "app" config.services.triad.roles'';
      description = "Run the app host services (keeper with PostgreSQL, engine, designer, internal HAProxy). By default exactly when the description gives this host the `app` role.";
    };
    engine.memoryMax = lib.mkOption {
      type = lib.types.str;
      default = "";
      example = "8G";
      description = "MemoryMax= of the engine (systemd syntax; empty: no limit). The OOM killer stops the engine, systemd restarts it.";
    };
    softdog = {
      enable = lib.mkOption {
        type = lib.types.bool;
        default = true;
        description = ''
          Load the kernel's software watchdog (softdog) and have `triad-keeper fence` kick it at
          every check (every 100 ms): if the fence stops running (the host frozen or starved) the
          kernel resets the host, so a primary cannot outlive its lease because its fence is stuck
          (Patroni's `watchdog`). Turn off on hosts without the module or with another watchdog.
        '';
      };
      margin = lib.mkOption {
        type = lib.types.ints.positive;
        default = 3;
        description = "Seconds without a kick before softdog resets the host (its `soft_margin`); keep it at most `keeper_ttl`.";
      };
    };
    environment = lib.mkOption {
      type = lib.types.attrsOf (lib.types.attrsOf lib.types.str);
      default = { };
      description = "Extra environment per unit (test-only settings of the VM tests).";
    };
  };

  config = lib.mkIf app.enable {
    assertions = [{
      assertion = builtins.elem "app" cfg.roles;
      message = "services.triad.app.enable is set, but this host (${cfg.hostName}) has no `app` role in services.triad.settings.hosts";
    }];

    systemd.services = rendered.services;
    boot.kernelModules = lib.mkIf app.softdog.enable [ "softdog" ];
    boot.extraModprobeConfig = lib.mkIf app.softdog.enable "options softdog soft_margin=${toString app.softdog.margin}";
    systemd.tmpfiles.rules = rendered.tmpfiles;
    environment.etc = rendered.etc;

    users.users.postgres = { isSystemUser = true; group = "postgres"; };
    users.groups.postgres = { };
    users.users.haproxy = { isSystemUser = true; group = "haproxy"; };
    users.groups.haproxy = { };

    services.triad.firewall.publicTCPPorts = [ (port "engine_sql" 5433) (port "engine_http" 8080) (port "designer" 8090) ];
    services.triad.firewall.clusterTCPPorts = [
      (port "postgres" 5432) (port "keeper_api" 8008) (port "db_primary" 5000) (port "db_replicas" 5001) (port "engine_peer" 7100)
    ];
  };
}
