# Scenario: loss of physical host 3, the coordinator host (seeds/atscale-failure-scenarios.txt).
#
# The coordinator host fails. The coordinator members on the app hosts detect the loss and
# keep the quorum between the two of them; the engines may restart to re-form their cluster in
# a stable state, but clients stay served and the database keeps its primary. The coordinator
# host comes back later and rejoins without any impact.
SCENARIO = "coordinator-host-loss"

cluster_serving()
leader, standby = primary_and_standby()
start_workload()

with subtest("the coordinator host physically fails"):
    coord.crash()

with subtest("the coordinators on the app hosts keep the quorum without it"):
    app1.wait_until_succeeds("triadctl coordinator status | grep -c ' yes ' | grep -qx 1", timeout=30)
    for m in (app1, app2):
        m.succeed("triadctl members list >/dev/null")

with subtest("clients stay served and the database keeps its primary"):
    workload_progresses()
    assert primary() is leader, "the database primary moved although only the coordinator host failed"

with subtest("the coordinator host comes back and rejoins without impact"):
    coord.start()
    coord.wait_for_unit("triad-coordinator")
    app1.wait_until_succeeds("test $(triadctl coordinator status | grep -c unreachable) = 0", timeout=60)
    workload_progresses()
    assert primary() is leader, "the coordinator host's return moved the database primary"

finish(SCENARIO, standbys=[standby], engines=[app1, app2])
