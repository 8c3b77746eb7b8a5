#!/usr/bin/env python3
"""A PostgreSQL driver from PyPI (psycopg 3) against a running cluster (the demo's, by
default), through the external balancer: server-side parameter binding (the extended
protocol), a prepared statement reused, typed results, a parameterised write read back, and
errors with SQLSTATE. Exit status 0 only if every check held.

    vm-tests/clients/psycopg_test.py [--host 127.0.0.14] [--user analyst] [--password demo-analyst]
"""

import argparse
import decimal
import os
import sys
import time

try:
    import psycopg
except ImportError:  # not in this Python: use the test venv that .ci/run creates
    from pathlib import Path as _P
    _venv = _P(__file__).resolve().parents[1 if "scripts" in __file__ else 2] / ".venv-test/bin/python3"
    if _venv.exists() and sys.executable != str(_venv):
        os.execv(_venv, [str(_venv), *sys.argv])
    sys.exit("needs psycopg: python3 -m venv .venv-test && .venv-test/bin/pip install -r scripts/requirements-test.txt")


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print(f"   ok: {what}", flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.14")
    p.add_argument("--port", type=int, default=5433)
    p.add_argument("--user", default="analyst")
    p.add_argument("--password", default="demo-analyst")
    a = p.parse_args()
    with psycopg.connect(host=a.host, port=a.port, user=a.user, password=a.password, dbname="triad", autocommit=True, connect_timeout=5) as c:
        cur = c.cursor()
        cur.execute("SELECT region, sum(units) AS units, sum(amount) AS amount FROM sales.revenue WHERE region = %s GROUP BY region", ("emea",), prepare=True)
        (region, units, amount), = cur.fetchall()
        # sum(bigint) is numeric, as in PostgreSQL: a Decimal with no places.
        check(region == "emea" and isinstance(units, decimal.Decimal) and units == int(units) > 0 and isinstance(amount, float), f"a bound parameter, typed results: {region} {units!r} {amount:.2f}")
        # The same statement again: psycopg reuses the prepared statement (Bind/Execute only).
        for r in ("apac", "latam"):
            cur.execute("SELECT region, sum(units) AS units, sum(amount) AS amount FROM sales.revenue WHERE region = %s GROUP BY region", (r,), prepare=True)
            check(cur.fetchone()[0] == r, f"prepared statement reused for {r}")
        n = int(time.time() * 1000) % 1_000_000
        cur.execute("INSERT INTO sales.revenue (region, product, month, amount, units) VALUES (%s, %s, %s, %s, %s)", ("psycopg", f"p{n}", "2026-12", 1.5, 3))
        cur.execute("SELECT amount, units FROM sales.revenue WHERE region = %s AND product = %s", ("psycopg", f"p{n}"))
        check(cur.fetchall() == [(1.5, 3)], "a parameterised write is read back")
        try:
            cur.execute("SELECT region FROM sales.revenue WHERE amount > )")
            check(False, "a syntax error is an error")
        except psycopg.errors.SyntaxError as e:
            check(e.sqlstate == "42601", f"syntax error with SQLSTATE 42601: {str(e).splitlines()[0]}")
        try:
            cur.execute("SELECT * FROM sales.nope")
            check(False, "an unknown cube is an error")
        except psycopg.Error as e:
            check(e.sqlstate == "42P01", f"unknown cube with SQLSTATE 42P01")
    print("psycopg: passed")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        sys.exit(f"psycopg: FAILED: {e}")
