# Scenario (issue 18, found by a chaos run): the keeper of an old primary is killed while
# pg_rewind makes its data directory a standby of the new primary. The chaos run's keeper left
# pg_rewind running (`KillMode=process` spares a unit's children), rewound the same directory
# again when it restarted, and its PostgreSQL then waited for WAL with a broken history for 22
# minutes while `triadctl list` showed it as a replica: no failover was possible all that time.
# Now the keeper's tools die with it, and a directory whose rejoin was interrupted is set aside
# and cloned afresh: the host is a streaming standby again within two minutes, and can take
# over.
SCENARIO = "rewind-interrupted"

cluster_serving()
host1, host2 = primary_and_standby()
wait_sync_standby(host1, [host2])
start_workload()

with subtest(f"{host1.name}'s pg_rewind is caught and frozen as the switchover to {host2.name} begins"):
    # Frozen the moment it appears (polled every 10 ms), so the keeper can be killed while it
    # is certainly half way.
    host1.succeed("(for i in $(seq 12000); do if pkill -STOP -x pg_rewind; then echo caught > /tmp/rewind-caught; break; fi; sleep 0.01; done) >/dev/null 2>&1 &")
    host2.succeed(f"triadctl switchover --candidate {host2.name} --force --wait 60")
    host1.wait_for_file("/tmp/rewind-caught", timeout=60)

with subtest(f"the keeper of {host1.name} is killed with pg_rewind half way: pg_rewind dies with it"):
    host1.succeed("systemctl kill -s SIGKILL --kill-whom=main triad-keeper")
    # Still frozen, pg_rewind cannot finish by itself: only the kill that comes with its
    # keeper's death (PR_SET_PDEATHSIG) can end it. (A stopped process does die of SIGKILL.)
    try:
        host1.wait_until_fails("pgrep -x pg_rewind", timeout=10)
    except Exception:
        host1.execute("pkill -CONT -x pg_rewind")
        raise AssertionError(f"pg_rewind outlived the keeper of {host1.name} that ran it")

with subtest(f"{host1.name} is a streaming standby again, cloned afresh"):
    wait_for_standby(host1, timeout=120)
    host1.succeed("journalctl -u triad-keeper -o cat | grep -q 'rejoin of this data directory was interrupted'")
    host1.succeed("ls -d /var/lib/triad/postgresql/*/postgres/data.interrupted-rejoin-*")
    workload_progresses()

can_take_over(host1, host2)

finish(SCENARIO, standbys=[host2], engines=[host1, host2])
