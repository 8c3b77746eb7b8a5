#!/usr/bin/env python3
"""BI-style queries against the engine (through the balancer) and against a real PostgreSQL
holding the same rows: equal column names, equal column type OIDs, equal values.

Publishes its own model `bidiff` (cube `facts`: region, product with a `category` level,
month with `quarter` and `year` levels, channel; measures `units` integer and `amount`
decimal, some NULL) on the engine, writes a few thousand deterministic cells (seeded RNG),
starts a throwaway PostgreSQL (initdb into a temporary directory, 127.0.0.1, a free port),
loads the same rows into `bidiff.facts` there with the types the engine presents (text,
bigint, double precision), runs every query of bi_queries.sql on both and compares:

- the same column names and the same type OID per column (psycopg's description type_code);
- the same rows in the same order (every query orders completely): floats equal within a
  relative 1e-9, everything else equal after psycopg's decoding (same Python type, same value;
  a numeric also with the same scale).

One line per query (PASS, or FAIL with the reason). Queries known to fail today are listed,
each with a reason, in bi_known_failures.toml (known_failures.py): a listed query that fails
prints KNOWN and counts apart; a listed query that passes prints FIXED and counts as failed
(remove it from the list). The last line is `bi-differential: N passed, M failed` (M: unlisted
failures and listed queries that pass), after a line counting the known failures; exit status
1 if M is not 0.

The engine is asked over the simple and the extended protocol (`--protocols`), each answer
compared. Before the last line, a summary counts the failed queries per cause.

    vm-tests/clients/bi_differential.py [--host 127.0.0.14] [--port 5433] [--http http://127.0.0.11:8080]
        [--seed 20261203] [--only q012,q040] [--protocols simple,extended,binary] [--verbose]
        [--json results.json] [--postgres-only]
        [--known-failures FILE | --no-known-failures] [--write-known-failures]

`--postgres-only` runs the queries on the throwaway PostgreSQL alone (no cluster needed), to
check a new query before it is added.
"""

import argparse
import base64
import datetime
import decimal
import json
import math
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

try:
    import psycopg
except ImportError:  # not in this Python: use the test venv that .ci/run creates
    _venv = Path(__file__).resolve().parents[2] / ".venv-test/bin/python3"
    if _venv.exists() and sys.executable != str(_venv):
        os.execv(_venv, [str(_venv), *sys.argv])
    sys.exit("needs psycopg: python3 -m venv .venv-test && .venv-test/bin/pip install -r scripts/requirements-test.txt")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import known_failures  # noqa: E402

MODEL, CUBE = "bidiff", "facts"

# Members with quotes, double quotes, accents, CJK and mixed case: what reaches a BI tool.
REGIONS = ["North", "South", "O'Hare", "Zürich", "São Paulo", "東京", 'The "Loop"', "east"]
PRODUCTS = {
    "Widget": "Hardware", "Gadget \"Pro\"": "Hardware", "Sprocket": "Hardware", "Bolt M4": "Hardware",
    "Café Crème": "Food & Drink", "Earl Grey": "Food & Drink", "Jus d'orange": "Food & Drink", "Matcha 抹茶": "Food & Drink",
    "Kid's Kite": "Toys", "Yo-yo": "Toys", "Δelta Blocks": "Toys", "Puzzle 1000": "Toys",
    "Ledger": "Office", "Stapler": "Office", "Ink (black)": "Office",
}
MONTHS = [f"{y}-{m:02d}" for y in (2025, 2026) for m in range(1, 13)]
QUARTERS = {m: f"{m[:4]}-Q{(int(m[5:]) - 1) // 3 + 1}" for m in MONTHS}
CHANNELS = ["web", "store", "partner"]


def model(measures=("units", "amount")):
    kinds = {"units": "integer", "amount": "decimal"}
    return {"name": MODEL, "cubes": [{
        "name": CUBE,
        "dimensions": [
            {"name": "region"},
            {"name": "product", "members": list(PRODUCTS), "levels": [{"name": "category", "parents": PRODUCTS}]},
            {"name": "month", "members": MONTHS, "levels": [
                {"name": "quarter", "parents": QUARTERS},
                {"name": "year", "parents": {q: q[:4] for q in QUARTERS.values()}}]},
            {"name": "channel", "members": CHANNELS},
        ],
        "measures": [{"name": m, "type": kinds[m], "aggregation": "sum"} for m in measures],
    }]}


# The table as the engine presents the cube (`\d bidiff.facts`): a text column per dimension
# followed by one per level of its hierarchy, then the measures (integer: bigint; decimal is
# stored as a 64-bit float: double precision).
COLUMNS = [("region", "text NOT NULL"), ("product", "text NOT NULL"), ("category", "text"), ("month", "text NOT NULL"),
           ("quarter", "text"), ("year", "text"), ("channel", "text NOT NULL"), ("units", "bigint"), ("amount", "double precision")]


def cells(seed):
    rng = random.Random(seed)
    out = []
    for r in REGIONS:
        for p in PRODUCTS:
            for m in MONTHS:
                for c in CHANNELS:
                    if rng.random() < 0.55:
                        continue
                    units = None if rng.random() < 0.06 else rng.randint(0, 500)
                    amount = None if rng.random() < 0.06 else round(rng.uniform(-25, 2500), 2)
                    out.append({"region": r, "product": p, "month": m, "channel": c, "units": units, "amount": amount})
    return out


def http(url, body=None, timeout=60, user=None):
    """The engine's HTTP API, signed in as `user` (name, password)."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if data else {}
    if user:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode()
    req = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def load_engine(a, rows):
    # Publishing a cube with other measures drops its cells; publishing the real model after it
    # starts from an empty cube, so cells of an earlier run (another seed) cannot linger.
    for m in (model(("units",)), model()):
        status, body = http(f"{a.http}/api/models", {"model": m}, user=(a.user, a.password))
        if status != 200:
            sys.exit(f"bi-differential: publishing the model: HTTP {status}: {body[:500]}")
    for i in range(0, len(rows), 2000):
        status, body = http(f"{a.http}/api/cubes/{MODEL}/{CUBE}/rows", rows[i:i + 2000], timeout=120, user=(a.user, a.password))
        if status != 200:
            sys.exit(f"bi-differential: writing cells: HTTP {status}: {body[:500]}")
    # Every engine behind the balancer must hold every cell before queries start.
    hosts = [h for h in a.engines.split(",") if h]
    deadline = time.monotonic() + 120
    for h in hosts:
        while True:
            try:
                with engine_connect(a, host=h) as c:
                    n = c.execute(f"SELECT count(*) FROM {MODEL}.{CUBE}").fetchone()[0]
                if n == len(rows):
                    break
            except psycopg.Error:
                n = "?"
            if time.monotonic() > deadline:
                sys.exit(f"bi-differential: engine {h} holds {n} cells, not {len(rows)}")
            time.sleep(0.5)


def engine_connect(a, host=None):
    return psycopg.connect(host=host or a.host, port=a.port, user=a.user, password=a.password, dbname="triad",
                           autocommit=True, connect_timeout=5)


class Postgres:
    """A throwaway server: initdb into a temporary directory, 127.0.0.1 on a free port."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="bi-diff-pg-"))
        # Debian keeps initdb and pg_ctl out of PATH, under /usr/lib/postgresql/<version>/bin.
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
        self.bin = found[-1].parent if found else Path(shutil.which("initdb") or "initdb").parent
        self.as_pg = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            shutil.chown(self.dir, "postgres", "postgres")
            self.as_pg = ["runuser", "-u", "postgres", "--"]
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        data = self.dir / "data"
        self.run("initdb", "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        # C.UTF-8: code point order, as the engine (byte order of UTF-8) sorts text; UTC, as the engine.
        opts = f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.dir} -c fsync=off -c timezone=UTC"
        self.run("pg_ctl", "-D", str(data), "-o", opts, "-l", str(self.dir / "log"), "-w", "start")

    def run(self, tool, *args):
        p = subprocess.run([*self.as_pg, str(self.bin / tool), *args], capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"{tool}: {p.stderr.strip() or p.stdout.strip()}")

    def connect(self):
        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True)

    def stop(self):
        try:
            self.run("pg_ctl", "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def load_postgres(c, rows):
    c.execute(f"CREATE SCHEMA {MODEL}")
    c.execute(f"CREATE TABLE {MODEL}.{CUBE} ({', '.join(f'{n} {t}' for n, t in COLUMNS)})")
    year = {q: q[:4] for q in QUARTERS.values()}
    with c.cursor().copy(f"COPY {MODEL}.{CUBE} FROM STDIN") as cp:
        for r in rows:
            q = QUARTERS[r["month"]]
            cp.write_row((r["region"], r["product"], PRODUCTS[r["product"]], r["month"], q, year[q], r["channel"], r["units"], r["amount"]))


def parse_queries(path):
    """Entries: a header line `-- <tool>: <title>`, then the query up to the next header."""
    out, cur = [], None
    for line in Path(path).read_text().splitlines():
        m = re.match(r"^-- (metabase|tableau|powerbi|superset|looker|generic): (.*)$", line)
        if m:
            cur = {"tool": m.group(1), "title": m.group(2).strip(), "sql": []}
            out.append(cur)
        elif cur is not None and line.strip() and not line.startswith("--"):
            cur["sql"].append(line)
    for i, q in enumerate(out, 1):
        q["id"] = f"q{i:03d}"
        q["sql"] = "\n".join(q["sql"]).strip().rstrip(";").strip()
    return out


def run(conn, sql, protocol="simple", timeout=60):
    """(names, oids, rows) or the error's text. `simple`: the simple query protocol (psycopg
    sends a query without parameters as one Query message, as psql and ODBC do); `extended`: a
    prepared statement (Parse, Describe, Bind, Execute, text results, as JDBC does); `binary`:
    the extended protocol with binary results. A query still running after `timeout` seconds is
    cancelled (a cancel request, as psql's ^C)."""
    timer = threading.Timer(timeout, conn.cancel_safe if hasattr(conn, "cancel_safe") else conn.cancel)
    timer.start()
    try:
        cur = conn.cursor()
        if protocol == "binary":
            cur.execute(sql, binary=True)
        else:
            cur.execute(sql, prepare=protocol == "extended")
        if cur.description is None:
            return [], [], []
        return [d.name for d in cur.description], [d.type_code for d in cur.description], cur.fetchall()
    except psycopg.Error as e:
        state = getattr(e, "sqlstate", None) or ""
        return f"{state} {str(e).splitlines()[0] if str(e) else type(e).__name__}".strip()
    finally:
        timer.cancel()


def same(a, b):
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b or math.isclose(a, b, rel_tol=1e-9, abs_tol=0.0)
    if type(a) is not type(b):
        return False
    if isinstance(a, decimal.Decimal):
        return a == b and a.as_tuple().exponent == b.as_tuple().exponent
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def loosely_same(a, b):
    """Equal once both are text: numbers as numbers, dates and timestamps in ISO form (to tell
    a wrong type, already reported, from a wrong value)."""
    def norm(v):
        if isinstance(v, (int, float, decimal.Decimal)) and not isinstance(v, bool):
            return f"{float(v):.9g}"
        if isinstance(v, (datetime.date, datetime.datetime)):
            return v.isoformat()
        if isinstance(v, str):
            try:
                return f"{float(v):.9g}"
            except ValueError:
                return v
        if isinstance(v, (list, tuple)):
            return "(" + ",".join(norm(x) for x in v) + ")"
        return str(v)
    return (a is None) == (b is None) and (a is None or norm(a) == norm(b))


def compare(mine, theirs, typname):
    """None when equal, otherwise the reason."""
    if isinstance(theirs, str):
        return f"postgres error (the query is wrong): {theirs}"
    if isinstance(mine, str):
        return f"engine error: {mine}"
    (mn, mo, mr), (tn, to, tr) = mine, theirs
    reasons = []
    if mn != tn:
        reasons.append(f"columns {mn} != postgres {tn}")
        return "; ".join(reasons)
    bad = [f"{n} {typname(t)}→{typname(m)}" for n, m, t in zip(mn, mo, to) if m != t]
    if bad:
        reasons.append("type OID (postgres→engine): " + ", ".join(bad))
    if len(mr) != len(tr):
        reasons.append(f"{len(mr)} rows, postgres {len(tr)}")
    else:
        for i, (a, b) in enumerate(zip(mr, tr)):
            if all(same(x, y) for x, y in zip(a, b)):
                continue
            if bad and all(loosely_same(x, y) for x, y in zip(a, b)):
                continue  # differing only by the (already reported) type: look further
            ordered = sorted(map(repr, mr)) == sorted(map(repr, tr))
            reasons.append(("order differs; " if ordered else "") + f"row {i}: engine {short(a)} postgres {short(b)}")
            break
    return "; ".join(reasons) or None


def causes_of(reason):
    """The causes in one comparison's reason: each type (postgres→engine), an engine error, a value."""
    found = re.findall(r"(\S+→\S+?)(?:,|;|$)", reason.split("type OID (postgres→engine): ")[-1].split(";")[0]) if "type OID" in reason else []
    found += ["engine error: " + reason.split("engine error: ", 1)[1][:90]] if "engine error" in reason else []
    found += ["values differ"] if re.search(r"row \d+: engine|rows, postgres", reason) else []
    found += ["columns differ"] if reason.startswith("columns") else []
    return list(dict.fromkeys(found)) or [reason]


def cause_line(reasons):
    """A failed query's causes on one line (the reason a new known-failures entry gets)."""
    failed = [p for p, r in reasons.items() if r]
    found = list(dict.fromkeys(c for p in failed for c in causes_of(reasons[p])))
    types = [c for c in found if "→" in c and not c.startswith("engine error")]
    line = "; ".join((["type OIDs (postgres→engine): " + ", ".join(types)] if types else []) + [c for c in found if c not in types])
    return line if len(failed) == len(reasons) else f"{'+'.join(failed)} only: {line}"


def summarise(results):
    """How many failed queries show each cause: a type (postgres→engine), an engine error, a value."""
    causes = {}
    for r in results:
        for reason in {x for x in r["reasons"].values() if x}:
            for c in causes_of(reason):
                causes.setdefault(c, set()).add(r["id"])
    for c, ids in sorted(causes.items(), key=lambda x: (-len(x[1]), x[0])):
        print(f"  cause: {c}: {len(ids)} queries ({', '.join(sorted(ids)[:8])}{', …' if len(ids) > 8 else ''})")


def short(row, n=160):
    s = repr(tuple(row))
    return s if len(s) <= n else s[:n] + "…"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.14", help="the engine's SQL address (the external balancer)")
    p.add_argument("--port", type=int, default=5433)
    p.add_argument("--user", default="analyst")
    p.add_argument("--password", default="demo-analyst")
    p.add_argument("--http", default="http://127.0.0.11:8080", help="an engine's HTTP API (publish, write cells)")
    p.add_argument("--engines", default="127.0.0.11,127.0.0.12", help="every engine's SQL host: wait until each holds every cell")
    p.add_argument("--seed", type=int, default=20261203)
    p.add_argument("--queries", default=str(HERE / "bi_queries.sql"))
    p.add_argument("--only", default="", help="comma-separated query ids (q001,...)")
    p.add_argument("--verbose", action="store_true", help="print the SQL of failed queries")
    p.add_argument("--json", help="write every result to this file")
    p.add_argument("--protocols", default="simple,extended", help="how the engine is asked, each compared: simple, extended, binary")
    p.add_argument("--postgres-only", action="store_true", help="run the queries on PostgreSQL alone (checks the suite)")
    known_failures.add_arguments(p, HERE / "bi_known_failures.toml")
    a = p.parse_args()

    queries = parse_queries(a.queries)
    # ids are positions in the file: each entry also records its query's header, to notice a move
    kf = known_failures.KnownFailures("bi-differential", a, [q["id"] for q in queries],
                                      {q["id"]: f"{q['tool']}: {q['title']}" for q in queries}, enabled=not a.postgres_only)
    if a.only:
        queries = [q for q in queries if q["id"] in a.only.split(",")]
    rows = cells(a.seed)
    print(f"bi-differential: seed {a.seed}, {len(rows)} cells, {len(queries)} queries", flush=True)
    pg = Postgres()
    try:
        with pg.connect() as pc:
            load_postgres(pc, rows)
            oids = dict(pc.execute("SELECT oid::int, typname FROM pg_type").fetchall())
            typname = lambda o: oids.get(o, str(o))
            if a.postgres_only:
                bad = 0
                for q in queries:
                    r = run(pc, q["sql"])
                    if isinstance(r, str):
                        bad += 1
                        print(f"{q['id']} [{q['tool']}] {q['title']}: {r}")
                    elif a.verbose:
                        print(f"{q['id']} ok: {len(r[2])} rows, {[typname(o) for o in r[1]]}")
                print(f"bi-differential (postgres only): {len(queries) - bad} ran, {bad} failed")
                return 1 if bad else 0
            load_engine(a, rows)
            print(f"bi-differential: the cells are on every engine; PostgreSQL 127.0.0.1:{pg.port}", flush=True)
            ec = engine_connect(a)
            results = []
            protocols = a.protocols.split(",")
            for q in queries:
                theirs, reasons = run(pc, q["sql"]), {}
                for proto in protocols:
                    mine = run(ec, q["sql"], proto)
                    if ec.closed or ec.broken:
                        ec = engine_connect(a)
                    reasons[proto] = compare(mine, theirs, typname)
                # One reason per distinct outcome, named by the protocols that gave it.
                by_reason = {}
                for proto, r in reasons.items():
                    by_reason.setdefault(r, []).append(proto)
                if len(by_reason) == 1:
                    reason = next(iter(by_reason))
                else:
                    reason = " | ".join(f"{'+'.join(ps)}: {r or 'ok'}" for r, ps in by_reason.items())
                verdict, note = kf.record(q["id"], reason is None, reason, cause_line(reasons) if reason else None)
                results.append({**q, "reason": reason, "reasons": reasons, "outcome": verdict})
                print(f"{verdict} {q['id']} [{q['tool']}] {q['title']}" + (f": {note}" if note else ""), flush=True)
                if reason is not None and a.verbose:
                    print("     " + q["sql"].replace("\n", "\n     "))
            ec.close()
            if a.json:
                Path(a.json).write_text(json.dumps(results, indent=1, default=str))
            summarise(results)
            return kf.finish()
    finally:
        pg.stop()


if __name__ == "__main__":
    sys.exit(main())
