# Scenario: the engine cannot reach the coordinator because of network degradation
# (seeds/atscale-failure-scenarios.txt).
#
# Host 1's engine cannot contact the coordinator: every coordinator port between host 1 and the
# other coordinator hosts is cut, so neither the engine nor host 1's own coordinator member can
# reach a quorum. Host 1 is the app host with the database standby, so the database keeps its
# primary. The engine on host 1 detects the loss, announces its departure to the engine on host
# 2 and shuts itself down; the external balancer routes traffic only to host 2. When the
# network heals, the service manager has the engine back and it rejoins.
SCENARIO = "engine-coordinator-partition"

cluster_serving()
host2, host1 = primary_and_standby()
start_workload()

with subtest(f"the network between host 1 ({host1.name}) and the coordinator degrades"):
    for other in (host2, coord):
        cut(host1, other, ports=[COORDINATOR_CLIENT, COORDINATOR_PEER])

with subtest("host 1's engine detects the loss of the coordinator and shuts itself down"):
    try:
        wait_engine_not_serving(host1, timeout=30)
    except Exception:
        raise AssertionError(f"the engine on {host1.name} kept serving without the coordinator")
    host1.wait_until_succeeds("test $(systemctl show triad-engine -P NRestarts) -ge 1 || systemctl is-failed triad-engine", timeout=30)

with subtest("host 2's engine received notice that host 1's engine is leaving"):
    host2.wait_until_succeeds(f"journalctl -u triad-engine -o cat | grep -i 'engine {host1.name}' | grep -Eiq 'depart|leav'", timeout=30)

with subtest("the external balancer routes traffic only to host 2"):
    wait_balancer_routes_to(host2)
    workload_progresses()
    assert not engine_serving(host1), f"the engine on {host1.name} kept serving without the coordinator"

with subtest("the network heals: host 1's engine is restarted and rejoins"):
    for other in (host2, coord):
        heal(host1, other, ports=[COORDINATOR_CLIENT, COORDINATOR_PEER])
    wait_engine_serving(host1)
    wait_balancer_routes_to(host1, host2)
    workload_progresses()

finish(SCENARIO, standbys=[host1], engines=[host1, host2])
