# Scenario (issue 18, the thousand-fault soak's fault 908): an old primary asks the new primary,
# its rewind's source, for a CHECKPOINT; the request is acknowledged and never answered, and then
# the source loses power behind a cut link. In the soak the old primary's keeper waited for that
# answer for good: nothing more was sent, so nothing ever failed, and the host never rejoined.
# Here the source's checkpointer is stopped, so the CHECKPOINT is certain to be waiting when the
# power goes. Now a question to another host stops after 30 s and its connection has
# keepalives; the keeper asks again, and the old primary rejoins once the source is back.
SCENARIO = "rewind-source-lost"

cluster_serving()
old, new = primary_and_standby()
wait_sync_standby(old, [new])
start_workload()
REPLICATION = [5432]

with subtest(f"{old.name} is cut from the coordinator's members: {new.name} takes over"):
    for other in (new, coord):
        cut(old, other, ports=[2379, 2380])
    wait_for_primary(new, timeout=90)
    # The new primary's own CHECKPOINT after promotion is done before its checkpointer stops.
    new.wait_until_succeeds("journalctl -u triad-keeper -o cat | grep -q 'promoted: this host is the primary'", timeout=60)

with subtest(f"{new.name}'s checkpointer stops: a CHECKPOINT there is acknowledged and never answered"):
    # Hosts share the process namespace here: the title names the host (cluster_name).
    new.succeed(f"pkill -STOP -f 'postgres: {new.name}: checkpointer'")
    for other in (new, coord):
        heal(old, other, ports=[2379, 2380])
    old.wait_until_succeeds("journalctl -u triad-keeper -o cat | grep -q 'acting action=Rewind'", timeout=90)

with subtest(f"{old.name}'s keeper stops waiting for the CHECKPOINT after 30 s and asks again"):
    old.wait_until_succeeds("journalctl -u triad-keeper -o cat | grep -q 'CHECKPOINT) did not finish within 30 s'", timeout=60)
    note("  " + old.succeed("journalctl -u triad-keeper -o cat | grep 'did not answer' | tail -1").strip()[:300])

with subtest(f"while it waits again, the link to {new.name} is cut and {new.name} loses power"):
    import time
    time.sleep(3)
    cut(old, new, ports=REPLICATION)
    new.crash()
    time.sleep(6)
    new.start()
    heal(old, new, ports=REPLICATION)

with subtest(f"{new.name} is the primary again and {old.name} rejoins as its standby"):
    wait_for_primary(new, timeout=120)
    wait_for_standby(old, timeout=150)
    workload_progresses()

finish(SCENARIO, standbys=[old], engines=[old, new])
