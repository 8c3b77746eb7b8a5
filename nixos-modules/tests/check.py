#!/usr/bin/env python3
"""Evaluates the NixOS modules for the example topology (docs/examples/cluster.toml) with
nixpkgs' lib (argv[1]) and checks what they produce; then checks that wrong topologies fail
evaluation with their assertion's message. Run by scripts/check-nix when NIXPKGS_LIB is set.
Standard library only."""

import json
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIB = sys.argv[1]
EXAMPLE = ROOT / "docs/examples/cluster.toml"
SERVICES = tomllib.loads((ROOT / "vm-tests/services.toml").read_text())
TRIADCTL = ROOT / "target/debug/triadctl"
failures = []


def evaluate(settings, host, memory_max=""):
    p = subprocess.run(
        ["nix-instantiate", "--eval", "--strict", "--json", str(ROOT / "nixos-modules/tests/eval.nix"),
         "--arg", "lib", f"import {LIB}", "--arg", "settings", f"builtins.fromJSON {json.dumps(json.dumps(settings))}",
         "--argstr", "host", host, "--argstr", "memoryMax", memory_max],
        capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("\n".join(l for l in p.stderr.splitlines() if "nixbld" not in l))
    return json.loads(p.stdout)


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return "{ " + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + " }"


def to_toml(d):
    """What pkgs.formats.toml renders, for the tables this schema uses."""
    out = []
    for k, v in d.items():
        if not isinstance(v, (dict, list)) or (isinstance(v, list) and not all(isinstance(x, dict) for x in v)):
            out.append(f"{k} = {toml_value(v)}")
    for k, v in d.items():
        if isinstance(v, dict):
            out.append(f"\n[{k}]")
            out += [f"{kk} = {toml_value(vv)}" for kk, vv in v.items()]
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            for item in v:
                out.append(f"\n[[{k}]]")
                out += [f"{kk} = {toml_value(vv)}" for kk, vv in item.items()]
    return "\n".join(out) + "\n"


def check(cond, what):
    print(("  ok: " if cond else "  FAILED: ") + what)
    if not cond:
        failures.append(what)


example = tomllib.loads(EXAMPLE.read_text())
for host in [h["name"] for h in example["hosts"]]:
    print(f"host {host}:")
    r = evaluate(example, host, "2G")
    check(r["failedAssertions"] == [], f"no failed assertion {r['failedAssertions']}")
    roles = set(next(h for h in example["hosts"] if h["name"] == host)["roles"])
    want = sorted(n for n, s in SERVICES.items() if roles & set(s["roles"]) and n != "haproxy")
    check(sorted(r["units"]) == want, f"units {sorted(r['units'])} == services.toml's for roles {sorted(roles)}: {want}")
    for name, u in r["units"].items():
        spec = SERVICES[name]
        check(f"--host {host}" in u["ExecStart"] or "haproxy" in name, f"{name}: ExecStart names the host ({u['ExecStart']})")
        check(u["Restart"] == spec["restart"] and u["KillMode"] == spec["kill_mode"] and u["startLimitBurst"] == spec["start_limit_burst"],
              f"{name}: Restart={u['Restart']} KillMode={u['KillMode']} StartLimitBurst={u['startLimitBurst']} as services.toml says")
    if "triad-engine" in r["units"]:
        check(r["units"]["triad-engine"]["MemoryMax"] == "2G", "triad-engine: MemoryMax from services.triad.app.engine.memoryMax")
        check(r["units"]["triad-keeper"]["User"] == "postgres", "triad-keeper runs as postgres (PostgreSQL is its child)")
    check(r["haproxy"] == ("balancer" in roles), "services.haproxy enabled exactly on the balancer")
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
        f.write(to_toml(r["settings"]))
    v = subprocess.run([str(TRIADCTL), "config", "validate", f.name], capture_output=True, text=True)
    Path(f.name).unlink()
    check(v.returncode == 0, f"the rendered cluster.toml passes triadctl config validate {v.stderr.strip()}")

print("wrong topologies:")
bad_address = json.loads(json.dumps(example))
bad_address["hosts"][1]["address"] = bad_address["hosts"][0]["address"]
two_members = json.loads(json.dumps(example))
two_members["hosts"][2]["roles"] = ["balancer"]
for settings, expect in ((bad_address, "two hosts with one address: 10.20.0.11"), (two_members, "odd number (at least three)")):
    r = evaluate(settings, "app1")
    check(any(expect in m for m in r["failedAssertions"]), f"fails with {expect!r}: {r['failedAssertions']}")

print("VM tests (the flake's checks):")
p = subprocess.run(["nix-instantiate", "--eval", "--strict", "--json", str(ROOT / "nixos-modules/tests/vm-tests.nix"), "--arg", "lib", f"import {LIB}"],
                   capture_output=True, text=True)
check(p.returncode == 0, "vm-tests/nixos evaluates " + "\n".join(l for l in p.stderr.splitlines() if "nixbld" not in l))
if p.returncode == 0:
    vm = json.loads(p.stdout)
    suite = tomllib.loads((ROOT / "vm-tests/scenarios/tests.toml").read_text())
    ci = {n: e for n, e in suite["scenarios"].items() if "expect_failure" not in e}
    check(sorted(vm) == sorted(ci), f"one VM test per scenario CI runs: {sorted(vm)}")
    checks_py = (ROOT / "vm-tests/lib/checks.py").read_text()
    for n, t in vm.items():
        script = (ROOT / "vm-tests/scenarios" / ci[n].get("script", f"{n}.py")).read_text()
        check(t["testScript"] == checks_py + "\n" + script, f"{n}: testScript is lib/checks.py + its scenario script")
        check(t["nodes"] == suite["defaults"]["nodes"] and t["globalTimeout"] == {**suite["defaults"], **ci[n]}["global_timeout"], f"{n}: nodes and globalTimeout from tests.toml")

if failures:
    sys.exit(f"check-nix: {len(failures)} module check(s) failed")
print("check-nix: modules evaluate for the example topology; wrong topologies fail with their messages")
