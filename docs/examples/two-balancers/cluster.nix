# The description of a cluster with two balancers sharing a virtual address (keepalived VRRP),
# imported by every host. Evaluated by scripts/check-nix.
{ pkgs, ... }:
{
  services.triad = {
    postgresqlPackage = pkgs.postgresql_17;
    settings = {
      cluster.name = "sales";
      hosts = [
        { name = "app1"; fqdn = "app1.example.com"; address = "10.20.0.11"; roles = [ "app" "coordinator" ]; profiles = [ "finance" ]; }
        { name = "app2"; fqdn = "app2.example.com"; address = "10.20.0.12"; roles = [ "app" "coordinator" ]; }
        { name = "coord"; fqdn = "coord.example.com"; address = "10.20.0.13"; roles = [ "coordinator" ]; }
        { name = "lb1"; fqdn = "lb1.example.com"; address = "10.20.0.10"; roles = [ "balancer" ]; }
        { name = "lb2"; fqdn = "lb2.example.com"; address = "10.20.0.14"; roles = [ "balancer" ]; }
      ];
      # Clients use 10.20.0.9; lb1 (the first balancer listed) holds it while it and its
      # HAProxy run, lb2 otherwise.
      balancer.virtual_ip = { address = "10.20.0.9"; prefix_length = 24; interface = "eth0"; router_id = 51; };
      profiles.finance.sql_port = 5441;
    };
  };
}
