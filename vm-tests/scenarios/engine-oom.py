# Scenario: the engine runs out of memory (seeds/atscale-failure-scenarios.txt).
#
# Host 1's engine has its memory budgets set above its MemoryMax (cluster-oom.toml), as an operator
# might by mistake. A series of unconstrained queries makes it exceed the memory its service may
# use (MemoryMax): the kernel kills it. The service manager restarts it. If the restart is
# slow, the engine on host 2 notices the loss and the external balancer routes traffic only to
# host 2 until host 1's engine is back, then to both again.
SCENARIO = "engine-oom"

cluster_serving()
host1 = app1
start_workload()

with subtest("unconstrained queries make host 1's engine run out of memory"):
    restarts = int(host1.get_unit_property("triad-engine", "NRestarts"))
    client.execute(f"for i in 1 2 3 4; do PGPASSWORD={ANALYST_PASSWORD} timeout 60 psql -X -At 'host={host1.name} port={ENGINE_SQL} user={ANALYST} dbname={DATABASE}' -c {shlex.quote(OOM_QUERY)} & done; wait", timeout=120)
    host1.wait_until_succeeds("journalctl -u triad-engine -o cat | grep -q \"Failed with result 'oom-kill'\"", timeout=60)

with subtest("the service manager restarts host 1's engine"):
    host1.wait_until_succeeds(f"test $(systemctl show triad-engine -P NRestarts) -gt {restarts}", timeout=30)
    wait_engine_serving(host1)

with subtest("the external balancer routes traffic to both engines again"):
    wait_balancer_routes_to(app1, app2)
    workload_progresses()

finish(SCENARIO, standbys=[primary_and_standby()[1]], engines=[app1, app2])
