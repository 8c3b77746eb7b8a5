# Scenario: the engines on host 1 and host 2 reach the coordinator but not each other
# (seeds/atscale-failure-scenarios.txt).
#
# The engine peer traffic between the two app hosts is cut; both still reach the coordinator
# and the database. The newest engine shuts itself down; the external balancer routes traffic
# only to the oldest. When the network heals, the newest engine comes back.
SCENARIO = "engine-engine-partition"

cluster_serving()
start_workload()

with subtest("the engine on app2 is the newest: restarted after app1's"):
    app2.succeed("systemctl restart triad-engine")
    wait_engine_serving(app2)
    wait_balancer_routes_to(app1, app2)

with subtest("the network between the engines degrades; both still reach the coordinator"):
    cut(app1, app2, ports=[ENGINE_PEER])

with subtest("the newest engine (app2) shuts itself down"):
    wait_engine_not_serving(app2, timeout=30)
    app2.wait_until_succeeds("test $(systemctl show triad-engine -P NRestarts) -ge 1 || systemctl is-failed triad-engine", timeout=30)

with subtest("the external balancer routes traffic only to the oldest engine (app1)"):
    wait_balancer_routes_to(app1)
    assert engine_serving(app1), "the oldest engine (app1) stopped serving too"
    workload_progresses()

with subtest("the network heals: the newest engine is back"):
    heal(app1, app2, ports=[ENGINE_PEER])
    wait_engine_serving(app2)
    wait_balancer_routes_to(app1, app2)
    workload_progresses()

finish(SCENARIO, standbys=[primary_and_standby()[1]], engines=[app1, app2])
