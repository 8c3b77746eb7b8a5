# Scenario: the primary's PostgreSQL is frozen (SIGSTOP of the postmaster and every backend)
# for half the lease, then continued. Its keeper goes on renewing the lease; writes wait and
# resume: no failover, the same primary, nothing lost.
SCENARIO = "postgres-paused"


def fault(host1):
    pids = host1.succeed(f"echo {postgres_pids(host1)}").split()
    assert len(pids) > 1, f"postmaster and backends of {host1.name}: {pids}"
    host1.succeed(f"kill -STOP {' '.join(pids)}")
    time.sleep(1.5)
    host1.succeed(f"kill -CONT {' '.join(pids)}")


primary_keeps_its_role(SCENARIO, lambda host1: f"the PostgreSQL of {host1.name} is frozen for 1.5 s", fault)
