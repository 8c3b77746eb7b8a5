# Scenario: the primary's host loses its network for 2 seconds (its link down: nothing in or
# out, no connection reset), then it comes back. The lease is 3 s: a primary that is only cut off
# this briefly keeps its role. No failover, the same primary, nothing lost. (Its keeper may
# fence PostgreSQL if the stall reaches its lease deadline and start it again as the same
# primary once the lease is renewed: the scenario prints which happened.)
SCENARIO = "network-stall"

cluster_serving()
host1, host2 = primary_and_standby()
wait_sync_standby(host1, [host2])
start_workload()
history, started = keeper_history(host1), postmaster_started(host1)

with subtest(f"the network of {host1.name} stalls for 2 s"):
    host1.block()
    time.sleep(2)
    host1.unblock()

check_no_failover(host1, history, started)
workload_progresses()
finish(SCENARIO, standbys=[host2], engines=[host1, host2])
