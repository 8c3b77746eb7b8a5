# The external balancer: nixpkgs' services.haproxy, with the configuration rendered from the
# cluster description by `triadctl haproxy-config --role external` in a derivation (the logic
# lives in tested Rust). Optional keepalived VRRP for a virtual IP shared by two balancers.
{ config, lib, pkgs, ... }:
let
  cfg = config.services.triad;
  ports = cfg.settings.ports or { };
  vip = cfg.settings.balancer.virtual_ip or null;
  rendered = pkgs.runCommand "triad-haproxy-external.cfg" { nativeBuildInputs = [ cfg.package pkgs.haproxy ]; } ''
    # The stats socket line nixpkgs' module adds for hot reloads, then Triad's configuration.
    printf 'global\n  stats socket /run/haproxy/haproxy.sock mode 600 expose-fd listeners level user\n\n' > $out
    triadctl haproxy-config --role external --host ${lib.escapeShellArg cfg.hostName} ${cfg.configFile} >> $out
    haproxy -c -f $out
  '';
in
{
  imports = [ ./default.nix ];

  options.services.triad.balancer.enable = lib.mkEnableOption "the Triad external balancer (HAProxy)";

  config = lib.mkIf cfg.balancer.enable {
    services.haproxy.enable = true;
    # services.haproxy wants the text; the file it serves is ours (no import-from-derivation).
    services.haproxy.config = "# rendered by triadctl haproxy-config: ${rendered}";
    environment.etc."haproxy.cfg".source = lib.mkForce rendered;
    systemd.services.haproxy.serviceConfig.ExecStartPre = lib.mkForce [
      "${pkgs.coreutils}/bin/ln -sf ${pkgs.haproxy}/bin/haproxy /run/haproxy/haproxy"
      "/run/haproxy/haproxy -c -f ${rendered}"
    ];
    systemd.services.haproxy.restartTriggers = [ rendered ];

    services.keepalived = lib.mkIf (vip != null) {
      enable = true;
      vrrpInstances.triad = {
        interface = vip.interface;
        virtualRouterId = vip.router_id or 51;
        priority = if (lib.head (builtins.filter (h: builtins.elem "balancer" (h.roles or [ ])) cfg.settings.hosts)).name == cfg.hostName then 150 else 100;
        virtualIps = [ { addr = "${vip.address}/${toString (vip.prefix_length or 24)}"; } ];
      };
    };

    networking.firewall.allowedTCPPorts = [
      (ports.engine_sql or 5433) (ports.engine_http or 8080) (ports.designer or 8090)
      (ports.balancer_stats or 8404) (ports.balancer_prometheus or 8405)
    ];
  };
}
