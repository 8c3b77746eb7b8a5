# The systemd units of a role, made from services.toml (beside this file): the one table of services
# that the namespace driver's supervisor reads too, so both run the same commands with the
# same restart policy, KillMode, memory limit and switch behaviour (restart when the unit's
# definition changes, reload when only its reload triggers change).
{ lib, cfg, placeholders, programs ? { }, users ? { }, extraPath ? { }, environment ? { }, serviceConfig ? { } }:
role:
let
  table = builtins.fromTOML (builtins.readFile ./services.toml);
  fill = s: builtins.replaceStrings (builtins.attrNames placeholders) (builtins.attrValues placeholders) s;
  # A bare program name (haproxy) becomes the store path of that program.
  program = c: if lib.hasInfix "/" c then c else programs.${c} or (throw "services.toml names ${c}: no store path for it");
  argv = list: let c = map fill list; in [ (program (builtins.head c)) ] ++ builtins.tail c;
  command = spec: argv spec.command;
  # StateDirectory= only knows /var/lib; a state directory elsewhere is made by tmpfiles.
  underVarLib = lib.hasPrefix "/var/lib/" cfg.stateDir;
  stateDirectory = spec: "${lib.removePrefix "/var/lib/" cfg.stateDir}/${fill spec.state_directory}";
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
    reloadTriggers = map fill (spec.reload_triggers or [ ]);
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
    } // lib.optionalAttrs (spec ? state_directory && underVarLib) {
      StateDirectory = stateDirectory spec;
      StateDirectoryMode = "0700";
    } // lib.optionalAttrs (spec ? reload_signal) {
      # The configuration (an /etc file, updated before the reload) is checked first.
      ExecReload = [
        (lib.escapeShellArgs (argv spec.reload_check))
        "${program "kill"} -${lib.removePrefix "SIG" spec.reload_signal} $MAINPID"
      ];
    } // lib.optionalAttrs (fill spec.memory_max != "") {
      MemoryMax = fill spec.memory_max;
      # Above MemoryMax the kernel's OOM killer stops the engine; it must not swap instead.
      MemorySwapMax = "0";
    } // serviceConfig.${name} or { };
  };
in
{
  services = lib.mapAttrs unit ofRole;
  # Files the units read under /etc (environment.etc), e.g. the rendered HAProxy configuration.
  etc = lib.foldl' (acc: spec: acc // lib.mapAttrs (_: source: { source = fill source; }) (spec.etc or { })) { } (builtins.attrValues ofRole);
  # The state directories outside /var/lib, made with the units' owners.
  tmpfiles = lib.optionals (!underVarLib) (lib.mapAttrsToList
    (name: spec: "d ${cfg.stateDir}/${fill spec.state_directory} 0700 ${users.${name} or "triad"} ${users.${name} or "triad"} -")
    (lib.filterAttrs (_: spec: spec ? state_directory) ofRole));
}
