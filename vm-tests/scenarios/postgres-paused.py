# Scenario: the primary's PostgreSQL is frozen (SIGSTOP of the postmaster and every backend)
# for half the lease, then continued. Its keeper goes on renewing the lease; writes wait and
# resume: no failover, the same primary, nothing lost.
SCENARIO = "postgres-paused"

cluster_serving()
host1, host2 = primary_and_standby()
wait_sync_standby(host1, [host2])
start_workload()
history, started = keeper_history(host1), postmaster_started(host1)

with subtest(f"the PostgreSQL of {host1.name} is frozen for 1.5 s"):
    pids = host1.succeed(f"echo {postgres_pids(host1)}").split()
    assert len(pids) > 1, f"postmaster and backends of {host1.name}: {pids}"
    host1.succeed(f"kill -STOP {' '.join(pids)}")
    time.sleep(1.5)
    host1.succeed(f"kill -CONT {' '.join(pids)}")

check_no_failover(host1, history, started)
workload_progresses()
finish(SCENARIO, standbys=[host2], engines=[host1, host2])
