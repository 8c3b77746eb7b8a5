#!/usr/bin/env python3
"""Self-test of the namespace driver with real programs standing in for Triad's daemons
(selftest/services.toml): a three-member etcd cluster, PostgreSQL on two app hosts behind the
balancer's HAProxy (rendered by the real `triadctl haproxy-config`), a client.

It checks what the scenarios rely on: addresses, names and isolation of the hosts; the unit
states systemd would report; restart on failure with NRestarts; StartLimitBurst ending in
start-limit-hit (and wait_for_unit raising on it); an OOM kill in a memory cgroup seen as
Result=oom-kill and restarted; KillMode=process keeping a child alive; crash() killing every
process of a host while its disk stays, start() bringing it back; wiping a disk; block()/
unblock(); an iptables cut between two hosts; a switched cluster description reloading HAProxy;
clean shutdown; and that cleanup leaves no namespace, cgroup or process behind.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import nsdriver  # noqa: E402

ST = HERE / "selftest"
PSQL = "psql -X -A -t -h balancer -p 5433 -U postgres -d postgres"


def alive(pid):
    """A process that exists and is not a zombie waiting to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def check(condition, what):
    if not condition:
        raise AssertionError(what)
    print(f"  ok: {what}", file=sys.stderr)


def served_by(client, n=6):
    """The app hosts the balancer sent n fresh connections to."""
    out = client.succeed(" ; ".join([f"{PSQL} -c 'select inet_server_addr()'"] * n))
    return {line.strip() for line in out.split() if line.strip()}


def test(d, m):
    app1, app2, balancer, client, coord = (m[n] for n in ("app1", "app2", "balancer", "client", "coord"))

    with d.subtest("hosts: addresses in name order, FQDNs, own host name, isolated network"):
        d.start_all()
        check(app1.succeed("hostname").strip() == "app1", "host name is the node name")
        check("192.168.1.5 coord.triad.test coord" in client.succeed("cat /etc/hosts"), "/etc/hosts names every node with its FQDN")
        check(client.succeed("getent hosts app2.triad.test").split()[0] == "192.168.1.2", "FQDNs resolve in the host")
        routes = app1.succeed("ip -4 route").strip().splitlines()
        check(routes == ["192.168.1.0/24 dev eth1 proto kernel scope link src 192.168.1.1"], f"only the test VLAN is routed: {routes}")
        check("192.168.1." not in subprocess.run(["ip", "-4", "addr"], capture_output=True, text=True).stdout, "no test address in the root namespace")
        app1.succeed("echo private > /tmp/mine")
        app2.fail("test -e /tmp/mine")
        check(True, "each host has its own /tmp")

    with d.subtest("units: start in order, become active, answer systemctl"):
        for h in (app1, app2, coord):
            h.wait_for_unit("etcd.service", timeout=60)
        coord.wait_until_succeeds("ETCDCTL_API=3 etcdctl --endpoints=app1:2379,app2:2379,coord:2379 endpoint health", timeout=60)
        app1.wait_for_unit("db", timeout=60)
        check(app1.get_unit_property("db", "NRestarts") == "0", "NRestarts=0 after boot")
        check(app1.succeed("systemctl show db -P ActiveState -P SubState").split() == ["active", "running"], "systemctl show -P")
        check(int(app1.succeed("systemctl show db -P MainPID")) > 0, "MainPID is set")
        app1.fail("systemctl is-active no-such-unit")
        balancer.wait_for_unit("haproxy")
        client.wait_until_succeeds(f"{PSQL} -c 'select 1'", timeout=60)
        client.wait_until_succeeds(f"test $( ({PSQL} -c 'select inet_server_addr()'; {PSQL} -c 'select inet_server_addr()'; {PSQL} -c 'select inet_server_addr()') | sort -u | wc -l) = 2", timeout=30)
        check(True, "the balancer's HAProxy (rendered by triadctl) spreads SQL over both app hosts")
        app1.wait_for_open_port(8080, "app1")
        client.wait_for_open_port(8080, "app2.triad.test")

    with d.subtest("StartLimitBurst ends the restarts of a failing unit; wait_for_unit raises"):
        try:
            coord.wait_for_unit("flaky", timeout=30)
            raise AssertionError("wait_for_unit did not raise on a failed unit")
        except nsdriver.RequestedAssertionFailed as e:
            check("failed" in str(e), f"wait_for_unit raised: {e}")
        check(coord.get_unit_property("flaky", "Result") == "start-limit-hit", "Result=start-limit-hit")
        check(coord.get_unit_property("flaky", "NRestarts") == "3", "NRestarts=3: the fourth start (third restart) hit the limit of three starts")
        check("failing on purpose" in coord.succeed("journalctl -u flaky.service"), "the unit's output is in its journal")

    with d.subtest("OOM kill in the unit's memory cgroup: Result=oom-kill, restarted, NRestarts counts"):
        app1.wait_for_unit("memhog")
        app1.succeed("touch /tmp/oom-now")
        app1.wait_until_succeeds("journalctl -u memhog | grep -q \"Failed with result 'oom-kill'\"", timeout=30)
        app1.wait_until_succeeds("test $(systemctl show memhog -P NRestarts) = 1", timeout=10)
        app1.wait_for_unit("memhog", timeout=10)
        check(app1.get_unit_property("memhog", "Result") == "success", "Result is reset when the unit runs again (as systemd does)")
        check("killed by the OOM killer" in app1.succeed("journalctl -u memhog"), "the journal says the OOM killer struck")

    with d.subtest("KillMode=process keeps the child; control-group kills all"):
        app1.wait_for_unit("keeperish")
        child = app1.succeed("cat /tmp/keeperish-child").strip()
        app1.succeed("systemctl kill --kill-whom=main --signal=KILL keeperish")
        app1.wait_until_succeeds("test $(systemctl show keeperish -P NRestarts) = 1", timeout=10)
        app1.succeed(f"kill -0 {child}")
        check(True, "a crash of the main process restarted it and left its child running")
        app1.succeed("systemctl restart keeperish")
        app1.succeed(f"kill -0 {child}")
        check(app1.get_unit_property("keeperish", "NRestarts") == "0", "a manual restart flushes NRestarts")
        pids = app1.succeed("systemctl show health -P MainPID").strip()
        app1.succeed("systemctl stop health")
        app1.fail(f"kill -0 {pids}")
        check(app1.get_unit_property("health", "ActiveState") == "inactive", "stopped unit is inactive")
        app1.succeed("systemctl start health")
        app1.wait_for_unit("health")

    with d.subtest("iptables cut between two chosen hosts"):
        app1.succeed("iptables -I INPUT -s app2 -j DROP", "iptables -I OUTPUT -d app2 -j DROP")
        app1.fail("timeout 2 bash -c '</dev/tcp/app2/5433'")
        app1.succeed("timeout 2 bash -c '</dev/tcp/coord/2379'")
        app1.succeed("iptables -D INPUT -s app2 -j DROP", "iptables -D OUTPUT -d app2 -j DROP")
        app1.succeed("timeout 2 bash -c '</dev/tcp/app2/5433'")

    with d.subtest("block()/unblock(): the host keeps running without its network"):
        coord.block()
        app1.wait_until_fails("timeout 1 bash -c '</dev/tcp/coord/2379'", timeout=10)
        coord.succeed("timeout 2 bash -c '</dev/tcp/coord/2379'")
        coord.unblock()
        app1.wait_until_succeeds("timeout 1 bash -c '</dev/tcp/coord/2379'", timeout=10)
        coord.wait_until_succeeds("ETCDCTL_API=3 etcdctl --endpoints=app1:2379,app2:2379,coord:2379 endpoint health", timeout=30)

    with d.subtest("crash(): every process of the host dies, the balancer routes around it; start() keeps state"):
        client.succeed(f"{PSQL} -h app1 -c 'create table kept (x int)'")
        for h in ("app1", "app2"):
            client.succeed(f"{PSQL} -h {h} -c 'create table w (n int primary key)'")
        client.succeed(f"triad-test-workload start --dir /tmp/wl --user postgres --dbname postgres --write 'insert into w values ({{n}})' --read 'select count(*) from w'")
        client.succeed("triad-test-workload wait --dir /tmp/wl --acked 5 --timeout 30")
        pids = d.cgroups.procs(app1.cgroup)
        check(len(pids) > 5, f"app1 runs {len(pids)} processes")
        # An open TCP connection to the crashing host: a power cut sends no FIN or RST.
        client.succeed("(python3 -c \"" + PEER_WAITS.replace('"', '\\"') + "\" > /tmp/peer.txt 2>&1 &)")
        client.wait_until_succeeds("test -e /tmp/peer-connected", timeout=10)
        app1.crash()
        check(d.cgroups.procs(app1.cgroup) == [], "no process of app1 is left")
        check(not any(alive(p) for p in pids), "all of app1's processes are gone")
        client.wait_until_succeeds("test -s /tmp/peer.txt", timeout=20)
        peer = client.succeed("cat /tmp/peer.txt").strip()
        check(peer == "timeout", f"a peer's open connection to the crashed host saw no FIN or RST, it timed out ({peer})")
        client.wait_until_succeeds("curl -sf 'http://balancer:8404/stats;csv' | grep -q '^engine_sql,app1,.*,DOWN'", timeout=30)
        check(served_by(client) == {"192.168.1.2"}, "once HAProxy marked app1 down, it sends everything to app2")
        client.succeed("triad-test-workload wait --dir /tmp/wl --acked 5 --timeout 30")
        summary = json.loads(client.succeed("triad-test-workload stop --dir /tmp/wl"))
        check(summary["unavailable_s"] > 1, f"the workload measured the outage of the crash: {summary['unavailable_s']} s")
        check(len(summary["acked"]) >= 10 and summary["reads_ok"] > 0, f"{len(summary['acked'])} writes acknowledged, {summary['reads_ok']} reads")
        app1.start()
        app1.wait_for_unit("db", timeout=60)
        client.wait_until_succeeds(f"{PSQL} -h app1 -c 'select * from kept'", timeout=60)
        check(True, "app1's disk survived the crash")
        rows = set()
        for h in ("app1", "app2"):
            rows |= {int(x) for x in client.succeed(f"{PSQL} -h {h} -c 'select n from w'").split()}
        check(set(summary["acked"]) <= rows, f"every acknowledged write is in one of the two databases ({len(rows)} rows)")
        coord.wait_until_succeeds("ETCDCTL_API=3 etcdctl --endpoints=app1:2379,app2:2379,coord:2379 endpoint health", timeout=60)
        check(app1.get_unit_property("db", "NRestarts") == "0", "a fresh boot starts counting from zero")

    with d.subtest("a changed cluster description: each host restarts, reloads, stops exactly what switch-to-configuration would"):
        client.wait_until_succeeds(f"test $( (for i in 1 2 3 4; do {PSQL} -c 'select inet_server_addr()'; done) | sort -u | wc -l) = 2", timeout=30)
        mainpid = lambda m, u: m.get_unit_property(u, "MainPID")  # noqa: E731
        before = {u: mainpid(app1, u) for u in ("etcd", "db", "health", "keeperish", "cfgreader")}
        # (flaky, failed on purpose, is started again as multi-user.target wants it, and fails:
        # switch-to-configuration then exits non-zero too)
        _, out = app1.execute("triad-switch-config app1-only 2>&1")
        after = {u: mainpid(app1, u) for u in before}
        check(after["cfgreader"] != before["cfgreader"] and "restarting the following units: cfgreader.service" in out,
              f"app1: the unit naming the cluster file was restarted ({out.strip()})")
        check(all(after[u] == before[u] for u in before if u != "cfgreader"), "app1: the units whose definition did not change were left alone")
        etcd2 = mainpid(app2, "etcd")
        _, out = app2.execute("triad-switch-config app1-only 2>&1")
        check(app2.get_unit_property("db", "ActiveState") == "inactive" and "stopping the following units: db.service" in out,
              f"app2, no longer an app host: its app units were stopped ({out.strip()})")
        check(mainpid(app2, "etcd") == etcd2, "app2: its coordinator unit was left alone")
        pid = balancer.get_unit_property("haproxy", "MainPID")
        out = balancer.succeed("triad-switch-config app1-only")
        check(balancer.get_unit_property("haproxy", "MainPID") == pid and "reloading the following units: haproxy.service" in out,
              f"HAProxy was reloaded, not restarted ({out.strip()})")
        client.wait_until_succeeds(f"test \"$( (for i in 1 2 3 4; do {PSQL} -c 'select inet_server_addr()'; done) | sort -u)\" = 192.168.1.1", timeout=30)
        check(True, "after the reload the balancer routes to app1 only")

    with d.subtest("wiping a host's disk, like deleting a VM's disk image"):
        app2.crash()
        for entry in Path(app2.state_dir).iterdir():
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        app2.start()
        app2.wait_for_unit("db", timeout=60)
        client.wait_until_succeeds(f"{PSQL} -h app2 -c 'select 1'", timeout=60)
        client.fail(f"{PSQL} -h app2 -c 'select * from kept'")
        check(True, "the wiped host came back empty")

    with d.subtest("shutdown(): units stopped cleanly"):
        balancer.shutdown()
        client.fail(f"PGCONNECT_TIMEOUT=3 {PSQL} -c 'select 1'")
        check(not balancer.booted and d.cgroups.procs(balancer.cgroup) == [], "the balancer is off")
        copied = d.out_dir / "selftest-copy.txt"
        copied.write_text("from the driver\n")
        client.copy_from_host(str(copied), "/tmp/in/copy.txt")
        check(client.succeed("cat /tmp/in/copy.txt") == "from the driver\n", "copy_from_host")


# Connects to app1's PostgreSQL, then waits for a byte: "timeout" if nothing (no FIN, no RST)
# comes within 8 s, "eof"/"error ..." otherwise.
PEER_WAITS = (
    "import socket\n"
    "s = socket.create_connection(('app1', 5433), 3)\n"
    "open('/tmp/peer-connected', 'w').close()\n"
    "s.settimeout(8)\n"
    "try:\n"
    "    print('eof' if s.recv(1) == b'' else 'data')\n"
    "except socket.timeout:\n"
    "    print('timeout')\n"
    "except OSError as e:\n"
    "    print('error', e)\n"
)


def main():
    t0 = time.monotonic()
    nodes = ["app1", "app2", "balancer", "client", "coord"]
    d = nsdriver.Driver(
        nodes=nodes,
        descriptions={"default": ST / "cluster.toml", "app1-only": ST / "cluster-app1-only.toml"},
        services=ST / "services.toml",
        engine_memory_max="64M",
        global_timeout=600,
        out_dir=nsdriver.REPO / ".scenario-runs" / (time.strftime("%Y%m%d-%H%M%S") + "-selftest"),
    )
    supervisors = []
    ok = False
    try:
        m = {x.name: x for x in d.machines}
        test(d, m)
        supervisors = [x.pid for x in d.machines if x.pid]
        ok = True
    finally:
        problems = d.cleanup()
    with d.subtest("cleanup leaves nothing behind"):
        check(problems == [], f"cleanup reported no problems {problems}")
        left = [line for line in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.splitlines() if line.startswith(nsdriver.PREFIX)]
        check(left == [], f"no test namespace is left {left}")
        check(not d.cgroups.base.exists(), f"no cgroup is left ({d.cgroups.base})")
        check(not any(alive(p) for p in supervisors), "no supervisor process is left")
        check(not any(Path("/etc/netns").glob(nsdriver.PREFIX + "*")) if Path("/etc/netns").exists() else True, "no /etc/netns entry is left")
    print(f"selftest: {'passed' if ok else 'FAILED'} in {time.monotonic() - t0:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
