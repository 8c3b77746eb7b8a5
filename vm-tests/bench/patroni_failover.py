#!/usr/bin/env python3
"""Patroni's side of scripts/bench-failover: host-loss failovers of a two-node Patroni 4.1 +
three-member etcd cluster with synchronous replication, behind HAProxy on Patroni's REST
checks, on private loopback addresses of this machine; the same client workload as Triad's
scenarios (vm-tests/lib/triad-test-workload: a fresh psql connection per numbered write).

  patroni_failover.py --runs N --profile default|tuned --patroni VENV/bin/patroni --work DIR

Each run: the primary's "host" (its Patroni and PostgreSQL, on their own loopback address) is
cut off first (iptables DROP of that address, so peers get no FIN or RST: a power cut), then
its processes are killed; the time from the kill to the first write acknowledged through
HAProxy is measured; then the address is given back and the node restarted (it rejoins with
pg_rewind) before the next run. After the last run every acknowledged number is looked up in
the database. Last line: `BENCH patroni_PROFILE failover_s=[...] lost_writes=N`.

Profiles: `default` is Patroni's defaults (ttl 30, loop_wait 10, retry_timeout 10) and the
HAProxy check line of Patroni's documentation (inter 3s fall 3 rise 2); `tuned` is as short as
Patroni allows (ttl 20, loop_wait 1, retry_timeout 3: its validator's minimums) with Triad's
check cadence (inter 1s, fastinter/downinter 250ms, fall 2, rise 1).
"""

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKLOAD = HERE.parent / "lib" / "triad-test-workload"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PROFILES = {
    "default": {"dcs": {"ttl": 30, "loop_wait": 10, "retry_timeout": 10}, "check": "inter 3s fall 3 rise 2"},
    "tuned": {"dcs": {"ttl": 20, "loop_wait": 1, "retry_timeout": 3}, "check": "inter 1s fastinter 250ms downinter 250ms fall 2 rise 1"},
}


def log(msg):
    print(f"[patroni {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def http(url, timeout=1.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except Exception:
        return 0


def wait(what, cond, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.2)
    raise SystemExit(f"patroni bench: {what} not within {timeout} s")


class Bench:
    def __init__(self, a):
        self.a = a
        self.work = Path(a.work)
        self.block = f"127.{random.randint(100, 199)}.{random.randint(1, 250)}"
        self.etcd = [f"{self.block}.{i}" for i in (1, 2, 3)]
        self.nodes = {"pg1": f"{self.block}.11", "pg2": f"{self.block}.12"}
        self.lb = f"{self.block}.20"
        self.procs = {}
        self.dropped = set()
        self.profile = PROFILES[a.profile]

    # --- processes ---
    def spawn(self, name, argv, user=None):
        logf = open(self.work / f"{name}.log", "a")
        if user:
            argv = ["runuser", "-u", user, "--"] + argv
        self.procs[name] = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, cwd=self.work)

    def kill(self, name):
        p = self.procs.pop(name, None)
        if p and p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()

    def start_etcd(self):
        initial = ",".join(f"e{i}=http://{ip}:2380" for i, ip in enumerate(self.etcd))
        for i, ip in enumerate(self.etcd):
            self.spawn(f"etcd{i}", ["etcd", "--name", f"e{i}", "--data-dir", str(self.work / f"etcd{i}"),
                                    "--listen-client-urls", f"http://{ip}:2379", "--advertise-client-urls", f"http://{ip}:2379",
                                    "--listen-peer-urls", f"http://{ip}:2380", "--initial-advertise-peer-urls", f"http://{ip}:2380",
                                    "--initial-cluster", initial, "--initial-cluster-state", "new", "--initial-cluster-token", "bench"])

    def patroni_config(self, name, ip):
        home = self.work / name
        home.mkdir(exist_ok=True)
        shutil.chown(home, "postgres", "postgres")
        cfg = {
            "scope": "bench", "name": name,
            "restapi": {"listen": f"{ip}:8008", "connect_address": f"{ip}:8008"},
            "etcd3": {"hosts": [f"{ip}:2379" for ip in self.etcd]},
            "bootstrap": {
                "dcs": dict(self.profile["dcs"], synchronous_mode=True, postgresql={
                    "use_pg_rewind": True,
                    "parameters": {"wal_log_hints": "on", "max_wal_senders": 10, "max_replication_slots": 10},
                }),
                "initdb": ["data-checksums"],
            },
            "postgresql": {
                "listen": f"{ip}:5432", "connect_address": f"{ip}:5432",
                "data_dir": str(home / "data"), "bin_dir": str(PG_BIN), "pgpass": str(home / "pgpass"),
                "authentication": {"superuser": {"username": "postgres", "password": "bench"},
                                   "replication": {"username": "replicator", "password": "bench"},
                                   "rewind": {"username": "postgres", "password": "bench"}},
                "pg_hba": ["local all all trust", "host all all 127.0.0.0/8 trust", "host replication all 127.0.0.0/8 trust"],
                "parameters": {"unix_socket_directories": str(home)},
            },
        }
        path = home / "patroni.yml"
        path.write_text(json.dumps(cfg, indent=1))  # JSON is YAML
        return path

    def start_node(self, name):
        self.spawn(name, [self.a.patroni, str(self.work / name / "patroni.yml")], user="postgres")

    def start_haproxy(self):
        servers = "".join(f"    server {n} {ip}:5432 maxconn 100 check port 8008\n" for n, ip in self.nodes.items())
        cfg = (f"global\n    maxconn 200\n\ndefaults\n    mode tcp\n    timeout connect 4s\n    timeout client 30m\n"
               f"    timeout server 30m\n    timeout check 1s\n\nlisten primary\n    bind {self.lb}:5000\n    option httpchk\n"
               f"    http-check send meth GET uri /primary\n    http-check expect status 200\n"
               f"    default-server {self.profile['check']} on-marked-down shutdown-sessions\n{servers}")
        (self.work / "haproxy.cfg").write_text(cfg)
        self.spawn("haproxy", ["haproxy", "-f", str(self.work / "haproxy.cfg")])

    # --- the power cut ---
    def cut(self, ip):
        for rule in (["-s", ip], ["-d", ip]):
            subprocess.run(["iptables", "-I", "INPUT", *rule, "-j", "DROP"], check=True)
        self.dropped.add(ip)

    def reconnect(self, ip):
        for rule in (["-s", ip], ["-d", ip]):
            subprocess.run(["iptables", "-D", "INPUT", *rule, "-j", "DROP"], check=False)
        self.dropped.discard(ip)

    def power_cut(self, name):
        self.cut(self.nodes[name])
        self.kill(name)
        # PostgreSQL was Patroni's child in the same session; anything left of it dies too.
        subprocess.run(["pkill", "-KILL", "-f", f"{self.work / name / 'data'}"], check=False)

    # --- cluster state ---
    def status(self, name, path):
        return http(f"http://{self.nodes[name]}:8008{path}")

    def leader(self):
        found = [n for n in self.nodes if self.status(n, "/primary") == 200]
        return found[0] if len(found) == 1 else None

    def healthy(self):
        l = self.leader()
        other = [n for n in self.nodes if n != l]
        return l is not None and all(self.status(n, "/sync") == 200 for n in other)

    def workload(self, *args):
        env = dict(os.environ, PGPASSWORD="bench")
        return subprocess.run([sys.executable, str(WORKLOAD), *args], env=env, check=True, capture_output=True, text=True).stdout

    def summary(self):
        return json.loads(self.workload("summary", "--dir", str(self.work / "workload")))

    def acked_after(self, t):
        ops = [json.loads(line) for line in (self.work / "workload" / "ops.jsonl").read_text().splitlines() if line.strip()]
        ok = [o["t1"] for o in ops if o["k"] == "write" and o["ok"] and o["t0"] >= t]
        return min(ok) if ok else None

    def run(self):
        self.start_etcd()
        for n, ip in self.nodes.items():
            self.patroni_config(n, ip)
        self.start_node("pg1")
        wait("pg1 primary", lambda: self.status("pg1", "/primary") == 200, 120)
        self.start_node("pg2")
        wait("a synchronous standby", self.healthy, 180)
        self.start_haproxy()
        psql = ["psql", "-X", "-q", "-h", self.lb, "-p", "5000", "-U", "postgres", "-d", "postgres"]
        wait("HAProxy routing", lambda: subprocess.run(psql + ["-c", "CREATE TABLE IF NOT EXISTS writes (n bigint)"], capture_output=True).returncode == 0, 60)
        self.workload("start", "--dir", str(self.work / "workload"), "--host", self.lb, "--port", "5000", "--user", "postgres",
                      "--dbname", "postgres", "--write", "INSERT INTO writes (n) VALUES ({n})", "--read", "SELECT count(*) FROM writes",
                      "--op-timeout", "6")
        self.workload("wait", "--dir", str(self.work / "workload"), "--acked", "5", "--timeout", "60")
        times = []
        for i in range(self.a.runs):
            wait("a synchronous standby", self.healthy, 300)
            self.workload("wait", "--dir", str(self.work / "workload"), "--acked", "5", "--timeout", "60")
            victim = self.leader()
            killed = time.time()
            self.power_cut(victim)
            wait("a write acknowledged after the kill", lambda: self.acked_after(killed) is not None, 240)
            took = self.acked_after(killed) - killed
            times.append(round(took, 2))
            log(f"run {i + 1}/{self.a.runs}: {victim} lost; first acknowledged write after {took:.2f} s")
            self.reconnect(self.nodes[victim])
            self.start_node(victim)
        s = json.loads(self.workload("stop", "--dir", str(self.work / "workload")))
        wait("a leader", lambda: self.leader() is not None, 120)
        out = subprocess.run(psql + ["-At", "-c", "SELECT n FROM writes"], capture_output=True, text=True, check=True).stdout
        have = {int(x) for x in out.split()}
        lost = sorted(set(s["acked"]) - have)
        log(f"acknowledged writes {len(s['acked'])}, lost {len(lost)} {lost[:10]}")
        print(f"BENCH patroni_{self.a.profile} failover_s={json.dumps(times)} lost_writes={len(lost)}", flush=True)

    def cleanup(self):
        for ip in list(self.dropped):
            self.reconnect(ip)
        for name in list(self.procs):
            self.kill(name)
        for n in self.nodes:
            subprocess.run(["pkill", "-KILL", "-f", f"{self.work / n / 'data'}"], check=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--profile", choices=sorted(PROFILES), default="default")
    ap.add_argument("--patroni", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    a.patroni = os.path.abspath(a.patroni)
    Path(a.work).mkdir(parents=True, exist_ok=True)
    os.chmod(a.work, 0o755)
    b = Bench(a)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        b.run()
    finally:
        b.cleanup()


if __name__ == "__main__":
    main()
