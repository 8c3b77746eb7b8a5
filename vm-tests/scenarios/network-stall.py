# Scenario: the primary's host loses its network for 2 seconds (its link down: nothing in or
# out, no connection reset), then it comes back. The lease is 3 s: a primary that is only cut off
# this briefly keeps its role. No failover, the same primary, nothing lost. (Its keeper may
# fence PostgreSQL if the stall reaches its lease deadline and start it again as the same
# primary once the lease is renewed: the scenario prints which happened.)
SCENARIO = "network-stall"


def fault(host1):
    host1.block()
    time.sleep(2)
    host1.unblock()


primary_keeps_its_role(SCENARIO, lambda host1: f"the network of {host1.name} stalls for 2 s", fault)
