# The systemd units of a role, made from vm-tests/services.toml: the one table of services
# that the namespace driver's supervisor reads too, so both run the same commands with the
# same restart policy, KillMode and memory limit.
{ lib, cfg, placeholders, programs ? { }, users ? { }, extraPath ? { }, environment ? { } }:
role:
let
  table = builtins.fromTOML (builtins.readFile ../vm-tests/services.toml);
  fill = s: builtins.replaceStrings (builtins.attrNames placeholders) (builtins.attrValues placeholders) s;
  # A bare program name (haproxy) becomes the store path of that program.
  program = c: if lib.hasInfix "/" c then c else programs.${c} or (throw "services.toml names ${c}: no store path for it");
  command = spec: let c = map fill spec.command; in [ (program (builtins.head c)) ] ++ builtins.tail c;
  # Each daemon's own state directory, created by systemd for the unit's user.
  stateDirectory = {
    triad-coordinator = "triad/coordinator";
    triad-keeper = "triad/postgres";
    triad-engine = "triad/engine";
    triad-designer = "triad/designer";
  };
  ofRole = lib.filterAttrs (name: spec: builtins.elem role spec.roles && name != "haproxy") table;
  unit = name: spec: {
    description = "Triad: ${name}";
    after = [ "network-online.target" ] ++ map (d: "${d}.service") spec.after;
    wants = [ "network-online.target" ];
    wantedBy = [ "multi-user.target" ];
    startLimitBurst = spec.start_limit_burst;
    startLimitIntervalSec = spec.start_limit_interval_sec;
    path = extraPath.${name} or [ ];
    environment = environment.${name} or { };
    serviceConfig = {
      ExecStart = lib.escapeShellArgs (command spec);
      Restart = spec.restart;
      RestartSec = spec.restart_sec;
      KillMode = spec.kill_mode;
      User = users.${name} or "triad";
      Group = users.${name} or "triad";
      NoNewPrivileges = true;
      ProtectSystem = "strict";
      ProtectHome = true;
      PrivateTmp = true;
      ReadWritePaths = [ cfg.stateDir ];
    } // lib.optionalAttrs (stateDirectory ? ${name}) {
      StateDirectory = stateDirectory.${name};
      StateDirectoryMode = "0700";
    } // lib.optionalAttrs (fill spec.memory_max != "") {
      MemoryMax = fill spec.memory_max;
    };
  };
in
lib.mapAttrs unit ofRole
