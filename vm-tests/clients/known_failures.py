"""The strict known-failures list of a client suite (drivers_test.py, bi_differential.py).

A checked-in TOML file next to the suite names every check known to fail today, with a
one-line reason:

    ["odbc.getinfo"]
    reason = "SQL_DBMS_VER is not a PostgreSQL version"

(bi_differential.py also records the query's header, `query = "metabase: count of rows"`: its
ids are positions in bi_queries.sql, and an entry whose query moved no longer applies.)

Each check's outcome:
  PASS   passed, not listed;
  FAIL   failed, not listed                       -> counted as failed;
  KNOWN  failed, listed                           -> counted apart, printed with its reason;
  FIXED  passed, listed                           -> counted as failed: "passes now: remove
         it from the known-failures list";
  STALE  an entry naming no check of the suite (or, with `query`, a query that moved)
                                                  -> counted as failed.
The suite's last line stays `<suite>: N passed, M failed`, M = FAIL + FIXED + STALE, after a
line counting the known failures; the exit status is non-zero when M > 0.

`--write-known-failures` rewrites the file from the run: every check that failed is listed,
keeping the reason of an entry already there, otherwise the first line of its failure message
(or the cause the suite derives from it: bi_differential.py names the differing types, the
engine's error, "values differ"), trimmed to 120 characters; entries of checks not run
(`--only`) stay. `--no-known-failures`
ignores the file.
"""

import json
import sys
import tomllib
from pathlib import Path

PASS, FAIL, KNOWN, FIXED, STALE = "PASS", "FAIL", "KNOWN", "FIXED", "STALE"
FIXED_MESSAGE = "passes now: remove it from the known-failures list"
REASON_LIMIT = 120
ROOT = Path(__file__).resolve().parents[2]


def add_arguments(parser, default_path):
    g = parser.add_argument_group("known failures")
    g.add_argument("--known-failures", default=str(default_path), metavar="FILE",
                   help=f"the list of checks known to fail, with reasons (default: {shown(default_path)})")
    g.add_argument("--no-known-failures", action="store_true", help="ignore the list: every failure counts as failed")
    g.add_argument("--write-known-failures", action="store_true",
                   help="run, then rewrite the list from this run's failures (keeping the reasons of entries still failing)")


def shown(path):
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def reason_from(message, limit=REASON_LIMIT):
    """The first non-empty line of a failure message, whitespace squashed, at most `limit` characters."""
    line = next((s for s in str(message or "").splitlines() if s.strip()), "") or "failed"
    line = " ".join(line.split())
    return line if len(line) <= limit else line[:limit - 1].rstrip() + "…"


def load(path):
    """{id: {"reason": str, "query": str (optional)}}; a missing file is an empty list."""
    path = Path(path)
    if not path.exists():
        return {}
    with path.open("rb") as f:
        data = tomllib.load(f)
    out = {}
    for key, entry in data.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("reason"), str) or not entry["reason"].strip():
            raise ValueError(f"[{key}] needs a one-line reason = \"...\"")
        unknown = set(entry) - {"reason", "query"}
        if unknown:
            raise ValueError(f"[{key}] has unknown keys {sorted(unknown)}")
        out[key] = entry
    return out


def few(ids, n=12):
    return f" ({', '.join(ids[:n])}{', …' if len(ids) > n else ''})" if ids else ""


def toml_string(s):
    # A JSON string is a TOML basic string, but for DEL, which TOML wants escaped.
    return json.dumps(s, ensure_ascii=False).replace("\x7f", "\\u007f")


class KnownFailures:
    """Classifies a suite's checks against its list, prints the summary, rewrites the list.

    `ids`: every check of the suite, in order (also those `--only` leaves out); `queries`:
    optional {id: header} recorded with each entry and compared on reading."""

    def __init__(self, suite, args, ids, queries=None, enabled=True):
        self.suite, self.path = suite, Path(args.known_failures)
        self.write_requested = args.write_known_failures
        self.ids, self.queries = list(ids), queries or {}
        self.use = enabled and not args.no_known_failures
        try:
            self.entries = load(self.path) if self.use else {}
        except ValueError as e:  # tomllib.TOMLDecodeError too
            raise SystemExit(f"{suite}: the known-failures list {shown(self.path)}: {e}") from None
        self.stale = {}
        for key, e in self.entries.items():
            if key not in self.ids:
                self.stale[key] = "no such check: remove it from the known-failures list"
            elif "query" in e and self.queries and e["query"] != self.queries.get(key):
                self.stale[key] = (f"listed for {e['query']!r}, but {key} is now {self.queries.get(key)!r}: the ids moved, "
                                   "correct the list (or regenerate it with --write-known-failures)")
        self.outcomes = {}  # id -> (outcome, failure message or None)

    def listed(self, key):
        return self.entries.get(key) if key not in self.stale else None

    def record(self, key, passed, message=None, cause=None):
        """Records one check's result; returns (outcome, what to print after the check's name).
        `cause`: the reason a new entry gets (default: the message's first line)."""
        entry = self.listed(key)
        if passed:
            outcome = FIXED if entry else PASS
            note = f"{FIXED_MESSAGE} (listed: {entry['reason']})" if entry else ""
        else:
            outcome = KNOWN if entry else FAIL
            note = message or "failed"
            if entry:
                note += f"\n       known failure: {entry['reason']}"
        self.outcomes[key] = (outcome, cause or message)
        return outcome, note

    def count(self, outcome):
        return sum(o == outcome for o, _ in self.outcomes.values())

    def failed_ids(self):
        return list(dict.fromkeys([*(k for k, (o, _) in self.outcomes.items() if o in (FAIL, FIXED)), *self.stale]))

    def finish(self):
        """Prints stale entries, the failed ids, the known count and the last line; returns the exit status."""
        if self.write_requested:
            self.write()
        else:
            for key, why in self.stale.items():
                print(f"STALE {key}: {why}", flush=True)
        failed = self.failed_ids()
        if failed:
            print("\nfailed: " + ", ".join(failed))
        known = self.count(KNOWN)
        if self.use:
            print(f"{self.suite}: {known} known failures (see {shown(self.path)})")
        print(f"{self.suite}: {self.count(PASS)} passed, {len(failed)} failed", flush=True)
        return 1 if failed else 0

    def write(self):
        """Rewrites the list from this run; afterwards the run counts against the new list."""
        old = {k: e for k, e in self.entries.items() if k not in self.stale}
        new = {}
        for key in self.ids:
            if key in self.outcomes:
                outcome, message = self.outcomes[key]
                if outcome in (FAIL, KNOWN):
                    new[key] = {"reason": old[key]["reason"] if key in old else reason_from(message)}
            elif key in old:  # not run this time: stays as it was
                new[key] = {"reason": old[key]["reason"]}
            if key in new and key in self.queries:
                new[key]["query"] = self.queries[key]
        lines = [f"# The checks of {shown(sys.argv[0])} known to fail today, each with a one-line reason",
                 "# (vm-tests/clients/known_failures.py). A listed check that passes fails the suite: remove",
                 f"# its entry. Regenerate: {shown(sys.argv[0])} --write-known-failures (entries still",
                 "# failing keep their reasons; new ones get the failure's first line: edit it into a cause)."]
        for key, e in new.items():
            lines.append("")
            lines.append(f"[{toml_string(key)}]")
            if "query" in e:
                lines.append(f"query = {toml_string(e['query'])}")
            lines.append(f"reason = {toml_string(e['reason'])}")
        self.path.write_text("\n".join(lines) + "\n")
        assert load(self.path) == new, "the written list reads back differently"
        added = [k for k in new if k not in old]
        removed = [k for k in self.entries if k not in new]
        print(f"\nknown failures: wrote {shown(self.path)}: {len(new)} entries; added {len(added)}{few(added)}, removed {len(removed)}{few(removed)}")
        self.use, self.entries, self.stale = True, new, {}
        self.outcomes = {k: ((KNOWN if k in new else PASS), m) for k, (o, m) in self.outcomes.items()}
