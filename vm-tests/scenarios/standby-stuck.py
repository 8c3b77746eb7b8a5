# Scenario (issue 18, found by a chaos run): a standby that cannot follow its primary is
# noticed and cloned afresh. The chaos run's standby waited for WAL with a history that had
# forked from the primary's for 22 minutes while `triadctl list` called it a replica, and no
# failover was possible. Here host 2's history is made to fork on purpose: its keeper frozen,
# its PostgreSQL promoted by hand, written to, and restarted as a standby again. Its WAL
# receiver then never streams (host 1's history does not contain host 2's timeline); once
# that has lasted a minute while host 1's PostgreSQL answers as a primary, host 2's keeper sets
# the directory aside and clones afresh, and host 2 can take over again.
SCENARIO = "standby-stuck"

DATA = "/var/lib/triad/postgresql/*/postgres/data"

cluster_serving()
host1, host2 = primary_and_standby()
wait_sync_standby(host1, [host2])
start_workload()

with subtest(f"{host2.name}'s history forks from {host1.name}'s while its keeper is frozen"):
    host2.succeed("systemctl kill -s SIGSTOP --kill-whom=main triad-keeper")
    db_query(host2, "SELECT pg_promote()")
    host2.wait_until_succeeds(f"psql -X -At -h {host2.name} -p {POSTGRES} -U postgres -d {DATABASE} -c 'SELECT NOT pg_is_in_recovery()' | grep -qx t", timeout=30)
    db_query(host2, "CREATE TABLE fork_marker AS SELECT 1 AS n")
    # Back to a standby of host 1, with the options its keeper started it with.
    host2.succeed(f"d=$(echo {DATA}) && touch $d/standby.signal && chown postgres: $d/standby.signal"
                  " && bin=$(dirname $(readlink -f /proc/$(head -1 $d/postmaster.pid)/exe))"
                  " && runuser -u postgres -- $bin/pg_ctl -D $d restart -m fast -w >/dev/null")
    host2.succeed("systemctl kill -s SIGCONT --kill-whom=main triad-keeper")
    workload_progresses()

with subtest(f"{host2.name} is a standby that does not stream"):
    host2.wait_until_succeeds(f"psql -X -At -h {host2.name} -p {POSTGRES} -U postgres -d {DATABASE} -c 'SELECT pg_is_in_recovery()' | grep -qx t", timeout=30)
    time.sleep(10)
    assert http_status(host2.name, KEEPER_API, "/replica") != 200, f"{host2.name} streams although its history forked"

with subtest(f"its keeper notices after a minute and clones afresh: {host2.name} streams again"):
    wait_for_standby(host2, timeout=180)
    host2.succeed("journalctl -u triad-keeper -o cat | grep -q 'has not streamed from its answering leader'")
    host2.succeed(f"ls -d {DATA}.not-following-*")
    workload_progresses()

can_take_over(host2, host1)

finish(SCENARIO, standbys=[host1], engines=[host1, host2])
