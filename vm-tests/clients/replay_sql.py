#!/usr/bin/env python3
"""Every statement the drivers send, replayed against Triad: which of them the engine refuses.

A driver stops at the first statement the server refuses, so a driver suite run against Triad
shows one refusal per check. Run the suite against a plain PostgreSQL holding the same rows
(`drivers_test.py --plain-postgres --report pg.json`): its report lists every statement each
driver sent, in order, with the parameter values it bound. This replays them check by check,
in order on one connection per check, against Triad's balancer, and prints each statement that
PostgreSQL answered and Triad refuses, with Triad's SQLSTATE and message.

    vm-tests/clients/replay_sql.py pg.json [--host 127.0.0.14] [--port 5433] [--only PREFIX,...] [--markdown]
"""

import argparse
import json
import os
import sys
from pathlib import Path

try:
    from psycopg import pq
except ImportError:
    _venv = Path(__file__).resolve().parents[2] / ".venv-test/bin/python3"
    if _venv.exists() and sys.executable != str(_venv):
        os.execv(_venv, [str(_venv), *sys.argv])
    sys.exit("needs psycopg: see scripts/requirements-test.txt")


def run(conn, sql, params):
    if params is None and "$1" not in sql:
        res = conn.exec_(sql.encode())
    else:
        res = conn.exec_params(sql.encode(), [None if v is None else v.encode() for v in (params or [])])
    while res.status == pq.ExecStatus.COPY_OUT:  # drain COPY ... TO STDOUT
        n, _ = conn.get_copy_data(0)
        if n < 0:
            res = conn.get_result()
            while conn.get_result() is not None:
                pass
            break
    if res.status == pq.ExecStatus.FATAL_ERROR:
        return (res.error_field(pq.DiagnosticField.SQLSTATE) or b"").decode(), (res.error_field(pq.DiagnosticField.MESSAGE_PRIMARY) or b"").decode()
    return None


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("report")
    p.add_argument("--host", default="127.0.0.14")
    p.add_argument("--port", type=int, default=5433)
    p.add_argument("--user", default="analyst")
    p.add_argument("--password", default="demo-analyst")
    p.add_argument("--only", default="")
    p.add_argument("--markdown", action="store_true")
    a = p.parse_args()
    only = [s for s in a.only.split(",") if s]
    refused_total, sent_total, skipped = 0, 0, 0
    for check in json.loads(Path(a.report).read_text()):
        name = check["check"]
        if only and not any(name.startswith(o) for o in only):
            continue
        conn = pq.PGconn.connect(f"host={a.host} port={a.port} user={a.user} password={a.password} dbname=triad connect_timeout=5".encode())
        if conn.status != pq.ConnStatus.OK:
            sys.exit(f"connecting: {conn.error_message.decode()}")
        refused, seen = [], set()
        for s in check.get("sent", []):
            if s.get("failed"):  # PostgreSQL refused it too (the suite's deliberate errors)
                continue
            if s.get("params") is None and "$1" in s["sql"]:
                skipped += 1  # parameters bound in binary format: not replayed
                continue
            sent_total += 1
            err = run(conn, s["sql"], s.get("params"))
            if err and err[0] != "25P02" and (s["sql"], err) not in seen:
                seen.add((s["sql"], err))
                refused.append((s["sql"], s.get("params"), err))
        conn.finish()
        refused_total += len(refused)
        if not refused:
            continue
        if a.markdown:
            print(f"\n#### {name}: {len(refused)} statement(s) refused\n")
            for sql, params, (code, msg) in refused:
                print(f"- `{' '.join(sql.split())}`" + (f" (parameters {params})" if params else "") + f"\n  → `{code}: {' '.join(msg.split())}`")
        else:
            print(f"-- {name}: {len(refused)} refused")
            for sql, params, (code, msg) in refused:
                print(f"   {' '.join(sql.split())}" + (f"   -- parameters {params}" if params else "") + f"\n      -> {code}: {' '.join(msg.split())}")
    print(f"\nreplay: {refused_total} refused of {sent_total} statements PostgreSQL answered ({skipped} with binary parameters not replayed)")


if __name__ == "__main__":
    main()
