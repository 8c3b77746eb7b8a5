# Scenario (issue 18, found by a chaos run): the standby's host is cut off while a session from
# it holds the change log's EXCLUSIVE lock, idle in its transaction (an engine between taking
# the lock and committing). Every engine's commit waits for that lock. Nothing is sent to an
# idle client, so without server-side keepalives PostgreSQL never learns that the client is
# gone: the chaos run saw writes through the primary's engine hang for 43 s, and the lock still
# held 100 s later. With them (triad-keeper's tcp_keepalives_*) the session ends within about
# 5 s, its transaction is rolled back, and writes go on through the primary's engine.
SCENARIO = "lock-holder-cut-off"

LOCKS_HELD = ("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
              " WHERE c.relname = 'change_log' AND l.mode = 'ExclusiveLock' AND l.granted")

cluster_serving()
host1, host2 = primary_and_standby()
start_workload()

with subtest(f"a session from {host2.name} takes the change log's lock and sits idle in its transaction"):
    # Through host 2's internal balancer, as its engine reaches the primary. psql keeps the
    # session open while its input (the sleep) lasts.
    host2.succeed(f"(echo 'BEGIN; LOCK TABLE triad_engine.change_log IN EXCLUSIVE MODE;'; sleep 900) | psql -X -q -h {host2.name} -p {DB_PRIMARY} -U postgres -d {DATABASE} >/dev/null 2>&1 &")
    retry(lambda _l: db_query(host1, LOCKS_HELD)[0] == "1", 30)

with subtest(f"{host2.name} is cut off from every host"):
    for other in (host1, coord, balancer, client):
        cut(host2, other)
    cut_at = time.monotonic()

with subtest(f"PostgreSQL ends the cut-off session: the lock is released and writes go on through {host1.name}"):
    try:
        retry(lambda _l: db_query(host1, LOCKS_HELD)[0] == "0", 30)
    except Exception:
        raise AssertionError(f"the session from the cut-off {host2.name} still holds the change log's lock 30 s after the cut")
    note(f"lock released {time.monotonic() - cut_at:.1f} s after the cut")
    workload_progresses(timeout=30)

with subtest(f"{host2.name} is reconnected and rejoins"):
    for other in (host1, coord, balancer, client):
        heal(host2, other)
    host2.execute("pkill -f 'sleep 900' || true")
    wait_for_standby(host2)
    wait_engine_serving(host2)
    wait_balancer_routes_to(host1, host2)
    workload_progresses()

finish(SCENARIO, standbys=[host2], engines=[host1, host2])
