#!/usr/bin/env python3
"""The driver suite against a plain PostgreSQL, then what the drivers sent replayed against Triad.

Starts a throw-away PostgreSQL on 127.0.0.1 (a free port; as root it runs as the `postgres`
user), loads the demo's sample rows into sales.revenue (the cube's columns; key: its dimensions)
and creates drivers.tx, runs vm-tests/clients/drivers_test.py against it (every check must pass:
the suite's self-test), then vm-tests/clients/replay_sql.py against a running Triad (the demo's
balancer by default): every statement a driver sends that Triad refuses. Stops and removes the
PostgreSQL at the end.

    vm-tests/clients/drivers_vs_postgres.py [--cells 100000] [--no-replay] [--markdown] [--host 127.0.0.14]
"""

import argparse
import importlib.machinery
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
try:
    import psycopg
except ImportError:
    _venv = ROOT / ".venv-test/bin/python3"
    if _venv.exists() and sys.executable != str(_venv):
        os.execv(_venv, [str(_venv), *sys.argv])
    sys.exit("needs psycopg: see scripts/requirements-test.txt")

USER, PASSWORD = "analyst", "demo-analyst"


def pg_bin():
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    cands = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    if not cands:
        sys.exit("needs PostgreSQL's server binaries (Debian: postgresql)")
    return cands[-1].parent


def as_pg_user(cmd):
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cells", type=int, default=100000)
    p.add_argument("--host", default="127.0.0.14", help="Triad's balancer, for the replay")
    p.add_argument("--port", type=int, default=5433)
    p.add_argument("--no-replay", action="store_true")
    p.add_argument("--markdown", action="store_true")
    a = p.parse_args()
    loader = importlib.machinery.SourceFileLoader("triad_demo", str(ROOT / "scripts/demo"))
    demo = importlib.util.module_from_spec(importlib.util.spec_from_loader("triad_demo", loader))
    loader.exec_module(demo)

    tmp = Path(tempfile.mkdtemp(prefix="triad-drivers-pg-"))
    os.chmod(tmp, 0o777)
    data = tmp / "data"
    (tmp / "pw").write_text(PASSWORD + "\n")
    os.chmod(tmp / "pw", 0o644)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    bindir = pg_bin()
    started = False
    try:
        subprocess.run(as_pg_user([str(bindir / "initdb"), "-D", str(data), "-U", USER, "-A", "md5", f"--pwfile={tmp / 'pw'}"]),
                       check=True, capture_output=True)
        subprocess.run(as_pg_user([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(tmp / "log"), "-w", "-o", f"-h 127.0.0.1 -p {port} -k {tmp}", "start"]),
                       check=True, capture_output=True)
        started = True
        dsn = f"host=127.0.0.1 port={port} user={USER} password={PASSWORD}"
        with psycopg.connect(dsn + " dbname=postgres", autocommit=True) as c:
            c.execute("CREATE DATABASE triad")
        with psycopg.connect(dsn + " dbname=triad", autocommit=True) as c:
            c.execute("CREATE SCHEMA sales")
            c.execute("CREATE TABLE sales.revenue (region text, product text, month text, quarter text, year text, amount numeric, units integer,"
                      " PRIMARY KEY (region, product, month))")
            c.execute("CREATE SCHEMA drivers")
            c.execute("CREATE TABLE drivers.tx (batch text, item text, units integer, amount numeric, PRIMARY KEY (batch, item))")
            with c.cursor().copy("COPY sales.revenue (region, product, month, quarter, year, amount, units) FROM STDIN") as cp:
                for r in demo.sample_rows(a.cells):
                    q = demo.QUARTER[r["month"]]
                    cp.write_row((r["region"], r["product"], r["month"], q, q[:4], r["amount"], r["units"]))
        print(f"== the driver suite against PostgreSQL on 127.0.0.1:{port} (its self-test)", flush=True)
        report = tmp / "report.json"
        suite = subprocess.run([sys.executable, str(HERE / "drivers_test.py"), "--plain-postgres", "--host", "127.0.0.1", "--port", str(port),
                                "--app1", "127.0.0.1", "--app2", "127.0.0.1", "--report", str(report)])
        if not a.no_replay:
            print(f"\n== what the drivers sent, replayed against Triad at {a.host}:{a.port}", flush=True)
            subprocess.run([sys.executable, str(HERE / "replay_sql.py"), str(report), "--host", a.host, "--port", str(a.port),
                            *(["--markdown"] if a.markdown else [])])
        return suite.returncode
    finally:
        if started:
            subprocess.run(as_pg_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]), capture_output=True)
            time.sleep(0.5)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
