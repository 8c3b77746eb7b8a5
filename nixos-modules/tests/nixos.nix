# A NixOS system as far as Triad's modules touch it, for evaluation without a Nix store
# (scripts/check-nix). Not a stub: every NixOS option the modules, the VM tests and the
# documented examples set is declared with the type nixpkgs gives it (read from nixpkgs'
# sources: nixos/lib/systemd-unit-options.nix, nixos/modules/system/etc/etc.nix,
# nixos/modules/config/users-groups.nix, nixos/modules/services/networking/firewall*.nix,
# nixos/modules/config/sysctl.nix, nixos/modules/system/boot/{kernel,modprobe}.nix,
# nixos/modules/services/networking/haproxy.nix and
# keepalived/, nixos/modules/system/activation/specialisation.nix, nixos/lib/testing/), so a
# definition nixpkgs would reject (a type error, two definitions of a unique option, a
# systemd option mixing lists and strings, infinite recursion) fails here too. Where a nixpkgs
# module's own config matters to Triad (what services.haproxy puts into its unit, the
# assertions users-groups and keepalived make), it is modelled in a few lines, marked "model".
#
#   evalSystem :: [ module ] -> { config, options, ... }   (what lib.nixosSystem returns)
{ lib, pkgs }:
let
  inherit (lib) mkOption types;

  # systemd-unit-options.nix: one value, or lists that concatenate; a mix is an error, and two
  # different non-list values conflict.
  unitOption = lib.mkOptionType {
    name = "systemd option";
    merge = loc: defs:
      let defs' = lib.filterOverrides defs;
      in if lib.isList (lib.head defs').value
      then lib.concatMap (def: if builtins.typeOf def.value == "list" then def.value
        else throw "The definitions for systemd unit options should be either all lists, representing repeatable options, or all non-lists, but for the option ${lib.showOption loc}, the definitions are a mix of list and non-list ${lib.options.showDefs defs'}") defs'
      else lib.mergeEqualOption loc defs';
  };
  unitNameType = types.str;
  listOfUnits = mkOption { default = [ ]; type = types.listOf unitNameType; };

  service = { name, config, options, ... }: {
    options = {
      # model (systemd-lib.nix, serviceToUnit): the unit file as switch-to-configuration
      # compares it; the triggers become X-Restart-Triggers / X-Reload-Triggers store paths.
      unitFile = mkOption { internal = true; readOnly = true; };
      enable = mkOption { default = true; type = types.bool; };
      description = mkOption { default = ""; type = types.singleLineStr; };
      documentation = mkOption { default = [ ]; type = types.listOf types.str; };
      wantedBy = listOfUnits; requiredBy = listOfUnits; upheldBy = listOfUnits; aliases = listOfUnits;
      requires = listOfUnits; wants = listOfUnits; upholds = listOfUnits; after = listOfUnits; before = listOfUnits;
      bindsTo = listOfUnits; partOf = listOfUnits; conflicts = listOfUnits; requisite = listOfUnits; onFailure = listOfUnits; onSuccess = listOfUnits;
      unitConfig = mkOption { default = { }; type = types.attrsOf unitOption; };
      startLimitBurst = mkOption { type = types.int; };
      startLimitIntervalSec = mkOption { type = types.int; };
      restartTriggers = mkOption { default = [ ]; type = types.listOf types.unspecified; };
      reloadTriggers = mkOption { default = [ ]; type = types.listOf unitOption; };
      environment = mkOption { default = { }; type = with types; attrsOf (nullOr (oneOf [ str path package ])); };
      path = mkOption { default = [ ]; type = with types; listOf (oneOf [ package str ]); };
      serviceConfig = mkOption { default = { }; type = types.attrsOf unitOption; };
      script = mkOption { type = types.lines; default = ""; };
      scriptArgs = mkOption { type = types.str; default = ""; };
      preStart = mkOption { type = types.lines; default = ""; };
      postStart = mkOption { type = types.lines; default = ""; };
      reload = mkOption { type = types.lines; default = ""; };
      preStop = mkOption { type = types.lines; default = ""; };
      postStop = mkOption { type = types.lines; default = ""; };
      restartIfChanged = mkOption { type = types.bool; default = true; };
      reloadIfChanged = mkOption { type = types.bool; default = false; };
      stopIfChanged = mkOption { type = types.bool; default = true; };
      startAt = mkOption { type = with types; either str (listOf str); default = [ ]; };
    };
    # model (serviceOptions' config): script/reload become ExecStart/ExecReload.
    config = lib.mkMerge [
      {
        unitFile = {
          enable = config.enable;
          wantedBy = config.wantedBy;
          Unit = lib.filterAttrs (_: v: v != [ ] && v != null) {
            Description = config.description;
            Documentation = config.documentation;
            Requires = config.requires; Wants = config.wants; Upholds = config.upholds; After = config.after; Before = config.before;
            BindsTo = config.bindsTo; PartOf = config.partOf; Conflicts = config.conflicts; Requisite = config.requisite;
            OnFailure = config.onFailure; OnSuccess = config.onSuccess;
            StartLimitBurst = if options.startLimitBurst.isDefined then config.startLimitBurst else null;
            StartLimitIntervalSec = if options.startLimitIntervalSec.isDefined then config.startLimitIntervalSec else null;
            X-Restart-Triggers = if config.restartTriggers == [ ] then null else "${pkgs.writeText "X-Restart-Triggers-${name}" (toString config.restartTriggers)}";
            X-Reload-Triggers = if config.reloadTriggers == [ ] then null else "${pkgs.writeText "X-Reload-Triggers-${name}" (toString config.reloadTriggers)}";
            X-StopIfChanged = config.stopIfChanged;
            X-RestartIfChanged = config.restartIfChanged;
            X-ReloadIfChanged = config.reloadIfChanged;
          } // lib.mapAttrs (_: v: if lib.isList v then map toString v else toString v) config.unitConfig;
          Service = lib.mapAttrs (_: v: if lib.isList v then map toString v else toString v) config.serviceConfig // {
            Environment = lib.mapAttrs (_: toString) (lib.filterAttrs (_: v: v != null) config.environment)
              // { PATH = lib.concatStringsSep ":" (map (p: "${toString p}/bin:${toString p}/sbin") config.path); };
          };
        };
      }
      (lib.mkIf (config.script != "") { serviceConfig.ExecStart = "${pkgs.writeShellScript "${name}-start" config.script} ${config.scriptArgs}"; })
      (lib.mkIf (config.reload != "") { serviceConfig.ExecReload = "${pkgs.writeShellScript "${name}-reload" config.reload}"; })
      (lib.mkIf (config.preStart != "") { serviceConfig.ExecStartPre = [ "${pkgs.writeShellScript "${name}-pre-start" config.preStart}" ]; })
    ];
  };

  etcFile = { name, config, ... }: {
    options = {
      enable = mkOption { type = types.bool; default = true; };
      target = mkOption { type = types.str; };
      text = mkOption { default = null; type = types.nullOr types.lines; };
      source = mkOption { type = types.path; };
      mode = mkOption { type = types.str; default = "symlink"; };
      uid = mkOption { type = types.int; default = 0; };
      gid = mkOption { type = types.int; default = 0; };
      user = mkOption { type = types.str; default = "+0"; };
      group = mkOption { type = types.str; default = "+0"; };
    };
    config = {
      target = lib.mkDefault name;
      source = lib.mkIf (config.text != null) (lib.mkDefault (pkgs.writeText "etc-${baseNameOf name}" config.text));
    };
  };

  user = { name, ... }: {
    options = {
      name = mkOption { type = types.str; default = name; };
      description = mkOption { type = types.str; default = ""; };
      uid = mkOption { type = with types; nullOr int; default = null; };
      isSystemUser = mkOption { type = types.bool; default = false; };
      isNormalUser = mkOption { type = types.bool; default = false; };
      group = mkOption { type = types.str; default = ""; };
      extraGroups = mkOption { type = types.listOf types.str; default = [ ]; };
      home = mkOption { type = types.str; default = "/var/empty"; };
      createHome = mkOption { type = types.bool; default = false; };
      shell = mkOption { type = with types; nullOr (either package str); default = null; };
      hashedPassword = mkOption { type = with types; nullOr str; default = null; };
      openssh.authorizedKeys.keys = mkOption { type = types.listOf types.singleLineStr; default = [ ]; };
    };
  };
  group = { name, ... }: {
    options = {
      name = mkOption { type = types.str; default = name; };
      gid = mkOption { type = with types; nullOr int; default = null; };
      members = mkOption { type = types.listOf types.str; default = [ ]; };
    };
  };

  # firewall.nix (commonOptions, per interface too) and firewall-iptables/-nftables.nix.
  portOptions = {
    allowedTCPPorts = mkOption { type = types.listOf types.port; default = [ ]; };
    allowedTCPPortRanges = mkOption { type = types.listOf (types.attrsOf types.port); default = [ ]; };
    allowedUDPPorts = mkOption { type = types.listOf types.port; default = [ ]; };
    allowedUDPPortRanges = mkOption { type = types.listOf (types.attrsOf types.port); default = [ ]; };
  };

  # sysctl.nix: a value is a bool, string, int or null; one definition per key (per priority).
  sysctlOption = lib.mkOptionType {
    name = "sysctl option value";
    check = val: let checkType = x: lib.isBool x || lib.isString x || lib.isInt x || x == null; in checkType val || (val._type or "" == "override" && checkType val.content);
    merge = loc: defs: lib.mergeOneOption loc (lib.filterOverrides defs);
  };

  keepalivedScript = {
    options = {
      script = mkOption { type = types.str; };
      interval = mkOption { type = types.int; default = 1; };
      timeout = mkOption { type = types.int; default = 5; };
      weight = mkOption { type = types.int; default = 0; };
      rise = mkOption { type = types.int; default = 5; };
      fall = mkOption { type = types.int; default = 3; };
      user = mkOption { type = types.str; default = "keepalived_script"; };
      group = mkOption { type = types.nullOr types.str; default = null; };
      extraConfig = mkOption { type = types.lines; default = ""; };
    };
  };
  keepalivedInstance = {
    options = {
      interface = mkOption { type = types.str; };
      state = mkOption { type = types.enum [ "MASTER" "BACKUP" ]; default = "BACKUP"; };
      virtualRouterId = mkOption { type = types.ints.between 1 255; };
      priority = mkOption { type = types.int; default = 100; };
      noPreempt = mkOption { type = types.bool; default = false; };
      useVmac = mkOption { type = types.bool; default = false; };
      unicastSrcIp = mkOption { type = types.nullOr types.str; default = null; };
      unicastPeers = mkOption { type = types.listOf types.str; default = [ ]; };
      virtualIps = mkOption {
        default = [ ];
        type = types.listOf (types.submodule {
          options = {
            addr = mkOption { type = types.str; };
            brd = mkOption { type = types.nullOr types.str; default = null; };
            dev = mkOption { type = types.nullOr types.str; default = null; };
            scope = mkOption { type = types.nullOr types.str; default = null; };
            label = mkOption { type = types.nullOr types.str; default = null; };
          };
        });
      };
      trackScripts = mkOption { type = types.listOf types.str; default = [ ]; };
      trackInterfaces = mkOption { type = types.listOf types.str; default = [ ]; };
      extraConfig = mkOption { type = types.lines; default = ""; };
    };
  };

  base = { config, options, extendModules, ... }: {
    options = {
      assertions = mkOption { type = types.listOf types.unspecified; internal = true; default = [ ]; };
      warnings = mkOption { type = types.listOf types.str; internal = true; default = [ ]; };
      system.stateVersion = mkOption { type = types.str; default = "26.05"; };
      nixpkgs.hostPlatform = mkOption { type = types.either types.str types.attrs; default = "x86_64-linux"; };
      networking.hostName = mkOption { type = types.strMatching "^$|^[[:alnum:]]([[:alnum:]_-]{0,61}[[:alnum:]])?$"; default = "nixos"; };
      networking.domain = mkOption { type = types.nullOr types.str; default = null; };
      networking.firewall = portOptions // {
        enable = mkOption { type = types.bool; default = true; };
        interfaces = mkOption { default = { }; type = types.attrsOf (types.submodule { options = portOptions; }); };
        trustedInterfaces = mkOption { type = types.listOf types.str; default = [ ]; };
        extraCommands = mkOption { type = types.lines; default = ""; };
        extraStopCommands = mkOption { type = types.lines; default = ""; };
        extraInputRules = mkOption { type = types.lines; default = ""; };
      };
      environment.etc = mkOption { default = { }; type = types.attrsOf (types.submodule etcFile); };
      environment.systemPackages = mkOption { type = types.listOf types.package; default = [ ]; };
      systemd.services = mkOption { default = { }; type = types.attrsOf (types.submodule service); };
      systemd.tmpfiles.rules = mkOption { type = types.listOf types.str; default = [ ]; };
      users.users = mkOption { default = { }; type = types.attrsOf (types.submodule user); };
      users.groups = mkOption { default = { }; type = types.attrsOf (types.submodule group); };
      boot.kernel.sysctl = mkOption { default = { }; type = types.submodule { freeformType = types.attrsOf sysctlOption; }; };
      # nixos/modules/system/boot/kernel.nix and modprobe.nix (the app module's softdog option).
      boot.kernelModules = mkOption { type = types.listOf types.str; default = [ ]; };
      boot.extraModprobeConfig = mkOption { type = types.lines; default = ""; };
      services.haproxy = {
        enable = mkOption { type = types.bool; default = false; };
        package = lib.mkPackageOption pkgs "haproxy" { };
        user = mkOption { type = types.str; default = "haproxy"; };
        group = mkOption { type = types.str; default = "haproxy"; };
        config = mkOption { type = types.nullOr types.lines; default = null; };
      };
      services.keepalived = {
        enable = mkOption { type = types.bool; default = false; };
        openFirewall = mkOption { type = types.bool; default = false; };
        enableScriptSecurity = mkOption { type = types.bool; default = false; };
        vrrpScripts = mkOption { type = types.attrsOf (types.submodule keepalivedScript); default = { }; };
        vrrpInstances = mkOption { type = types.attrsOf (types.submodule keepalivedInstance); default = { }; };
        extraGlobalDefs = mkOption { type = types.lines; default = ""; };
        extraConfig = mkOption { type = types.lines; default = ""; };
      };
      # The test framework's per-node options the VM tests set (qemu-vm.nix).
      virtualisation.memorySize = mkOption { type = types.ints.positive; default = 1024; };
      virtualisation.cores = mkOption { type = types.ints.positive; default = 1; };
      virtualisation.vlans = mkOption { type = types.listOf types.ints.unsigned; default = [ 1 ]; };
      # specialisation.nix: each child is this system extended by its configuration (or
      # without the parent's user modules); nested specialisations are ignored (no-clone.nix).
      specialisation = mkOption {
        default = { };
        type = types.attrsOf (types.submodule (local@{ ... }:
          let extend = if local.config.inheritParentConfig then extendModules else throw "inheritParentConfig = false is not modelled";
          in {
            options.inheritParentConfig = mkOption { type = types.bool; default = true; };
            options.configuration = mkOption {
              default = { };
              inherit (extend { modules = [{ specialisation = lib.mkOverride 0 { }; }]; }) type;
            };
          }));
      };
    };

    config = lib.mkMerge [
      {
        # model (users-groups.nix): each user is a system or a normal user, has a group, and
        # its group exists (else activation fails).
        assertions = lib.flatten (lib.mapAttrsToList (n: u: [
          { assertion = (u.isNormalUser || u.isSystemUser || u.uid != null) && !(u.isNormalUser && u.isSystemUser); message = "Exactly one of users.users.${n}.isSystemUser and users.users.${n}.isNormalUser must be set."; }
          { assertion = u.group != ""; message = "users.users.${n}.group is unset."; }
          { assertion = u.group == "" || config.users.groups ? ${u.group}; message = "users.users.${n}.group = ${u.group} is not a group of users.groups."; }
        ]) config.users.users);
      }
      # model (haproxy.nix): the unit nixpkgs makes; it names the configuration's store path in
      # ExecStartPre and ExecReload.
      (lib.mkIf config.services.haproxy.enable (
        let
          cfg = config.services.haproxy;
          haproxyCfg = pkgs.writeText "haproxy.conf" "global\n  stats socket /run/haproxy/haproxy.sock mode 600 expose-fd listeners level user\n\n${toString cfg.config}";
        in {
          assertions = [{ assertion = cfg.config != null; message = "You must provide services.haproxy.config."; }];
          environment.etc."haproxy.cfg".source = haproxyCfg;
          systemd.services.haproxy = {
            description = "HAProxy";
            after = [ "network.target" ];
            wantedBy = [ "multi-user.target" ];
            serviceConfig = {
              Type = "notify";
              ExecStartPre = [
                "${pkgs.coreutils}/bin/ln -sf ${lib.getExe cfg.package} /run/haproxy/haproxy"
                "/run/haproxy/haproxy -c -f ${haproxyCfg}"
              ];
              ExecStart = "/run/haproxy/haproxy -Ws -f /etc/haproxy.cfg -p /run/haproxy/haproxy.pid";
              ExecReload = [
                "${lib.getExe cfg.package} -c -f ${haproxyCfg}"
                "${pkgs.coreutils}/bin/ln -sf ${lib.getExe cfg.package} /run/haproxy/haproxy"
                "${pkgs.coreutils}/bin/kill -USR2 $MAINPID"
              ];
              KillMode = "mixed";
              Restart = "always";
              RuntimeDirectory = "haproxy";
              User = cfg.user;
              Group = cfg.group;
            };
          };
          users.users = lib.optionalAttrs (cfg.user == "haproxy") { haproxy = { group = cfg.group; isSystemUser = true; }; };
          users.groups = lib.optionalAttrs (cfg.group == "haproxy") { haproxy = { }; };
        }))
      # model (keepalived/default.nix): its assertions, its firewall rules, its unit.
      (lib.mkIf config.services.keepalived.enable (
        let cfg = config.services.keepalived; in {
          assertions = lib.flatten (lib.mapAttrsToList (n: i: [
            { assertion = i.interface != ""; message = "services.keepalived.vrrpInstances.${n}.interface option cannot be empty."; }
            { assertion = i.priority >= 0 && i.priority <= 255; message = "services.keepalived.vrrpInstances.${n}.priority must be an integer between 0..255."; }
          ] ++ map (s: { assertion = cfg.vrrpScripts ? ${s}; message = "services.keepalived.vrrpInstances.${n} trackscript ${s} is not defined in services.keepalived.vrrpScripts."; }) i.trackScripts) cfg.vrrpInstances);
          networking.firewall = lib.mkIf cfg.openFirewall {
            extraCommands = "ip46tables -A nixos-fw -p vrrp -m comment --comment \"services.keepalived.openFirewall\" -j ACCEPT\n";
            extraStopCommands = "ip46tables -D nixos-fw -p vrrp -m comment --comment \"services.keepalived.openFirewall\" -j ACCEPT\n";
          };
          systemd.services.keepalived = {
            description = "Keepalive Daemon (LVS and VRRP)";
            after = [ "network.target" "network-online.target" ];
            wants = [ "network-online.target" ];
            serviceConfig.ExecStart = "${lib.getExe pkgs.keepalived} -f ${pkgs.writeText "keepalived.conf" (builtins.toJSON { inherit (cfg) vrrpScripts vrrpInstances; })} -p /run/keepalived.pid";
          };
        }))
    ];
  };
in
{
  inherit base;
  evalSystem = modules: lib.evalModules {
    modules = [ base { _module.args.pkgs = lib.mkDefault pkgs; } ] ++ modules;
    specialArgs = { modulesPath = "/nix/store/00000000000000000000000000000000-nixos/modules"; };
  };
}
