# Scenario: a host replaced by a new one with the identical FQDN
# (seeds/atscale-host-replacement.txt).
#
# App host 1 is shut down and replaced by an empty machine with the same name, FQDN and cluster
# description (the same Nix configuration). Activating it is just booting it: since a primary
# is already running, it joins as a standby (cloned from the primary) and as a new coordinator
# member (a new member id: a member that lost its disk never votes with its old one), and its
# engine loads the cubes and serves. Clients keep being served throughout.
SCENARIO = "replace-same-fqdn"

cluster_serving()
start_workload()
old_id = app1.succeed("triadctl members list | awk '$2 == \"app1\" {print $1}'").strip()

with subtest("the host being replaced (app1) is shut down"):
    app1.shutdown()
    primary([app2], timeout=90)
    workload_progresses()

with subtest("the replacement host, with an empty disk and the same FQDN, is activated"):
    wipe_disk(app1)
    app1.start()

with subtest("it joins as a standby and as a new coordinator member"):
    wait_for_standby(app1, timeout=180)
    new_id = app2.wait_until_succeeds("triadctl members list | awk '$2 == \"app1\" && $3 != \"learner\" {print $1}' | grep .", timeout=60).strip()
    assert new_id != old_id, f"the rebuilt app1 votes with its old member id {old_id}"

with subtest("its engine loads the cubes and serves; the balancer routes to it again"):
    wait_engine_serving(app1, timeout=180)
    wait_balancer_routes_to(app1, app2)
    workload_progresses()

finish(SCENARIO, standbys=[app1], engines=[app1, app2])
