# Scenario: the primary's keeper is frozen (SIGSTOP) for half the lease, then continued. A
# keeper that is only slow keeps its role: no failover, the same primary, nothing lost. (A
# freeze longer than the lease is keeper-killed: the fence service stops PostgreSQL first.)
SCENARIO = "keeper-paused"

cluster_serving()
host1, host2 = primary_and_standby()
wait_sync_standby(host1, [host2])
start_workload()
history, started = keeper_history(host1), postmaster_started(host1)

with subtest(f"the keeper of {host1.name} is frozen for 1.5 s (the lease is 3 s)"):
    host1.succeed("systemctl kill -s SIGSTOP --kill-whom=main triad-keeper")
    time.sleep(1.5)
    host1.succeed("systemctl kill -s SIGCONT --kill-whom=main triad-keeper")

check_no_failover(host1, history, started)
workload_progresses()
finish(SCENARIO, standbys=[host2], engines=[host1, host2])
