# Scenario: the primary's keeper is killed (SIGKILL) and stays dead while its PostgreSQL keeps
# running (issue 17: a chaos run once saw both PostgreSQL instances out of recovery while the
# primary's keeper was frozen).
#
# Nothing inside the dead keeper can fence any more. The fence service beside PostgreSQL
# (`triad-keeper fence`) kills PostgreSQL when the keeper's last lease deadline passes, which is
# before the coordinator can expire the lease; only then can host 2's keeper take the leader key
# and promote. So at no moment are two PostgreSQL instances writable, and no acknowledged write
# is lost. When the keeper comes back, its old primary rejoins as a standby.
SCENARIO = "keeper-killed"

cluster_serving()
host1, host2 = primary_and_standby()
wait_sync_standby(host1, [host2])
start_workload()

with subtest(f"the keeper of {host1.name} is killed and stays dead; its PostgreSQL keeps running"):
    host1.succeed("systemctl kill -s SIGKILL --kill-whom=main triad-keeper")
    host1.succeed("systemctl stop triad-keeper")  # no automatic restart: it stays dead

with subtest("the database on host 2 takes over once the lease expired"):
    wait_for_primary(host2)

with subtest(f"the PostgreSQL of {host1.name} was fenced before host 2's promotion"):
    status, out = host1.execute(f"psql -X -At -h {host1.name} -p {POSTGRES} -U postgres -d {DATABASE} -c 'SELECT NOT pg_is_in_recovery()'")
    assert not (status == 0 and out.strip() == "t"), f"two writable primaries: PostgreSQL on {host1.name} is still a primary after {host2.name}'s promotion"
    host1.succeed("journalctl -u triad-keeper-fence -o cat | grep -q 'killing PostgreSQL (fencing)'")

with subtest("clients write again"):
    workload_progresses()

with subtest(f"the keeper of {host1.name} comes back: its old primary rejoins as a standby"):
    host1.succeed("systemctl start triad-keeper")
    wait_for_standby(host1)
    workload_progresses()

finish(SCENARIO, standbys=[host1], engines=[host1, host2])
