# The external balancer: nixpkgs' services.haproxy, with the configuration rendered from the
# cluster description by `triadctl haproxy-config --role external` in a derivation (the logic
# lives in tested Rust). Optional keepalived VRRP for a virtual IP shared by two balancers.
{ config, lib, pkgs, ... }:
let
  cfg = config.services.triad;
  ports = cfg.settings.ports or { };
  vip = cfg.settings.balancer.virtual_ip or null;
  balancers = builtins.filter (h: builtins.elem "balancer" (h.roles or [ ])) (cfg.settings.hosts or [ ]);
  haproxy = lib.getExe config.services.haproxy.package;
  rendered = pkgs.runCommand "triad-haproxy-external.cfg" { nativeBuildInputs = [ cfg.package config.services.haproxy.package ]; preferLocalBuild = true; } ''
    # The stats socket line nixpkgs' module adds for hot reloads, then Triad's configuration.
    printf 'global\n  stats socket /run/haproxy/haproxy.sock mode 600 expose-fd listeners level user\n\n' > $out
    triadctl haproxy-config --role external --host ${lib.escapeShellArg cfg.hostName} ${cfg.configFile} >> $out
    haproxy -c -f $out
  '';
in
{
  imports = [ ./default.nix ];

  options.services.triad.balancer.enable = lib.mkOption {
    type = lib.types.bool;
    default = builtins.elem "balancer" cfg.roles;
    defaultText = lib.literalExpression ''builtins.elem "balancer" config.services.triad.roles'';
    description = "Run the external balancer (HAProxy) on this host. By default exactly when the description gives this host the `balancer` role.";
  };

  config = lib.mkIf cfg.balancer.enable {
    assertions = [{
      assertion = builtins.elem "balancer" cfg.roles;
      message = "services.triad.balancer.enable is set, but this host (${cfg.hostName}) has no `balancer` role in services.triad.settings.hosts";
    }];

    services.haproxy.enable = true;
    # services.haproxy wants the text; the file it serves is ours (no import-from-derivation).
    services.haproxy.config = "# /etc/haproxy.cfg is rendered by triadctl haproxy-config (services.triad)";
    environment.etc."haproxy.cfg".source = lib.mkForce rendered;
    # nixpkgs' unit names the configuration's store path in ExecStartPre and ExecReload, so a
    # changed configuration would restart HAProxy and drop every client session. Here the
    # commands name /etc/haproxy.cfg (updated before units are reloaded) and the store path
    # is a reload trigger: a changed description reloads (SIGUSR2), open sessions stay.
    systemd.services.haproxy = {
      serviceConfig.ExecStartPre = lib.mkForce [
        "${pkgs.coreutils}/bin/ln -sf ${haproxy} /run/haproxy/haproxy"
        "/run/haproxy/haproxy -c -f /etc/haproxy.cfg"
      ];
      serviceConfig.ExecReload = lib.mkForce [
        "${haproxy} -c -f /etc/haproxy.cfg"
        "${pkgs.coreutils}/bin/ln -sf ${haproxy} /run/haproxy/haproxy"
        "${pkgs.coreutils}/bin/kill -USR2 $MAINPID"
      ];
      reloadTriggers = [ rendered ];
      # HAProxy binds this host's address (and the virtual one): wait for the network.
      after = [ "network-online.target" ];
      wants = [ "network-online.target" ];
    };

    services.keepalived = lib.mkIf (vip != null) {
      enable = true;
      # VRRP (IP protocol 112) between the balancers; without it both become MASTER.
      openFirewall = cfg.openFirewall;
      # The address moves when HAProxy dies, not only when the host does.
      vrrpScripts.triad-haproxy = {
        script = "${pkgs.procps}/bin/pgrep -x haproxy";
        interval = 1;
        fall = 2;
        rise = 2;
        user = "nobody";
      };
      vrrpInstances.triad = {
        interface = vip.interface;
        virtualRouterId = vip.router_id;
        priority = if balancers != [ ] && (lib.head balancers).name == cfg.hostName then 150 else 100;
        virtualIps = [{ addr = "${vip.address}/${toString (vip.prefix_length or 24)}"; }];
        trackScripts = [ "triad-haproxy" ];
      };
    };
    # HAProxy binds the virtual address on the standby balancer too.
    boot.kernel.sysctl = lib.mkIf (vip != null) { "net.ipv4.ip_nonlocal_bind" = lib.mkDefault 1; };

    services.triad.firewall.publicTCPPorts = [
      (ports.engine_sql or 5433) (ports.engine_http or 8080) (ports.designer or 8090)
      (ports.balancer_stats or 8404) (ports.balancer_prometheus or 8405)
    ] ++ lib.mapAttrsToList (_: p: p.sql_port) (lib.filterAttrs (_: p: p ? sql_port) (cfg.settings.profiles or { }));
  };
}
