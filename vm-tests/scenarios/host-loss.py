# Scenario: loss of physical host 1 (seeds/atscale-failure-scenarios.txt).
#
# Host 1 is the app host that holds the database primary. It physically fails. The database on
# host 2 learns of the loss through the coordinator and promotes itself (it holds every
# acknowledged commit: synchronous replication); the internal balancers route database traffic
# to it; the engine on host 2 notices host 1's engine is gone; the external balancer sends
# every client to host 2. Host 1 is repaired later and rejoins as a standby.
SCENARIO = "host-loss"

cluster_serving()
host1, host2 = primary_and_standby()
start_workload()

with subtest(f"host 1 ({host1.name}, the database primary) physically fails"):
    host1.crash()

with subtest("the database on host 2 detects the loss through the coordinator and promotes itself"):
    wait_for_primary(host2)

with subtest("the internal balancer on host 2 routes database traffic to the new primary"):
    host2.wait_until_succeeds(f"psql -X -At -h {host2.name} -p {DB_PRIMARY} -U postgres -d {DATABASE} -c 'SELECT NOT pg_is_in_recovery()' | grep -qx t", timeout=30)

with subtest("the external balancer detects the loss and routes all traffic to host 2"):
    wait_balancer_routes_to(host2)
    workload_progresses()

with subtest("the engine on host 2 detected the loss of host 1's engine"):
    host2.wait_until_succeeds(f"journalctl -u triad-engine -o cat | grep -i 'engine {host1.name}' | grep -Eiq 'lost|left|gone|expired'", timeout=30)

# Whichever host ran the active designer, host 2's designer serves now (a takeover within
# designer_lease_ttl when it was host 1's).
wait_designer_active(host2)

with subtest("host 1 is repaired and rejoins as a standby"):
    host1.start()
    wait_for_standby(host1)
    wait_engine_serving(host1)
    wait_balancer_routes_to(host1, host2)
    workload_progresses()

finish(SCENARIO, standbys=[host1], engines=[host1, host2])
