# Helpers of the failure scenarios (vm-tests/scenarios/*.py). Both drivers prepend this file to
# a scenario's script and run the two as one test script with the NixOS test driver's symbols
# (app1, app2, app3, balancer, client, coord, subtest, ...), so it uses nothing else: standard
# library, and commands run on the test nodes. See vm-tests/README.md.
#
# What a scenario proves at its end (finish()):
# - exactly one primary: one keeper answers /primary with 200, one PostgreSQL is out of
#   recovery, `triadctl list` shows one Leader and the expected standbys;
# - never two writable primaries, from the keepers' and PostgreSQL's own records: the keepers'
#   failover history, the timeline history of every PostgreSQL (each promotion made exactly one
#   new timeline, on the host the keepers recorded, and every member follows that one history);
# - every write a client saw acknowledged is in the database's change log and in every engine;
# - the clients' longest wait for service (reads or writes, through the balancer) is printed;
# - the last line: `NAME: passed unavailable_s=X acked_writes=N lost_writes=0`.

import json
import shlex
import time

DOMAIN = "triad.test"
ENGINE_SQL, ENGINE_HTTP, ENGINE_PEER = 5433, 8080, 7100
KEEPER_API, POSTGRES, DB_PRIMARY = 8008, 5432, 5000
COORDINATOR_CLIENT, COORDINATOR_PEER = 2379, 2380
DESIGNER = 8090
ANALYST, ANALYST_PASSWORD = "analyst", "scenario-analyst"
DATABASE = "triad"
WORKLOAD_DIR = "/tmp/workload"
# The workload's statements (engine SQL): a numbered write-back and a query over the cube.
WORKLOAD_WRITE = "INSERT INTO scenario.writes (n) VALUES ({n})"
WORKLOAD_READ = "SELECT count(*) FROM scenario.writes"
# Every acknowledged write, as one engine sees it / as the cluster database's change log holds it.
ENGINE_WRITES = "SELECT n FROM scenario.writes"
LOG_WRITES = "SELECT DISTINCT (change->>'n')::bigint FROM triad_engine.change_log WHERE cube = 'scenario.writes'"
# An unconstrained query: tens of millions of distinct long strings, far more than the engine's
# MemoryMax in the OOM scenario (512M) while each query stays under the query budget (1GiB)
# until the kernel's limit is hit.
OOM_QUERY = "SELECT count(DISTINCT s) FROM (SELECT '" + "x" * 200 + "' || CAST(value AS VARCHAR) AS s FROM generate_series(1, 40000000)) q"
# Holds every row until the end and cannot spill to disk: refused by an engine within its
# memory budget (OOM_QUERY's count(DISTINCT) becomes a grouping that spills and runs on).
HOARD_QUERY = "SELECT cardinality(array_agg(s)) FROM (SELECT '" + "x" * 200 + "' || CAST(value AS VARCHAR) AS s FROM generate_series(1, 40000000)) q"
# The cube the workload writes: one open dimension, the write's number (docs/engine.md).
SCENARIO_MODEL = {"model": {"name": "scenario", "cubes": [{"name": "writes", "dimensions": [{"name": "n"}]}]}}

_t0 = time.monotonic()


def note(msg):
    print(f"[scenario +{time.monotonic() - _t0:6.1f}s] {msg}", flush=True)


def machine(name):
    """The test node of a host name."""
    return {m.name: m for m in (app1, app2, app3, balancer, client, coord)}[name]


def address(m):
    return f"192.168.1.{['app1', 'app2', 'app3', 'balancer', 'client', 'coord'].index(m.name) + 1}"


# --- asking the cluster, from the client node (never from the host being asked) ---

def http_status(host, port, path):
    out = client.execute(f"curl -s -o /dev/null -m 2 -w '%{{http_code}}' http://{host}:{port}{path}")[1]
    return int(out) if out.strip().isdigit() else 0


def http_json(host, port, path):
    status, out = client.execute(f"curl -sf -m 3 http://{host}:{port}{path}")
    return json.loads(out) if status == 0 else None


def sql(host, query, port=ENGINE_SQL, user=ANALYST, password=ANALYST_PASSWORD, db=DATABASE, on=None, timeout=20):
    """A query as a BI client runs it; returns the output rows (psql -At)."""
    on = on or client
    conn = f"host={host} port={port} user={user} dbname={db} connect_timeout=3"
    cmd = f"PGPASSWORD={shlex.quote(password)} psql -X -A -t -v ON_ERROR_STOP=1 {shlex.quote(conn)} -c {shlex.quote(query)}"
    return on.succeed(cmd, timeout=timeout).split()


def db_query(m, query):
    """A query on the PostgreSQL of app host m, run on m itself (the cluster's hosts are
    trusted without a password file)."""
    return m.succeed(f"psql -X -A -t -h {m.name} -p {POSTGRES} -U postgres -d {DATABASE} -c {shlex.quote(query)}").split("\n")


def keeper_is_primary(m):
    return http_status(m.name, KEEPER_API, "/primary") == 200


def engine_serving(m):
    return http_status(m.name, ENGINE_HTTP, "/health") == 200


def running_apps():
    return [m for m in (app1, app2, app3) if m.booted]


def primary(among=None, timeout=60):
    """The app host whose keeper holds the leader lease (waits until exactly one does)."""
    found = []

    def one(_last):
        found[:] = [m for m in (among or running_apps()) if keeper_is_primary(m)]
        return len(found) == 1

    retry(one, timeout)
    return found[0]


def primary_and_standby():
    """(the app host with the database primary, the other app host of the seed topology)."""
    p = primary([app1, app2])
    return p, (app2 if p is app1 else app1)


def wait_for_primary(m, timeout=90):
    with subtest(f"the database on {m.name} is the primary"):
        retry(lambda _l: keeper_is_primary(m), timeout)


def wait_for_standby(m, timeout=120):
    """m's keeper runs a standby that streams from the primary."""
    with subtest(f"the database on {m.name} is a streaming standby"):
        retry(lambda _l: http_status(m.name, KEEPER_API, "/replica") == 200, timeout)


def wait_sync_standby(p, standbys, timeout=120):
    """The primary p's keeper has recorded one of `standbys` as its synchronous standby: from
    then on every acknowledged commit is on that standby, and only it may be promoted."""
    names = [m.name for m in standbys]
    with subtest(f"a synchronous standby of {p.name} is recorded (one of {', '.join(names)})"):
        retry(lambda _l: (http_json(p.name, KEEPER_API, "/cluster") or {}).get("sync_standby") in names, timeout)


def wait_designer_active(m, timeout=60):
    """m's designer holds the designer lease and the balancer's designer entry point answers."""
    with subtest(f"the Design Center is served by {m.name}'s designer"):
        retry(lambda _l: http_status(m.name, DESIGNER, "/health") == 200 and http_status("balancer", DESIGNER, "/health") == 200, timeout)


def wait_engine_serving(m, timeout=90):
    m.wait_for_unit("triad-engine", timeout=timeout)
    retry(lambda _l: engine_serving(m), timeout)


def wait_engine_not_serving(m, timeout=30):
    retry(lambda _l: not engine_serving(m), timeout)


def balancer_servers(backend="engine_sql"):
    """What the external HAProxy thinks of each engine: {host: 'UP'|'DOWN'|...}, from its stats."""
    out = client.succeed("curl -sf -m 3 'http://balancer:8404/stats;csv'")
    rows = [line.split(",") for line in out.splitlines() if line and not line.startswith("#")]
    return {r[1]: r[17].split(" ")[0] for r in rows if r[0] == backend and r[1] not in ("FRONTEND", "BACKEND")}


def wait_balancer_routes_to(*ms, timeout=60):
    """The external balancer sends SQL to exactly these hosts' engines."""
    want = sorted(m.name for m in ms)

    def routes(_last):
        up = sorted(h for h, s in balancer_servers().items() if s == "UP")
        if _last:
            note(f"balancer routes to {up}, expected {want}")
        return up == want

    with subtest(f"the external balancer routes clients to {', '.join(want)} only"):
        retry(routes, timeout)


# --- faults ---

def cut(a, b, ports=None):
    """Drop the traffic between hosts a and b (all of it, or TCP on the given ports either
    side uses), with iptables rules on a, like a degraded network between the two."""
    for rule in _cut_rules(b, ports):
        a.succeed(f"iptables -I {rule}")


def heal(a, b, ports=None):
    for rule in _cut_rules(b, ports):
        a.succeed(f"iptables -D {rule}")


def _cut_rules(b, ports):
    ip = address(b)
    if not ports:
        return [f"INPUT -s {ip} -j DROP", f"OUTPUT -d {ip} -j DROP"]
    rules = []
    for p in ports:
        rules += [f"INPUT -s {ip} -p tcp --dport {p} -j DROP", f"INPUT -s {ip} -p tcp --sport {p} -j DROP",
                  f"OUTPUT -d {ip} -p tcp --dport {p} -j DROP", f"OUTPUT -d {ip} -p tcp --sport {p} -j DROP"]
    return rules


def wipe_disk(m):
    """Replace m's disk by an empty one (m must be off): the VM's disk image, or the namespace
    driver's host disk, both kept in m.state_dir."""
    import shutil

    for entry in os.listdir(m.state_dir):
        path = os.path.join(m.state_dir, entry)
        shutil.rmtree(path) if os.path.isdir(path) and not os.path.islink(path) else os.unlink(path)


# --- the cluster and its clients ---

def boot(*ms):
    for m in ms:
        m.start()


def cluster_serving(apps=None, timeout=180):
    """Boot the seed topology and wait until clients are served: coordinator quorum, one
    primary and streaming standbys, every engine healthy, the balancer routing to all."""
    apps = apps or [app1, app2]
    with subtest("the cluster boots and serves"):
        boot(coord, balancer, client, *apps)
        for m in [coord, *apps]:
            m.wait_for_unit("triad-coordinator", timeout=60)
        p = primary(apps, timeout=timeout)
        wait_sync_standby(p, [m for m in apps if m is not p], timeout=timeout)
        for m in apps:
            wait_engine_serving(m, timeout=timeout)
        wait_balancer_routes_to(*apps, timeout=60)
        publish_model(apps[0])
        client.wait_until_succeeds(f"PGPASSWORD={ANALYST_PASSWORD} psql -X -At 'host=balancer port={ENGINE_SQL} user={ANALYST} dbname={DATABASE} connect_timeout=3' -c {shlex.quote(WORKLOAD_READ)}", timeout=60)


def publish_model(m):
    """The scenario cube, published through one engine (every engine gets it from the log)."""
    body = shlex.quote(json.dumps(SCENARIO_MODEL))
    client.wait_until_succeeds(f"curl -sf -m 10 -u {ANALYST}:{ANALYST_PASSWORD} -X POST -H 'Content-Type: application/json' -d {body} http://{m.name}:{ENGINE_HTTP}/api/models", timeout=60)


def start_workload():
    with subtest("BI clients query and write through the balancer"):
        client.succeed(
            f"PGPASSWORD={ANALYST_PASSWORD} triad-test-workload start --dir {WORKLOAD_DIR} --host balancer --port {ENGINE_SQL}"
            f" --user {ANALYST} --dbname {DATABASE} --write {shlex.quote(WORKLOAD_WRITE)} --read {shlex.quote(WORKLOAD_READ)}"
        )
        workload_progresses()


def workload_progresses(writes=5, timeout=90):
    """Clients are served again: `writes` more writes get acknowledged."""
    client.succeed(f"triad-test-workload wait --dir {WORKLOAD_DIR} --acked {writes} --timeout {timeout}", timeout=timeout + 30)


def stop_workload():
    return json.loads(client.succeed(f"triad-test-workload stop --dir {WORKLOAD_DIR}"))


def can_take_over(standby, primary):
    """A host that was repaired can lead again: a switchover to it succeeds, the old primary
    follows it, clients are served."""
    with subtest(f"{standby.name} can take over again: a switchover to it succeeds"):
        wait_sync_standby(primary, [standby])
        standby.succeed(f"triadctl switchover --candidate {standby.name} --force --wait 60")
        wait_for_primary(standby)
        wait_for_standby(primary)
        workload_progresses()


# --- a primary that is only slow keeps its role ---

def keeper_history(m):
    return http_json(m.name, KEEPER_API, "/history") or []


def postmaster_started(m):
    """When m's PostgreSQL last started (a fenced and restarted primary shows a new time)."""
    return db_query(m, "SELECT pg_postmaster_start_time()")[0]


def postgres_pids(m):
    """The postmaster of m and its children, as a shell word list (run on m)."""
    return "$(p=$(head -1 /var/lib/triad/postgresql/*/postgres/data/postmaster.pid); echo $p $(pgrep -P $p))"


def check_no_failover(p, history, started, settle=7):
    """After a fault shorter than the lease: p is still the primary, no promotion was recorded.
    `settle` is more than two lease TTLs, so a takeover would have happened by now."""
    with subtest(f"no failover: {p.name} is still the primary"):
        time.sleep(settle)
        now = primary()
        assert now is p, f"the primary moved from {p.name} to {now.name}"
        after = keeper_history(p)
        assert after == history, f"a promotion was recorded: {history} -> {after}"
        restarted = postmaster_started(p) != started
        note(f"{p.name} kept the primary; its PostgreSQL was {'fenced and restarted (the fault came close to the lease deadline)' if restarted else 'never stopped'}")



def primary_keeps_its_role(scenario, title, fault):
    """The no-failover scenarios: with the cluster serving, its synchronous standby in place and
    the workload running, `fault(primary)` runs as the subtest `title(primary)`; then the
    primary must still be the primary, with nothing recorded, clients served, nothing lost."""
    cluster_serving()
    host1, host2 = primary_and_standby()
    wait_sync_standby(host1, [host2])
    start_workload()
    history, started = keeper_history(host1), postmaster_started(host1)
    with subtest(title(host1)):
        fault(host1)
    check_no_failover(host1, history, started)
    workload_progresses()
    finish(scenario, standbys=[host2], engines=[host1, host2])

# --- the end of every scenario ---

def check_one_primary(apps):
    with subtest("exactly one primary"):
        primaries = [m.name for m in apps if keeper_is_primary(m)]
        assert len(primaries) == 1, f"keepers answering /primary: {primaries}"
        writable = [m.name for m in apps if db_query(m, "SELECT pg_is_in_recovery()")[0] == "f"]
        assert writable == primaries, f"PostgreSQL out of recovery on {writable}, keeper primary {primaries}"
        return machine(primaries[0])


def check_never_two_primaries(leader, apps):
    """From the records, not from timing: the keepers' history lists each promotion with its
    timeline and new leader; PostgreSQL's timeline history files on the primary must show
    exactly those switches, and every member must follow the primary's history (a member that
    had gone on writing on an abandoned timeline would not)."""
    with subtest("never two writable primaries (keeper history and PostgreSQL timelines)"):
        history = http_json(leader.name, KEEPER_API, "/history") or []
        timeline = int(db_query(leader, "SELECT timeline_id FROM pg_control_checkpoint()")[0])
        tl_of = {}
        for entry in history:
            tl, leader_name = int(entry[0]), entry[4] if len(entry) > 4 else None
            assert tl not in tl_of, f"timeline {tl} appears twice in the keepers' history: {history}"
            tl_of[tl] = leader_name
        assert timeline == len(history) + 1, f"primary on timeline {timeline} but the keepers recorded {len(history)} promotions: {history}"
        switches = []
        if timeline > 1:
            text = db_query(leader, f"SELECT pg_read_file('pg_wal/{timeline:08X}.history')")
            switches = [line.split("\t") for line in text if line.strip() and not line.startswith("#")]
        assert [int(s[0]) for s in switches] == list(range(1, timeline)), f"timeline history of the primary: {switches}"
        for m in apps:
            if m is leader:
                continue
            tl = int(db_query(m, "SELECT timeline_id FROM pg_control_checkpoint()")[0])
            received = db_query(m, "SELECT received_tli FROM pg_stat_wal_receiver")[0]
            assert tl <= timeline and received in (str(timeline), ""), f"{m.name} is on timeline {tl}/{received}, the primary on {timeline}"
        note(f"timelines: primary {leader.name} on {timeline}; promotions recorded: {history}")


def check_acknowledged_writes(summary, engines, timeout=90):
    acked = set(summary["acked"])
    with subtest(f"every acknowledged write ({len(acked)}) is in the database and in every engine"):
        leader = primary()
        logged = {int(x) for x in db_query(leader, LOG_WRITES) if x.strip()}
        lost = sorted(acked - logged)
        assert not lost, f"{len(lost)} acknowledged writes missing from the change log: {lost[:20]}"
        for m in engines:
            missing = []

            def has_all(_last):
                have = {int(x) for x in sql(m.name, ENGINE_WRITES)}
                missing[:] = sorted(acked - have)
                return not missing

            try:
                retry(has_all, timeout)
            except Exception:
                raise AssertionError(f"{len(missing)} acknowledged writes missing on the engine of {m.name}: {missing[:20]}")
        return len(lost)


def check_triadctl_list(leader, standbys):
    with subtest("triadctl list shows the expected members"):
        out = leader.succeed("triadctl list")
        note("triadctl list:\n" + out)
        rows = {}
        for line in out.splitlines():
            cells = [c.strip() for c in line.strip().strip("|+").split("|")]
            if len(cells) >= 4 and cells[1] in {m.name for m in [leader, *standbys]}:
                rows[cells[1]] = (cells[3], cells[4] if len(cells) > 4 else "")
        assert rows.get(leader.name, ("",))[0] == "Leader", f"{leader.name} is not the Leader: {rows}"
        for m in standbys:
            role, state = rows.get(m.name, ("", ""))
            assert role in ("Sync Standby", "Replica") and state == "streaming", f"{m.name}: {role} {state}"


def finish(scenario, standbys, engines):
    """The checks every scenario ends with, then its result line."""
    summary = stop_workload()
    apps = [m for m in (app1, app2, app3) if m.booted]
    leader = check_one_primary(apps)
    check_never_two_primaries(leader, apps)
    lost = check_acknowledged_writes(summary, engines)
    check_triadctl_list(leader, standbys)
    if summary["gaps"]:
        note(f"service gaps (s): {json.dumps({k: [round(b - a, 2) for a, b in v] for k, v in summary['gaps'].items()})}")
    print(f"{scenario}: passed unavailable_s={summary['unavailable_s']} acked_writes={len(summary['acked'])} lost_writes={lost}")
