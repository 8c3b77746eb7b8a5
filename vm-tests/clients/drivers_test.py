#!/usr/bin/env python3
"""The drivers BI tools use, against a running cluster (the demo's, by default), through the
external balancer: psqlODBC (pyodbc), pgJDBC (Debian's libpostgresql-jdbc-java), SQLAlchemy
and pandas, psycopg 3 and psycopg2 (server-side cursors, COPY), node-postgres, pgcli and psql;
and transactions as a client sees them, read back from each engine directly. Every check
asserts values, column names and types, not only the absence of an error.

Each check prints PASS or FAIL with the exact error; a failing check also prints the SQL the
driver sent that the server refused (SQLSTATE and message), or the last statement it sent.
The drivers reach the cluster through a recording relay on 127.0.0.1 (vm-tests/clients/
pgtrace.py) that forwards every byte unchanged to the balancer (or, for the per-engine
checks, to that engine).

Checks known to fail today are listed, each with a reason, in drivers_known_failures.toml
(known_failures.py): a listed check that fails prints KNOWN and counts apart; a listed check
that passes prints FIXED and counts as failed (remove it from the list). The last line is
`drivers: N passed, M failed` (M: unlisted failures and listed checks that pass), after a line
counting the known failures; exit status 0 only if M is 0.

    vm-tests/clients/drivers_test.py [--only PREFIX,...] [--report FILE.json]
        [--known-failures FILE | --no-known-failures] [--write-known-failures]

Needs: the Python packages of scripts/requirements-test.txt (the venv .ci/run makes), Debian's
odbc-postgresql, unixodbc, libpostgresql-jdbc-java, a JDK, node with `npm ci` run in
vm-tests/clients/node, psql, tmux.
"""

import argparse
import base64
import contextlib
import importlib.machinery
import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
try:
    import psycopg
except ImportError:  # not in this Python: use the test venv that .ci/run creates
    _venv = ROOT / ".venv-test/bin/python3"
    if _venv.exists() and sys.executable != str(_venv):
        os.execv(_venv, [str(_venv), *sys.argv])
    sys.exit("needs psycopg: python3 -m venv .venv-test && .venv-test/bin/pip install -r scripts/requirements-test.txt")

sys.path.insert(0, str(HERE))
from pgtrace import Relay  # noqa: E402
import known_failures  # noqa: E402


def basic_auth(user, password):
    """An Authorization header for the engines' HTTP API (it needs a user)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

COLUMNS = ["region", "product", "month", "quarter", "year", "amount", "units"]
DIMENSIONS = ["region", "product", "month"]
TEXT_TYPES = {"text", "varchar", "character varying"}
CHECKS = []


def check(name):
    def register(fn):
        CHECKS.append((name, fn))
        return fn
    return register


def ok(cond, what):
    if not cond:
        raise AssertionError(what)
    print(f"   ok: {what}", flush=True)


def eq(got, want, what):
    ok(got == want, f"{what}: {got!r}" if got == want else f"{what}: got {got!r}, expected {want!r}")


class Ctx:
    """Where the drivers connect, and the values the demo's sample cube must hold."""

    def __init__(self, a):
        self.a = a
        self.user, self.password = a.user, a.password
        self.balancer = Relay((a.host, a.port)).start()
        self.engines = {h: Relay((ip, a.port)).start() for h, ip in (("app1", a.app1), ("app2", a.app2))}
        self.relays = [self.balancer, *self.engines.values()]
        self.host, self.port = self.balancer.host, self.balancer.port
        self.run_id = f"r{int(time.time())}"
        self._expected = None
        self._java = None
        self._tx_model = None

    def tag(self, name):
        for r in self.relays:
            r.tag = name

    def events(self, name):
        return sorted((e for r in self.relays for e in r.events(name)), key=lambda e: e["t"])

    def pg(self, relay=None, **kw):
        r = relay or self.balancer
        kw.setdefault("autocommit", True)
        return psycopg.connect(host=r.host, port=r.port, user=self.user, password=self.password, dbname="triad", connect_timeout=5, **kw)

    def env(self):
        return dict(os.environ, PGPASSWORD=self.password, PGCONNECT_TIMEOUT="5")

    @property
    def expected(self):
        """The demo's sample cells (scripts/demo's generator; its size read from the cluster)."""
        if self._expected is None:
            loader = importlib.machinery.SourceFileLoader("triad_demo", str(ROOT / "scripts/demo"))
            spec = importlib.util.spec_from_loader("triad_demo", loader)
            demo = importlib.util.module_from_spec(spec)
            loader.exec_module(demo)
            # a baseline connection straight to app1's engine (simple protocol, values as text)
            out = subprocess.run(["psql", "-X", "-A", "-t", "-h", self.a.app1, "-p", str(self.a.port), "-U", self.user, "-d", "triad",
                                  "-c", "SELECT count(*) FROM sales.revenue WHERE region = 'north'"], capture_output=True, text=True, env=self.env(), timeout=30)
            if out.returncode != 0:
                raise RuntimeError(f"reading the size of the sample cube: {out.stderr.strip()}")
            products = int(out.stdout.strip()) // len(demo.MONTHS)
            rows = list(demo.sample_rows(products * len(demo.REGIONS) * len(demo.MONTHS)))
            by_region = {}
            for r in rows:
                e = by_region.setdefault(r["region"], {"units": 0, "cells": 0, "amount": 0.0})
                e["units"] += r["units"]
                e["cells"] += 1
                e["amount"] += r["amount"]
            self._expected = {"rows": rows, "regions": by_region, "products": products,
                              "north": sorted(((r["product"], r["month"], r["units"]) for r in rows if r["region"] == "north")),
                              "p0": [(r["month"], r["units"]) for r in sorted(rows, key=lambda r: r["month"]) if r["region"] == "north" and r["product"] == "p00000"]}
        return self._expected

    def java(self, what, *extra):
        if self._java is None:
            out = Path(tempfile.mkdtemp(prefix="triad-jdbc-"))
            p = subprocess.run(["javac", "-d", str(out), "-cp", self.a.jdbc_jar, str(HERE / "jdbc/DriverMeta.java")], capture_output=True, text=True)
            if p.returncode != 0:
                raise RuntimeError(f"javac: {p.stderr.strip()}")
            self._java = out
        p = subprocess.run(["java", "-cp", f"{self.a.jdbc_jar}:{self._java}", "DriverMeta", what, f"jdbc:postgresql://{self.host}:{self.port}/triad",
                            self.user, self.password, *map(str, extra)], capture_output=True, text=True, timeout=120)
        sys.stdout.write(p.stdout)
        if p.returncode != 0:
            lines = [line for line in p.stderr.strip().splitlines() if line.strip() and not line.startswith("\tat ")]
            raise RuntimeError(" | ".join(lines[:4]) or f"java exited {p.returncode}")

    def tx_model(self):
        """A model of the suite's own for the write checks (the sample cube stays as loaded)."""
        if self._tx_model is None and self.a.plain_postgres:
            self._tx_model = True
        if self._tx_model is None:
            model = {"name": "drivers", "cubes": [{"name": "tx", "dimensions": [{"name": "batch"}, {"name": "item"}],
                                                   "measures": [{"name": "units", "type": "integer", "aggregation": "sum"},
                                                                {"name": "amount", "type": "decimal", "aggregation": "sum"}]}]}
            req = urllib.request.Request(f"http://{self.a.app1}:8080/api/models", json.dumps({"model": model}).encode(),
                                         {"Content-Type": "application/json", "Authorization": basic_auth(self.user, self.password)})
            with urllib.request.urlopen(req, timeout=30) as r:
                r.read()
            for relay in self.engines.values():
                wait_for(lambda: self.scalar(relay, "SELECT count(*) FROM drivers.tx") is not None, "drivers.tx published on every engine")
            self._tx_model = True

    def scalar(self, relay, sql, params=None):
        with self.pg(relay) as c:
            row = c.execute(sql, params).fetchone()
            return row[0] if row else None

    def cells(self, relay, batch, item=None):
        """What one engine (or the balancer) holds of a batch: {item: units}."""
        with self.pg(relay) as c:
            q = "SELECT item, units FROM drivers.tx WHERE batch = %s" + (" AND item = %s" if item else "")
            return dict(c.execute(q, (batch, item) if item else (batch,)).fetchall())

    def everywhere(self):
        return [("balancer", self.balancer), *self.engines.items()]


def wait_for(fn, what, timeout=10):
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            if fn():
                return
        except Exception as e:
            last = e
        time.sleep(0.25)
    raise AssertionError(f"{what}: not within {timeout} s" + (f" (last error: {last})" if last else ""))


# --- psqlODBC through pyodbc (Tableau, Power BI, Excel) ---

def odbc(ctx):
    import pyodbc
    return pyodbc.connect(f"DRIVER={{PostgreSQL Unicode}};SERVER={ctx.host};PORT={ctx.port};DATABASE=triad;UID={ctx.user};PWD={ctx.password};"
                          "ConnSettings=SET application_name='drivers-odbc'", timeout=5, autocommit=True)


@check("odbc.connect")
def _(ctx):
    with odbc(ctx) as c:
        cur = c.cursor().execute("SELECT 1 AS one, 'a' AS letter")
        eq([d[0] for d in cur.description], ["one", "letter"], "column names")
        eq(tuple(cur.fetchone()), (1, "a"), "SELECT 1, 'a'")


@check("odbc.getinfo")
def _(ctx):
    import pyodbc
    with odbc(ctx) as c:
        eq(c.getinfo(pyodbc.SQL_DBMS_NAME), "PostgreSQL", "SQL_DBMS_NAME")
        ver = c.getinfo(pyodbc.SQL_DBMS_VER)
        ok(re.match(r"^\d+\.\d+", ver or "") and int(ver.split(".")[0]) >= 12, f"SQL_DBMS_VER is a PostgreSQL version >= 12: {ver!r}")
        eq(c.getinfo(pyodbc.SQL_DATABASE_NAME), "triad", "SQL_DATABASE_NAME")
        eq(c.getinfo(pyodbc.SQL_USER_NAME), ctx.user, "SQL_USER_NAME")


@check("odbc.tables")
def _(ctx):
    with odbc(ctx) as c:
        rows = c.cursor().tables(schema="sales", tableType="TABLE").fetchall()
        found = [(r.table_schem, r.table_name, r.table_type) for r in rows]
        ok(("sales", "revenue", "TABLE") in found, f"tables(schema=sales) lists sales.revenue as TABLE: {found}")


@check("odbc.columns")
def _(ctx):
    import pyodbc
    with odbc(ctx) as c:
        rows = c.cursor().columns(table="revenue", schema="sales").fetchall()
        eq([r.column_name for r in rows], COLUMNS, "columns(sales.revenue) names in order")
        t = {r.column_name: (r.type_name, r.data_type) for r in rows}
        chars = {pyodbc.SQL_VARCHAR, pyodbc.SQL_WVARCHAR, pyodbc.SQL_LONGVARCHAR, pyodbc.SQL_WLONGVARCHAR}
        ok(t["region"][0] in TEXT_TYPES and t["region"][1] in chars, f"region is text: {t['region']}")
        ok(t["units"][0] in ("int4", "int8") and t["units"][1] in (pyodbc.SQL_INTEGER, pyodbc.SQL_BIGINT), f"units is an integer: {t['units']}")
        ok(t["amount"][0] in ("numeric", "float8") and t["amount"][1] in (pyodbc.SQL_NUMERIC, pyodbc.SQL_DOUBLE, pyodbc.SQL_FLOAT), f"amount is numeric: {t['amount']}")


@check("odbc.group_by")
def _(ctx):
    exp = ctx.expected["regions"]
    with odbc(ctx) as c:
        cur = c.cursor().execute("SELECT region, sum(units) AS units, count(*) AS cells FROM sales.revenue WHERE region IN (?, ?, ?) GROUP BY region ORDER BY region",
                                 "apac", "emea", "north")
        eq([d[0] for d in cur.description], ["region", "units", "cells"], "column names")
        rows = [tuple(r) for r in cur.fetchall()]
        eq(rows, [(r, exp[r]["units"], exp[r]["cells"]) for r in ("apac", "emea", "north")], "GROUP BY region: values, as integers")


# --- pgJDBC (DBeaver, Metabase, Tableau's JDBC connector) ---

for _what in ("connect", "getCatalogs", "getSchemas", "getTables", "getColumns", "getPrimaryKeys", "getIndexInfo", "getTypeInfo", "getFunctions"):
    check(f"jdbc.{_what}")(lambda ctx, w=_what: ctx.java(w))


@check("jdbc.prepared")
def _(ctx):
    e = ctx.expected["regions"]["emea"]
    ctx.java("prepared", e["units"], e["cells"])


# --- SQLAlchemy and pandas (Superset, notebooks) ---

@contextlib.contextmanager
def sa_engine(ctx):
    import sqlalchemy
    engine = sqlalchemy.create_engine(f"postgresql+psycopg2://{ctx.user}:{ctx.password}@{ctx.host}:{ctx.port}/triad",
                                      connect_args={"connect_timeout": 5, "application_name": "drivers-sqlalchemy"})
    try:
        yield engine
    finally:
        engine.dispose()


@check("sqlalchemy.connect")
def _(ctx):
    import sqlalchemy
    with sa_engine(ctx) as engine, engine.connect() as c:
        eq(c.execute(sqlalchemy.text("SELECT 1 AS one")).one()._asdict(), {"one": 1}, "SELECT 1")
        ok(engine.dialect.server_version_info >= (12,), f"server version {engine.dialect.server_version_info}")


@check("sqlalchemy.get_schema_names")
def _(ctx):
    import sqlalchemy
    with sa_engine(ctx) as engine:
        names = sqlalchemy.inspect(engine).get_schema_names()
        ok("sales" in names and not any(n.startswith("pg_") for n in names), f"get_schema_names lists sales and no pg_ schema: {names}")


@check("sqlalchemy.get_table_names")
def _(ctx):
    import sqlalchemy
    with sa_engine(ctx) as engine:
        names = sqlalchemy.inspect(engine).get_table_names(schema="sales")
        ok("revenue" in names, f"get_table_names(sales) lists revenue: {names}")


@check("sqlalchemy.get_columns")
def _(ctx):
    import sqlalchemy
    with sa_engine(ctx) as engine:
        cols = sqlalchemy.inspect(engine).get_columns("revenue", schema="sales")
        eq([c["name"] for c in cols], COLUMNS, "get_columns names")
        t = {c["name"]: c["type"] for c in cols}
        ok(isinstance(t["region"], sqlalchemy.String), f"region is a String: {t['region']!r}")
        ok(isinstance(t["units"], sqlalchemy.Integer), f"units is an Integer: {t['units']!r}")
        # A float8 column reflects as DOUBLE_PRECISION (PostgreSQL's too), a Float: since
        # SQLAlchemy 2.1 Float is no longer a subclass of Numeric.
        ok(isinstance(t["amount"], (sqlalchemy.Numeric, sqlalchemy.Float)), f"amount is Numeric (or Float): {t['amount']!r}")


@check("sqlalchemy.get_pk_constraint")
def _(ctx):
    import sqlalchemy
    with sa_engine(ctx) as engine:
        pk = sqlalchemy.inspect(engine).get_pk_constraint("revenue", schema="sales")
        eq(pk.get("constrained_columns"), DIMENSIONS, "primary key: a cell is addressed by its dimensions")


@check("sqlalchemy.reflect")
def _(ctx):
    import sqlalchemy as sa
    e = ctx.expected["regions"]["emea"]
    with sa_engine(ctx) as engine:
        t = sa.Table("revenue", sa.MetaData(), schema="sales", autoload_with=engine)
        eq([c.name for c in t.columns], COLUMNS, "reflected columns")
        with engine.connect() as c:
            q = sa.select(t.c.region, sa.func.sum(t.c.units).label("units"), sa.func.count().label("cells")).where(t.c.region == "emea").group_by(t.c.region)
            eq([tuple(r) for r in c.execute(q)], [("emea", e["units"], e["cells"])], "a query built on the reflected table")


@check("pandas.read_sql_table")
def _(ctx):
    import pandas as pd
    exp = ctx.expected
    with sa_engine(ctx) as engine:
        df = pd.read_sql_table("revenue", engine, schema="sales")
    eq(list(df.columns), COLUMNS, "columns")
    df = df[df.region.isin(list(exp["regions"]))]
    eq(len(df), len(exp["rows"]), "rows of the sample regions")
    ok(df.units.dtype.kind in "iu", f"units is an integer column: {df.units.dtype}")
    ok(df.amount.dtype.kind == "f" or all(type(v).__name__ == "Decimal" for v in df.amount.head(100)), f"amount is numeric: {df.amount.dtype}")
    eq(int(df[df.region == "emea"].units.sum()), exp["regions"]["emea"]["units"], "sum of units in emea")


# --- psycopg 3 and psycopg2: server-side cursors and COPY ---

NAMED_SQL = "SELECT product, month, units FROM sales.revenue WHERE region = %s ORDER BY product, month"
COPY_SQL = "COPY (SELECT month, units FROM sales.revenue WHERE region = 'north' AND product = 'p00000' ORDER BY month) TO STDOUT"


def check_named(ctx, cur):
    north = ctx.expected["north"]
    first = [tuple(r) for r in cur.fetchmany(3)]
    eq([d[0] for d in cur.description], ["product", "month", "units"], "column names")
    eq(first, north[:3], "the first three rows")
    rest = [tuple(r) for r in cur.fetchall()]
    eq(len(first) + len(rest), len(north), "rows fetched in batches")
    eq(first + rest, north, "every row")


@check("psycopg3.named_cursor")
def _(ctx):
    with ctx.pg(autocommit=False) as c, c.cursor(name="drivers_c3") as cur:
        cur.itersize = 500
        cur.execute(NAMED_SQL, ("north",))
        check_named(ctx, cur)


def pg2(ctx):
    import psycopg2
    return psycopg2.connect(host=ctx.host, port=ctx.port, user=ctx.user, password=ctx.password, dbname="triad", connect_timeout=5, application_name="drivers-psycopg2")


@check("psycopg2.named_cursor")
def _(ctx):
    c = pg2(ctx)
    try:
        cur = c.cursor(name="drivers_c2")
        cur.itersize = 500
        cur.execute(NAMED_SQL, ("north",))
        check_named(ctx, cur)
        cur.close()
    finally:
        c.close()


def copy_expected(ctx, csv):
    p0 = ctx.expected["p0"]
    if csv:
        return "month,units\n" + "".join(f"{m},{u}\n" for m, u in p0)
    return "".join(f"{m}\t{u}\n" for m, u in p0)


@check("psycopg3.copy_text")
def _(ctx):
    with ctx.pg() as c, c.cursor().copy(COPY_SQL) as copy:
        data = b"".join(bytes(b) for b in copy).decode()
    eq(data, copy_expected(ctx, False), "COPY ... TO STDOUT (text)")


@check("psycopg3.copy_csv")
def _(ctx):
    with ctx.pg() as c, c.cursor().copy(COPY_SQL + " WITH (FORMAT csv, HEADER)") as copy:
        data = b"".join(bytes(b) for b in copy).decode()
    eq(data, copy_expected(ctx, True), "COPY ... TO STDOUT WITH (FORMAT csv, HEADER)")


@check("psycopg2.copy_text")
def _(ctx):
    c = pg2(ctx)
    try:
        buf = io.StringIO()
        c.cursor().copy_expert(COPY_SQL, buf)
        eq(buf.getvalue(), copy_expected(ctx, False), "copy_expert COPY ... TO STDOUT (text)")
    finally:
        c.close()


@check("psycopg2.copy_csv")
def _(ctx):
    c = pg2(ctx)
    try:
        buf = io.StringIO()
        c.cursor().copy_expert(COPY_SQL + " WITH CSV HEADER", buf)
        eq(buf.getvalue(), copy_expected(ctx, True), "copy_expert COPY ... TO STDOUT WITH CSV HEADER")
    finally:
        c.close()


# --- node-postgres (Metabase's and many dashboards' Node back ends) ---

def node(ctx, what):
    d = HERE / "node"
    if not (d / "node_modules/pg").exists():
        raise RuntimeError(f"node-postgres is not installed: npm ci --prefix {d}")
    p = subprocess.run(["node", str(d / "pg_test.js"), what, ctx.host, str(ctx.port), ctx.user, ctx.password], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(p.stderr.strip())
    return json.loads(p.stdout)


@check("node.param_query")
def _(ctx):
    e = ctx.expected["regions"]["apac"]
    r = node(ctx, "param")
    eq([f[0] for f in r["fields"]], ["region", "units", "cells"], "field names")
    ok(r["fields"][0][1] in (25, 1043), f"type OID of region: text or varchar ({r['fields'][0][1]})")
    eq(r["fields"][2][1], 20, "type OID of count(*): int8")
    ok(r["fields"][1][1] in (20, 1700), f"type OID of sum(units): int8 or numeric ({r['fields'][1][1]})")
    row = r["rows"]
    eq(len(row), 1, "one row")
    eq((row[0]["region"]["value"], int(row[0]["units"]["value"]), int(row[0]["cells"]["value"])), ("apac", e["units"], e["cells"]), "values")


@check("node.result_types")
def _(ctx):
    r = node(ctx, "types")
    eq(r["fields"], [["i4", 23], ["i8", 20], ["num", 1700], ["f8", 701], ["t", 25], ["b", 16], ["d", 1082], ["ts", 1114]], "names and type OIDs")
    got = {k: (v["type"], v["value"]) for k, v in r["rows"][0].items()}
    want = {"i4": ("number", 1), "i8": ("string", "2"), "num": ("string", "2.50"), "f8": ("number", 1.5), "t": ("string", "x"), "b": ("boolean", True)}
    eq({k: got[k] for k in want}, want, "values as node-postgres converts them")
    ok(got["d"][0] == "Date" and got["ts"][0] == "Date", f"date and timestamp are Dates: {got['d']}, {got['ts']}")


# --- pgcli ---

def pgclirc(tmp):
    rc = Path(tmp) / "pgclirc"
    rc.write_text(f"[main]\nlog_file = {tmp}/pgcli.log\nlog_level = ERROR\nhistory_file = {tmp}/history\nless_chatty = True\nkeyring = False\n")
    return rc


@check("pgcli.command")
def _(ctx):
    e = ctx.expected["regions"]["emea"]
    with tempfile.TemporaryDirectory() as tmp:
        p = subprocess.run([str(Path(sys.executable).parent / "pgcli"), "-h", ctx.host, "-p", str(ctx.port), "-U", ctx.user, "-d", "triad", "--pgclirc", str(pgclirc(tmp)),
                            "--less-chatty", "-c", "SELECT region, sum(units) AS units FROM sales.revenue WHERE region = 'emea' GROUP BY region"],
                           capture_output=True, text=True, timeout=60, env=ctx.env(), stdin=subprocess.DEVNULL)
        log = Path(tmp, "pgcli.log").read_text() if Path(tmp, "pgcli.log").exists() else ""
    out = p.stdout + p.stderr
    ok(p.returncode == 0 and "Traceback" not in out, f"pgcli -c exits 0: {p.returncode} {out.strip()[-400:]!r}")
    ok(re.search(rf"\|\s*emea\s*\|\s*{e['units']}\s*\|", p.stdout), f"the result table shows emea | {e['units']}: {p.stdout.strip()[-300:]!r}")
    ok("ERROR" not in log, f"no error in pgcli's log: {log.strip()[-400:]!r}")


@check("pgcli.interactive")
def _(ctx):
    if not shutil.which("tmux"):
        raise RuntimeError("needs tmux")
    e = ctx.expected["regions"]["latam"]
    session = f"drivers-pgcli-{os.getpid()}"
    with tempfile.TemporaryDirectory() as tmp:
        cmd = " ".join([f"PGPASSWORD={ctx.password}", str(Path(sys.executable).parent / "pgcli"), "-h", ctx.host, "-p", str(ctx.port), "-U", ctx.user,
                        "-d", "triad", "--pgclirc", str(pgclirc(tmp)), "--prompt", "'pgcli-ready> '", f"2> {tmp}/stderr"])
        subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "50", cmd], check=True)
        try:
            screen = lambda: subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout  # noqa: E731
            try:
                wait_for(lambda: "pgcli-ready>" in screen(), "pgcli shows its prompt", 30)
            except AssertionError as e:
                err = Path(tmp, "stderr").read_text().strip().splitlines() if Path(tmp, "stderr").exists() else []
                raise AssertionError(f"{e}; screen: {' | '.join(screen().split(chr(10))[-6:])}; stderr: {' | '.join(err[-3:])}") from None
            time.sleep(3)  # completions are refreshed in the background at start-up
            subprocess.run(["tmux", "send-keys", "-t", session, "SELECT region, sum(units) AS units FROM sales.revenue WHERE region = 'latam' GROUP BY region", "Enter"], check=True)
            wait_for(lambda: re.search(rf"\|\s*latam\s*\|\s*{e['units']}\s*\|", screen()), f"the screen shows latam | {e['units']}", 20)
            shown = screen()
            ok("Traceback" not in shown and "error" not in shown.lower(), f"no error on the screen: {shown.strip()[-600:]!r}")
            subprocess.run(["tmux", "send-keys", "-t", session, "\\q", "Enter"])
            time.sleep(1)
            log = Path(tmp, "pgcli.log").read_text() if Path(tmp, "pgcli.log").exists() else ""
            ok("ERROR" not in log, "no error in pgcli's log (completion refresh at start-up): " + " | ".join(
                line for line in log.splitlines() if "ERROR" in line or "Error" in line)[:800])
        finally:
            subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


# --- psql's describe commands ---

def psql(ctx, cmd):
    p = subprocess.run(["psql", "-X", "-v", "ON_ERROR_STOP=1", "-h", ctx.host, "-p", str(ctx.port), "-U", ctx.user, "-d", "triad", "-c", cmd],
                       capture_output=True, text=True, timeout=60, env=ctx.env())
    if p.returncode != 0:
        raise RuntimeError(f"psql -c '{cmd}': {p.stderr.strip()}")
    return p.stdout


@check("psql.d+")
def _(ctx):
    out = psql(ctx, r"\d+ sales.revenue")
    ok('Table "sales.revenue"' in out and "Storage" in out, f"\\d+ titles the table and shows Storage: {out[:300]!r}")
    for col, types in (("region", "text|character varying"), ("units", "integer|bigint"), ("amount", "numeric|double precision")):
        ok(re.search(rf"^\s*{col}\s*\|\s*({types})\s*\|", out, re.M), f"{col} is {types}")


@check("psql.du")
def _(ctx):
    out = psql(ctx, r"\du")
    ok("List of roles" in out and re.search(rf"^\s*{ctx.user}\s*\|", out, re.M), f"\\du lists {ctx.user}: {out.strip()!r}")


@check("psql.df")
def _(ctx):
    out = psql(ctx, r"\df")
    ok("List of functions" in out and "Result data type" in out, f"\\df: {out.strip()[:300]!r}")
    out = psql(ctx, r"\dfS upper")
    ok(re.search(r"^\s*pg_catalog\s*\|\s*upper\s*\|\s*text\s*\|\s*text\s*\|\s*func", out, re.M), f"\\dfS upper: pg_catalog | upper | text | text | func: {out.strip()!r}")


@check("psql.dT")
def _(ctx):
    out = psql(ctx, r"\dT")
    ok("List of data types" in out, f"\\dT: {out.strip()[:300]!r}")
    out = psql(ctx, r"\dTS integer")
    ok(re.search(r"^\s*pg_catalog\s*\|\s*integer\s*\|", out, re.M), f"\\dTS integer: {out.strip()!r}")


# --- transactions as a client sees them (psycopg 3; writes to the suite's own cube drivers.tx) ---

def shown_everywhere(ctx, batch, want, what):
    for where, relay in ctx.everywhere():
        wait_for(lambda: ctx.cells(relay, batch) == want, f"{what}: {want} on {where}", 10)
        print(f"   ok: {what}: {want} on {where}", flush=True)


def refused(c, sql, params, error, what):
    """The statement fails with `error` (a psycopg error class); returns the error."""
    try:
        c.execute(sql, params)
    except error as e:
        return e
    raise AssertionError(f"{what}: the statement succeeded")


def absent_everywhere(ctx, batch, what):
    time.sleep(1)  # an engine applies the change log asynchronously: give a stray write time to appear
    for where, relay in ctx.everywhere():
        eq(ctx.cells(relay, batch), {}, f"{what}: nothing of it on {where}")


@check("tx.rollback")
def _(ctx):
    ctx.tx_model()
    batch = f"{ctx.run_id}-rollback"
    with ctx.pg(autocommit=False) as c:
        c.execute("INSERT INTO drivers.tx (batch, item, units) VALUES (%s, 'a', 1), (%s, 'b', 2)", (batch, batch))
        c.execute("INSERT INTO drivers.tx (batch, item, units) VALUES (%s, 'c', 3)", (batch,))
        c.rollback()
    absent_everywhere(ctx, batch, "after ROLLBACK")


@check("tx.read_own_writes")
def _(ctx):
    ctx.tx_model()
    batch = f"{ctx.run_id}-own"
    with ctx.pg(autocommit=False) as c:
        c.execute("INSERT INTO drivers.tx (batch, item, units) VALUES (%s, 'a', 4)", (batch,))
        eq(dict(c.execute("SELECT item, units FROM drivers.tx WHERE batch = %s", (batch,)).fetchall()), {"a": 4}, "the transaction sees its own write")
        c.rollback()


@check("tx.isolation")
def _(ctx):
    ctx.tx_model()
    batch = f"{ctx.run_id}-isolation"
    with ctx.pg(autocommit=False) as c:
        c.execute("INSERT INTO drivers.tx (batch, item, units) VALUES (%s, 'a', 1)", (batch,))
        time.sleep(1)
        for where, relay in ctx.everywhere():
            eq(ctx.cells(relay, batch), {}, f"another session on {where} does not see the uncommitted write")
        c.commit()
    shown_everywhere(ctx, batch, {"a": 1}, "after COMMIT")


@check("tx.aborted")
def _(ctx):
    ctx.tx_model()
    batch = f"{ctx.run_id}-aborted"
    with ctx.pg(autocommit=False) as c:
        c.execute("INSERT INTO drivers.tx (batch, item, units) VALUES (%s, 'a', 1)", (batch,))
        refused(c, "SELECT * FROM drivers.nope", None, psycopg.errors.UndefinedTable, "SELECT from an unknown cube")
        e = refused(c, "INSERT INTO drivers.tx (batch, item, units) VALUES (%s, 'b', 2)", (batch,), psycopg.Error, "a statement after an error in a transaction")
        eq(e.sqlstate, "25P02", f"the next statement is refused: {str(e).strip()}")
        c.commit()  # the server answers COMMIT with ROLLBACK
    absent_everywhere(ctx, batch, "COMMIT of an aborted transaction")


@check("tx.multi_statement")
def _(ctx):
    ctx.tx_model()
    batch = f"{ctx.run_id}-multi"
    with ctx.pg() as c:
        # no parameters: psycopg sends one simple-query message
        c.execute(f"INSERT INTO drivers.tx (batch, item, units) VALUES ('{batch}', 'ok1', 1); INSERT INTO drivers.tx (batch, item, units) VALUES ('{batch}', 'ok2', 2)")
    shown_everywhere(ctx, batch, {"ok1": 1, "ok2": 2}, "both statements of one message applied")
    bad = f"{batch}-bad"
    with ctx.pg() as c:
        refused(c, f"INSERT INTO drivers.tx (batch, item, units) VALUES ('{bad}', 'a', 1); SELECT * FROM drivers.nope", None,
                psycopg.errors.UndefinedTable, "a message whose second statement fails")
    absent_everywhere(ctx, bad, "a message whose second statement fails")


@check("tx.quoted_number")
def _(ctx):
    ctx.tx_model()
    batch = f"{ctx.run_id}-quoted"
    with ctx.pg() as c:
        eq(c.execute(f"INSERT INTO drivers.tx (batch, item, units, amount) VALUES ('{batch}', 'a', '5', '2.50')").statusmessage, "INSERT 0 1", "INSERT of '5' acknowledged")
    shown_everywhere(ctx, batch, {"a": 5}, "INSERT of '5'")
    with ctx.pg() as c:
        eq(c.execute(f"UPDATE drivers.tx SET units = '7' WHERE batch = '{batch}'").statusmessage, "UPDATE 1", "UPDATE SET units = '7' acknowledged")
    shown_everywhere(ctx, batch, {"a": 7}, "UPDATE SET units = '7'")


# --- running ---

def describe_failure(ctx, name, exc):
    """The exact error, then the SQL the server refused during the check (or the last sent)."""
    lines = [f"{type(exc).__module__}.{type(exc).__name__}: {str(exc).strip()}" if not isinstance(exc, AssertionError) else f"assertion: {exc}"]
    events = ctx.events(name)
    errors, seen = [], set()
    for e in events:
        if e["kind"] == "error" and (e["sql"], e["message"]) not in seen:
            seen.add((e["sql"], e["message"]))
            errors.append(e)
    for e in errors:
        lines.append(f"server refused ({e['step']}): {squash(e['sql'])}\n         -> ERROR {e['sqlstate']}: {e['message']}")
    if not errors:
        sent = [e for e in events if e["kind"] in ("query", "parse", "columns") and e.get("sql")]
        if sent:
            last = sent[-1]
            cols = next((e["columns"] for e in reversed(events) if e["kind"] == "columns" and e["sql"] == last["sql"]), None)
            lines.append(f"last statement: {squash(last['sql'])}" + (f"\n         -> columns (name, type OID): {cols}" if cols else ""))
    return lines, errors


def squash(sql, limit=1500):
    s = " ".join(sql.split())
    return s if len(s) <= limit else s[:limit] + " …"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.14", help="the balancer")
    p.add_argument("--port", type=int, default=5433)
    p.add_argument("--app1", default="127.0.0.11", help="app host 1 (its engine is queried directly)")
    p.add_argument("--app2", default="127.0.0.12")
    p.add_argument("--user", default="analyst")
    p.add_argument("--password", default="demo-analyst")
    p.add_argument("--jdbc-jar", default="/usr/share/java/postgresql.jar")
    p.add_argument("--plain-postgres", action="store_true",
                   help="the suite's self-test: the target is a PostgreSQL holding the sample rows in sales.revenue and a table drivers.tx")
    p.add_argument("--only", default="", help="comma-separated prefixes of check names")
    p.add_argument("--report", help="write every check's result and the SQL the server refused as JSON")
    p.add_argument("--timeout", type=float, default=120, help="seconds per check")
    known_failures.add_arguments(p, HERE / "drivers_known_failures.toml")
    a = p.parse_args()
    # the self-test against PostgreSQL (--plain-postgres) must pass every check: no list there
    kf = known_failures.KnownFailures("drivers", a, [name for name, _ in CHECKS], enabled=not a.plain_postgres)
    ctx = Ctx(a)
    only = [s for s in a.only.split(",") if s]
    results = []
    for name, fn in CHECKS:
        if only and not any(name.startswith(o) for o in only):
            continue
        print(f"-- {name}", flush=True)
        ctx.tag(name)
        outcome = {}

        def run():
            try:
                fn(ctx)
            except BaseException as e:  # noqa: BLE001 - reported below
                outcome["exc"] = e
                outcome["tb"] = traceback.format_exc()

        t = threading.Thread(target=run, daemon=True)
        t.start()
        t.join(a.timeout)
        if t.is_alive():
            outcome["exc"] = TimeoutError(f"no result within {a.timeout:.0f} s")
        time.sleep(0.2)  # let the relay record the last answers
        sent = [{"sql": e["sql"], "params": e.get("params"), "failed": e.get("failed")} for e in ctx.events(name) if e["kind"] in ("query", "execute")]
        if "exc" not in outcome:
            verdict, note = kf.record(name, True)
            print(f"{verdict} {name}" + (f": {note}" if note else ""), flush=True)
            results.append({"check": name, "passed": True, "outcome": verdict, "sent": sent})
        else:
            lines, errors = describe_failure(ctx, name, outcome["exc"])
            verdict, note = kf.record(name, False, "\n       ".join(lines))
            print(f"{verdict} {name}: {note}", flush=True)
            results.append({"check": name, "passed": False, "outcome": verdict, "error": lines[0], "refused": errors, "details": lines[1:],
                            "traceback": outcome.get("tb", ""), "sent": sent})
    ctx.tag("")
    if a.report:
        Path(a.report).write_text(json.dumps(results, indent=1, default=str))
    status = kf.finish()
    if ctx._java:
        shutil.rmtree(ctx._java, ignore_errors=True)
    # driver threads that hang on a refused connection must not keep the process alive
    sys.stdout.flush()
    os._exit(1 if status or not results else 0)


if __name__ == "__main__":
    main()
