# Scenario: the primary's keeper is frozen (SIGSTOP) for half the lease, then continued. A
# keeper that is only slow keeps its role: no failover, the same primary, nothing lost. (A
# freeze longer than the lease is keeper-killed: the fence service stops PostgreSQL first.)
SCENARIO = "keeper-paused"


def fault(host1):
    host1.succeed("systemctl kill -s SIGSTOP --kill-whom=main triad-keeper")
    time.sleep(1.5)
    host1.succeed("systemctl kill -s SIGCONT --kill-whom=main triad-keeper")


primary_keeps_its_role(SCENARIO, lambda host1: f"the keeper of {host1.name} is frozen for 1.5 s (the lease is 3 s)", fault)
