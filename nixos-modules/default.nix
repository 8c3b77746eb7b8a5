# services.triad: the shared cluster description every Triad host imports. It renders the
# cluster file from `settings` (checked by `triadctl config validate` when it is built) and
# checks the topology; the role modules (app-host.nix, coordinator-host.nix, balancer.nix) add
# the services of the roles this host has in the description.
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

  # The cluster-internal ports are open to the cluster's hosts (and adminSources) only.
  sources = lib.unique (builtins.filter (a: a != "") addresses ++ cfg.firewall.adminSources);
  v6 = lib.hasInfix ":";
  internal = map toString (lib.unique cfg.firewall.clusterTCPPorts);
  iptablesRules = verb: lib.optionalString (internal != [ ]) (lib.concatMapStrings (source:
    "${if v6 source then "ip6tables" else "iptables"} -w ${verb} nixos-fw -p tcp -s ${source} -m multiport --dports ${lib.concatStringsSep "," internal} -j nixos-fw-accept${lib.optionalString (verb == "-D") " || true"}\n") sources);
  nftSet = xs: "{ ${lib.concatStringsSep ", " xs} }";
  nftRules = lib.concatStrings (lib.mapAttrsToList (family: xs: lib.optionalString (xs != [ ] && internal != [ ])
    "${family} saddr ${nftSet xs} tcp dport ${nftSet internal} accept\n") { ip = builtins.filter (s: !v6 s) sources; ip6 = builtins.filter v6 sources; });

  generated = format.generate "cluster.toml" cfg.settings;
  # checkConfig: the schema and the safety rules live in tested Rust (triadctl), not in Nix.
  checked = pkgs.runCommand "cluster.toml" { nativeBuildInputs = [ cfg.package ]; preferLocalBuild = true; } ''
    triadctl config validate ${generated}
    cp ${generated} $out
  '';
in
{
  imports = [
    (lib.mkRenamedOptionModule [ "services" "triad" "app" "postgresql" ] [ "services" "triad" "postgresqlPackage" ])
  ];

  options.services.triad = {
    # The flake's modules give it the flake's package as default (flake.nix, one module).
    package = lib.mkPackageOption pkgs "triad" { };

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
        A host that the description does not name runs no Triad service.
      '';
    };

    checkConfig = lib.mkOption {
      type = lib.types.bool;
      default = true;
      description = "Run `triadctl config validate` on the rendered cluster file when it is built.";
    };

    configFile = lib.mkOption {
      type = lib.types.path;
      readOnly = true;
      default = if cfg.checkConfig then checked else generated;
      defaultText = lib.literalMD "rendered from `services.triad.settings`, validated by `triadctl config validate`";
      description = ''
        The rendered cluster file. The daemons are started with this store path, so a changed
        description changes their units and `switch-to-configuration` restarts them; it is also
        installed as /etc/triad/cluster.toml for `triadctl`.
      '';
    };

    roles = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      readOnly = true;
      default = if me == null then [ ] else me.roles or [ ];
      defaultText = lib.literalMD "this host's `roles` in `settings.hosts`";
      description = "This host's roles, from its entry in the cluster description (none when it is not listed).";
    };

    stateDir = lib.mkOption {
      type = lib.types.str;
      default = cfg.settings.cluster.state_dir or "/var/lib/triad";
      defaultText = lib.literalExpression ''config.services.triad.settings.cluster.state_dir or "/var/lib/triad"'';
      description = "Root of the daemons' state (must equal `settings.cluster.state_dir` when that is set).";
    };

    postgresqlPackage = lib.mkOption {
      type = lib.types.package;
      example = lib.literalExpression "pkgs.postgresql_17";
      description = ''
        The PostgreSQL of the app hosts. No default: a `nixpkgs` update must never change the
        major version under a data directory. Set it in the description module every host
        imports, so the whole cluster runs one major (standbys replicate only from the same
        major). The keeper's data directory is scoped by it
        (`<stateDir>/postgresql/<major>/postgres/data`); see docs/nix.md for a major upgrade.
      '';
    };

    firewall = {
      publicTCPPorts = lib.mkOption {
        type = lib.types.listOf lib.types.port;
        default = [ ];
        internal = true;
        description = "Client-facing ports of this host's roles (set by the role modules).";
      };
      clusterTCPPorts = lib.mkOption {
        type = lib.types.listOf lib.types.port;
        default = [ ];
        internal = true;
        description = "Cluster-internal ports of this host's roles (set by the role modules).";
      };
      adminSources = lib.mkOption {
        type = lib.types.listOf lib.types.str;
        default = [ ];
        example = [ "10.20.1.0/24" ];
        description = "Addresses or networks besides the cluster's hosts allowed to reach the cluster-internal ports (monitoring, operators running `triadctl`).";
      };
    };

    openFirewall = lib.mkOption {
      type = lib.types.bool;
      default = true;
      description = ''
        Open the ports of this host's roles in the NixOS firewall: the client-facing ones
        (engine SQL and HTTP, designer, balancer and profile SQL ports) to everyone, the
        cluster-internal ones (coordinator, PostgreSQL, keeper API, internal HAProxy, engine
        peers) to the cluster's host addresses only.
      '';
    };
  };

  config = lib.mkIf (cfg.settings != { }) {
    assertions = [
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
      {
        # triadctl and every daemon started without --state-dir read it from the description.
        assertion = cfg.stateDir == (cfg.settings.cluster.state_dir or "/var/lib/triad");
        message = "services.triad: stateDir (${cfg.stateDir}) differs from settings.cluster.state_dir (${cfg.settings.cluster.state_dir or "unset: /var/lib/triad"}); set the description's cluster.state_dir instead";
      }
      {
        assertion = lib.hasPrefix "/" cfg.stateDir && !(lib.hasSuffix "/" cfg.stateDir);
        message = "services.triad: stateDir must be an absolute path without a trailing slash (${cfg.stateDir})";
      }
    ];

    environment.etc."triad/cluster.toml".source = cfg.configFile;
    environment.systemPackages = [ cfg.package ];

    # The state root, once; each daemon's own directory is its unit's StateDirectory=.
    systemd.tmpfiles.rules = lib.mkIf (cfg.roles != [ ]) [ "d ${cfg.stateDir} 0755 root root -" ];
    users.users.triad = lib.mkIf (cfg.roles != [ ]) { isSystemUser = true; group = "triad"; };
    users.groups.triad = lib.mkIf (cfg.roles != [ ]) { };

    networking.firewall = lib.mkIf cfg.openFirewall {
      allowedTCPPorts = lib.unique cfg.firewall.publicTCPPorts;
      # iptables (the default) and nftables (networking.nftables.enable): only one applies.
      extraCommands = iptablesRules "-A";
      extraStopCommands = iptablesRules "-D";
      extraInputRules = nftRules;
    };
  };
}
