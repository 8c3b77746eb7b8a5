# Scenario: a host replaced by one with a different FQDN (seeds/atscale-host-replacement.txt).
#
# The declarative procedure: one change to the cluster description (app1's entry becomes
# app3, another FQDN and address), rolled out host by host. The database leader is never the
# host being replaced. The replacement host app3 is installed with the changed description and
# activated; then the coordinator host, the database leader and the external balancer switch
# to it, one at a time; then the old host retires. Reads are never interrupted, no
# acknowledged commit is lost.
SCENARIO = "replace-new-fqdn"

cluster_serving()
if primary() is app1:
    with subtest("the database leader moves to app2: the host being replaced is never the leader"):
        app2.succeed("triadctl switchover --candidate app2 --force")
        wait_for_primary(app2)
start_workload()

with subtest("the replacement host (app3, new FQDN) is installed with the changed description and activated"):
    app3.start()
    app3.wait_for_unit("triad-coordinator")

with subtest("the coordinator host switches to the changed description"):
    coord.succeed("triad-switch-config app3-replaces-app1")
    coord.wait_for_unit("triad-coordinator")
    workload_progresses()

with subtest("the database leader (app2) switches to the changed description"):
    app2.succeed("triad-switch-config app3-replaces-app1")
    wait_engine_serving(app2)
    workload_progresses()

with subtest("app3 joins as a standby and its engine serves"):
    wait_for_standby(app3, timeout=180)
    wait_engine_serving(app3, timeout=180)

with subtest("the external balancer switches: clients go to app2 and app3"):
    balancer.succeed("triad-switch-config app3-replaces-app1")
    wait_balancer_routes_to(app2, app3)
    workload_progresses()

with subtest("the old host retires; the coordinator drops its member"):
    app1.shutdown()
    app2.wait_until_succeeds("! triadctl members list | grep -qw app1", timeout=60)
    app2.wait_until_succeeds("triadctl members list | grep -w app3 | grep -qv learner", timeout=60)
    workload_progresses()

finish(SCENARIO, standbys=[app3], engines=[app2, app3])
