# Scenario: queries exhaust an engine's memory (a chaos run's find, issue 18). Four
# unconstrained queries run at once on host 1's engine, whose service may use 512 MiB
# (MemoryMax) and whose memory budgets are left unset. The budgets follow that limit, so the
# engine refuses the queries (SQLSTATE 53200, naming its budget) before the kernel must kill
# it: it is not restarted, never leaves the cluster, and serves reads and writes throughout.
# (Before, the kernel's reclaim stalled it until it missed its registration renewals and left.)
# With budgets set above the limit, the kernel kills it instead: engine-oom.
SCENARIO = "memory-exhausted"
QUERIES = 4

cluster_serving()
host1 = app1
start_workload()
restarts = int(host1.get_unit_property("triad-engine", "NRestarts"))
pid = host1.get_unit_property("triad-engine", "MainPID")

with subtest(f"{QUERIES} queries that would exhaust host 1's engine's memory are refused"):
    budgets = host1.succeed("journalctl -u triad-engine -o cat | grep -E 'spill budgets|memory_budget' | tail -2").strip()
    note(f"  {budgets}")
    psql = f"PGPASSWORD={ANALYST_PASSWORD} timeout 150 psql -X -At -v VERBOSITY=verbose 'host={host1.name} port={ENGINE_SQL} user={ANALYST} dbname={DATABASE}'"
    client.succeed(f"rm -f /tmp/oom-*.out; for i in $(seq {QUERIES}); do ({psql} -c {shlex.quote(HOARD_QUERY)}; echo exit=$?) >/tmp/oom-$i.out 2>&1 & done; wait", timeout=200)
    answers = [client.succeed(f"cat /tmp/oom-{i}.out") for i in range(1, QUERIES + 1)]
    for answer in answers:
        note(f"  {answer.strip()[:300]}")
        assert "53200" in answer and "memory_budget" in answer, f"a query was not refused for memory: {answer.strip()[:500]}"

with subtest("host 1's engine kept running and never left the cluster"):
    now = (int(host1.get_unit_property("triad-engine", "NRestarts")), host1.get_unit_property("triad-engine", "MainPID"))
    assert now == (restarts, pid), f"host 1's engine was restarted: NRestarts {restarts} -> {now[0]}, MainPID {pid} -> {now[1]}"
    host1.fail("journalctl -u triad-engine -o cat | grep -E 'leaving the engine cluster|oom-kill'")
    assert engine_serving(host1), "host 1's engine is not serving after the queries were refused"
    assert sql(host1.name, "SELECT 1") == ["1"], "host 1's engine does not answer SELECT 1"
    workload_progresses()

finish(SCENARIO, standbys=[primary_and_standby()[1]], engines=[app1, app2])
