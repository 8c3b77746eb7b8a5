#!/usr/bin/env python3
"""scripts/check-nix's evaluation half (NIXPKGS_LIB set): evaluates the flake as Nix would
(eval.nix: the flake's own outputs and module wrappers, nixpkgs' lib, NixOS options declared
with nixpkgs' types) and checks, for

- every VM test (the flake's checks): every node and every specialisation evaluates with no
  failed assertion, runs exactly the units of the roles its description gives it, renders a
  cluster file that `triadctl config validate` accepts (what the checkConfig build step runs),
  opens the ports of its roles; switching a node to each specialisation restarts, reloads,
  stops and starts exactly what the namespace driver's switch does (switchplan.py on both
  sides: Triad's daemons restart, HAProxy reloads); the test script passes pyflakes as the
  NixOS driver lints it;
- every documented deployment (docs/nix.md's blocks, docs/examples/*/flake.nix) and every host
  of docs/examples/*.toml: the same per-host checks;
- the cases of cases.nix (the idiomatic enable line, several modules on one host, a state
  directory outside /var/lib, wrong topologies failing with their message, no PostgreSQL
  default, firewall and VRRP of the board example);
- every complete cluster file in docs/ (```toml blocks with [cluster] and [[hosts]], and
  docs/examples/*.toml): `triadctl config validate`.
Standard library only (pyflakes from scripts/requirements-test.txt)."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "vm-tests" / "driver"))
import switchplan  # noqa: E402

LIB = sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else None
TRIADCTL = Path(os.environ.get("TRIADCTL", ROOT / "target/debug/triadctl"))
SERVICES = tomllib.loads((ROOT / "nixos-modules/services.toml").read_text())
SUITE = tomllib.loads((ROOT / "vm-tests/scenarios/tests.toml").read_text())
# The NixOS test driver's symbols (Driver.test_symbols, nixos/lib/test-driver): pyflakes'
# builtins besides the machine names.
DRIVER_SYMBOLS = ("start_all,test_script,machines_qemu,machines_nspawn,vlans,driver,log,os,create_machine,subtest,"
                  "run_tests,join_all,retry,serial_stdout_off,serial_stdout_on,polling_condition,BaseMachine,t,debug")
failures = []
quiet = "-v" not in sys.argv


def check(cond, what, detail=""):
    if not cond or not quiet:
        print(("  ok: " if cond else "  FAILED: ") + what + (f" ({detail})" if detail and not cond else ""))
    if not cond:
        failures.append(what)
    return cond


def nix_eval(what):
    p = subprocess.run(
        ["nix-instantiate", "--eval", "--strict", "--json", str(ROOT / "nixos-modules/tests/eval.nix"),
         "--arg", "lib", f"import {LIB}", "--argstr", "what", what],
        capture_output=True, text=True)
    err = "\n".join(line for line in p.stderr.splitlines() if "nixbld" not in line)
    return (json.loads(p.stdout) if p.returncode == 0 else None), err


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items()) + " }"


def to_toml(d, prefix=""):
    """The TOML json2toml (pkgs.formats.toml) writes for these values; checked by reading it back."""
    out = []
    tables = {k: v for k, v in d.items() if isinstance(v, dict)}
    arrays = {k: v for k, v in d.items() if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)}
    for k, v in d.items():
        if k not in tables and k not in arrays:
            out.append(f"{json.dumps(k)} = {toml_value(v)}")
    for k, v in tables.items():
        out.append(f"\n[{prefix}{json.dumps(k)}]")
        out.append(to_toml(v, f"{prefix}{json.dumps(k)}."))
    for k, v in arrays.items():
        for item in v:
            out.append(f"\n[[{prefix}{json.dumps(k)}]]")
            out.append(to_toml(item, f"{prefix}{json.dumps(k)}."))
    return "\n".join(out) + "\n"


def validate(settings, what):
    text = to_toml(settings)
    check(tomllib.loads(text) == settings, f"{what}: the rendered cluster.toml reads back as the settings")
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
        f.write(text)
    v = subprocess.run([str(TRIADCTL), "config", "validate", f.name], capture_output=True, text=True)
    Path(f.name).unlink()
    check(v.returncode == 0, f"{what}: triadctl config validate accepts the rendered cluster.toml (checkConfig)", (v.stdout + v.stderr).strip())


def expected_units(settings, host):
    me = next((h for h in settings.get("hosts", []) if h["name"] == host), None)
    roles = set(me["roles"]) if me else set()
    want = {n for n, s in SERVICES.items() if roles & set(s["roles"]) and n != "haproxy"}
    if "balancer" in roles:
        want.add("haproxy")
        if settings.get("balancer", {}).get("virtual_ip"):
            want.add("keepalived")
    return roles, want


def check_host(s, settings, host, what):
    """The checks every evaluated host gets."""
    check(s["failedAssertions"] == [], f"{what}: no failed assertion", s["failedAssertions"])
    check(s["warnings"] == [], f"{what}: no warning", s["warnings"])
    roles, want = expected_units(settings, host)
    have = {n for n in s["units"] if n.startswith("triad-") or n in ("haproxy", "keepalived")}
    check(have == want, f"{what}: runs exactly the units of its roles {sorted(roles)}", f"has {sorted(have)}, wants {sorted(want)}")
    if not roles:
        return
    t = s["triad"]
    check(t["settings"] == settings, f"{what}: services.triad.settings is its description")
    check("triadctl config validate" in t["configFileScript"], f"{what}: the cluster file's build runs triadctl config validate")
    validate(t["settings"], what)
    for name in sorted(want & have):
        u = s["units"][name]
        if SERVICES.get(name, {}).get("command", [""])[0].startswith("@bin@"):
            check(t["configFile"] in u["Service"]["ExecStart"] and f"--host {host}" in u["Service"]["ExecStart"],
                  f"{what}: {name} starts with the cluster file's store path and --host {host}", u["Service"]["ExecStart"])
            spec = SERVICES[name]
            check(u["Service"]["Restart"] == spec["restart"] and u["Service"]["KillMode"] == spec["kill_mode"]
                  and u["Unit"].get("StartLimitBurst") == spec["start_limit_burst"], f"{what}: {name} restart policy as services.toml says")
            sd = u["Service"].get("StateDirectory")
            if "state_directory" not in spec:
                # triad-keeper-fence only reads the keeper's directory (and runs as root).
                check(sd is None, f"{what}: {name} declares no StateDirectory= (services.toml has none)", f"{sd}")
            elif t["stateDir"].startswith("/var/lib/"):
                check(sd is not None and ("/var/lib/" + sd).startswith(t["stateDir"] + "/"), f"{what}: {name}'s StateDirectory= is under stateDir", f"{sd}")
            else:
                check(sd is None, f"{what}: {name} has no StateDirectory= (stateDir {t['stateDir']} is outside /var/lib)", sd)
    if "haproxy" in want & have:
        u = s["units"]["haproxy"]
        cfg = s["etc"]["haproxy.cfg"]["source"]
        check(cfg not in json.dumps(u["Service"]) and u["Unit"].get("X-Reload-Triggers"),
              f"{what}: HAProxy's unit names /etc/haproxy.cfg, its store path is a reload trigger only")
    fw = s["firewall"]
    ports = settings.get("ports", {})
    public = set()
    if "app" in roles or "balancer" in roles:
        public |= {ports.get("engine_sql", 5433), ports.get("engine_http", 8080), ports.get("designer", 8090)}
    if "balancer" in roles:
        public |= {ports.get("balancer_stats", 8404), ports.get("balancer_prometheus", 8405)}
        public |= {p["sql_port"] for p in settings.get("profiles", {}).values() if "sql_port" in p}
    check(fw["enable"] and public <= set(fw["allowedTCPPorts"]), f"{what}: firewall on, client ports {sorted(public)} open", fw["allowedTCPPorts"])
    internal = set()
    if "coordinator" in roles:
        internal |= {ports.get("coordinator_client", 2379), ports.get("coordinator_peer", 2380)}
    if "app" in roles:
        internal |= {ports.get(k, d) for k, d in (("postgres", 5432), ("keeper_api", 8008), ("db_primary", 5000), ("db_replicas", 5001), ("engine_peer", 7100))}
    check(not internal & set(fw["allowedTCPPorts"]), f"{what}: cluster-internal ports {sorted(internal)} are not open to everyone")
    for h in settings["hosts"]:
        check(all(re.search(rf"-s {re.escape(h['address'])} .*--dports [0-9,]*\b{p}\b", fw["extraCommands"]) for p in internal),
              f"{what}: cluster-internal ports open to {h['name']} ({h['address']})")
    if "keepalived" in want & have:
        k = s["keepalived"]
        inst = k["vrrpInstances"]["triad"]
        check(k["openFirewall"] and "-p vrrp" in fw["extraCommands"], f"{what}: VRRP passes the firewall (keepalived openFirewall)")
        check(inst["trackScripts"] and all(n in k["vrrpScripts"] for n in inst["trackScripts"])
              and any("haproxy" in k["vrrpScripts"][n]["script"] for n in inst["trackScripts"]),
              f"{what}: the VRRP instance tracks HAProxy")


def nixos_plan(old, new):
    return switchplan.plan(old["units"], new["units"])


def check_vm_tests():
    names, err = nix_eval("tests")
    if not check(names is not None, "the flake's checks evaluate", err):
        return {}
    ci = {n: {**SUITE["defaults"], **e} for n, e in SUITE["scenarios"].items() if "expect_failure" not in e}
    check(sorted(names) == sorted(ci), f"one VM test per scenario CI runs: {sorted(names)}")
    checks_py = (ROOT / "vm-tests/lib/checks.py").read_text()
    plans = {}
    for name, t in ci.items():
        print(f"VM test {name}:")
        r, err = nix_eval(f"test:{name}")
        if not check(r is not None, f"{name}: evaluates (every node and specialisation)", err[-3000:]):
            continue
        script = (ROOT / "vm-tests/scenarios" / t.get("script", f"{name}.py")).read_text()
        check(r["testScript"] == checks_py + "\n" + script, f"{name}: testScript is lib/checks.py + its scenario script")
        check(sorted(r["nodes"]) == sorted(t["nodes"]) and r["globalTimeout"] == t["global_timeout"], f"{name}: nodes and globalTimeout from tests.toml")
        descriptions = {"default": t["cluster"], **t.get("descriptions", {})}
        parsed = {k: tomllib.loads((ROOT / "vm-tests/scenarios" / f).read_text()) for k, f in descriptions.items()}
        for node, s in r["nodes"].items():
            boot = t.get("boot_description", {}).get(node, "default")
            check_host(s, parsed[boot], node, f"{name}/{node}")
            for spec_name, sp in s["specialisations"].items():
                check_host(sp, parsed[spec_name], node, f"{name}/{node}/specialisation {spec_name}")
                p = nixos_plan(s, sp)
                plans[(name, node, spec_name)] = p
                # The namespace driver's triad-switch-config does the same with its units.
                boot_file = ROOT / "vm-tests/scenarios" / descriptions[boot]
                spec_file = ROOT / "vm-tests/scenarios" / descriptions[spec_name]
                dp = subprocess.run([sys.executable, str(ROOT / "vm-tests/driver/supervisor.py"), "--plan", str(ROOT / "nixos-modules/services.toml"),
                                     node, str(boot_file), str(spec_file), str(TRIADCTL.parent)], capture_output=True, text=True)
                if check(dp.returncode == 0, f"{name}/{node}: the namespace driver plans the switch to {spec_name}", dp.stderr[-1000:]):
                    driver = json.loads(dp.stdout)
                    same = all(sorted(set(p[k]) & set(SERVICES)) == sorted(driver[k]) for k in ("stop", "start", "restart", "reload"))
                    check(same, f"{name}/{node}: NixOS and the namespace driver switch to {spec_name} alike", f"nixos {p}, driver {driver}")
                roles_before, before = expected_units(parsed[boot], node)
                roles_after, after = expected_units(parsed[spec_name], node)
                # Another description changes the daemons' cluster file; the same one changes nothing.
                kept = before & after if parsed[spec_name] != parsed[boot] else set()
                daemons = {u for u in kept if u.startswith("triad-") and u != "triad-haproxy-internal"}
                haproxies = {u for u in kept if u in ("triad-haproxy-internal", "haproxy")}
                what = f"{name}/{node}: switch to {spec_name}"
                check(set(p["restart"]) & (before | after) == daemons, f"{what} restarts Triad's daemons {sorted(daemons)}", p)
                check(set(p["reload"]) & (before | after) == haproxies, f"{what} reloads (does not restart) HAProxy {sorted(haproxies)}", p)
                check(set(p["stop"]) >= before - after and set(p["start"]) >= after - before, f"{what} stops {sorted(before - after)}, starts {sorted(after - before)}", p)
                check(not (set(p["restart"]) | set(p["reload"]) | set(p["stop"]) | set(p["start"])) - (before | after),
                      f"{what} leaves the other units alone", p)
        lint(name, r["testScript"], t["nodes"])
    return plans


def lint(name, script, nodes):
    """pyflakes and mypy on the test script as the NixOS driver runs them before a VM test
    (nixos/lib/testing/driver.nix): for pyflakes the machine names and the driver's symbols
    are builtins, for mypy they are declared with their types (mypy/README.md)."""
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(script)
    env = dict(os.environ, PYFLAKES_BUILTINS=",".join(sorted(re.sub(r"\W", "_", n) for n in nodes)) + "," + DRIVER_SYMBOLS)
    p = subprocess.run([sys.executable, "-m", "pyflakes", f.name], capture_output=True, text=True, env=env)
    Path(f.name).unlink()
    check(p.returncode == 0, f"{name}: the test script passes pyflakes as the NixOS driver runs it", (p.stdout + p.stderr).strip())
    # mypy, as nixos/lib/testing/driver.nix runs it (skipTypeCheck = false): the driver's symbols
    # with their types, one `NAME: Machine;` line per node, then the script.
    typed = ROOT / "nixos-modules/tests/mypy"
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "testScriptWithTypes"
        hints = " ".join(re.sub(r"\W", "_", n) + ": Machine;" for n in sorted(nodes))
        f.write_text((typed / "prepend.py").read_text() + hints + "\n" + script)
        p = subprocess.run([sys.executable, "-m", "mypy", "--no-implicit-optional", "--pretty", "--no-color-output", "--cache-dir", str(Path(tmp) / "cache"), str(f)],
                           capture_output=True, text=True, env=dict(os.environ, MYPYPATH=str(typed)))
    check(p.returncode == 0, f"{name}: the test script passes mypy as the NixOS driver runs it", (p.stdout + p.stderr).strip()[-2000:])


def lint_all():
    """Without nixpkgs' lib: the scripts assembled as vm-tests/nixos assembles them."""
    checks_py = (ROOT / "vm-tests/lib/checks.py").read_text()
    for name, e in SUITE["scenarios"].items():
        if "expect_failure" in e:
            continue
        t = {**SUITE["defaults"], **e}
        lint(name, checks_py + "\n" + (ROOT / "vm-tests/scenarios" / t.get("script", f"{name}.py")).read_text(), t["nodes"])


def check_flake():
    print("flake outputs:")
    r, err = nix_eval("flake")
    if check(r is not None, "packages, checks.build, apps, devShells, formatter and nixosModules evaluate", err):
        check("warning" not in err, "no evaluation warning (deprecated aliases)", err)
        check(sorted(r["nixosModules"]) == ["app-host", "balancer", "coordinator-host", "default"], "nixosModules")


def doc_deployments(tmp):
    """docs/nix.md's ```nix blocks whose first line names a file (`# cluster.nix ...`) form one
    deployment directory; docs/examples/*/flake.nix are deployments as they are. The user's
    hardware configuration (./hardware/NAME.nix) is an empty module."""
    dirs = []
    for doc in sorted((ROOT / "docs").glob("*.md")):
        blocks = re.findall(r"```nix\n(.*?)```", doc.read_text(), re.S)
        files = {}
        for b in blocks:
            m = re.match(r"# ([\w./-]+\.nix)\b", b)
            if m:
                check(m.group(1) not in files, f"{doc.name}: one block per file ({m.group(1)})")
                files[m.group(1)] = b
        if "flake.nix" not in files:
            continue
        d = Path(tmp) / doc.stem
        for name, text in files.items():
            (d / name).parent.mkdir(parents=True, exist_ok=True)
            (d / name).write_text(text)
        # the user's hardware configuration: one (empty) file per host the description names
        for name in re.findall(r'name = "([\w-]+)";', "\n".join(files.values())):
            (d / "hardware").mkdir(parents=True, exist_ok=True)
            (d / "hardware" / f"{name}.nix").write_text("{ }\n")
        dirs.append((f"docs/{doc.name}", d))
    for flake in sorted((ROOT / "docs/examples").glob("*/flake.nix")):
        dirs.append((str(flake.parent.relative_to(ROOT)), flake.parent))
    return dirs


def check_deployments():
    with tempfile.TemporaryDirectory() as tmp:
        for label, d in doc_deployments(tmp):
            print(f"deployment {label}:")
            r, err = nix_eval(f"deployment:{d}")
            if not check(r is not None, f"{label}: every host evaluates", err[-3000:]):
                continue
            for host, s in r.items():
                settings = s["triad"].get("settings") if s["triad"] else {}
                check_host(s, settings or {}, s["hostName"], f"{label}/{host}")
            check(len(r) >= 4, f"{label}: a complete deployment ({sorted(r)})")


def check_fragments():
    """```nix blocks of docs/ that are not whole files: each must be a module body that
    evaluates on a balancer of the example (with a second balancer) and keeps the rendered
    description valid."""
    with tempfile.TemporaryDirectory() as tmp:
        for doc in sorted((ROOT / "docs").glob("*.md")):
            for i, b in enumerate(re.findall(r"```nix\n(.*?)```", doc.read_text(), re.S)):
                if re.match(r"# ([\w./-]+\.nix)\b", b):
                    continue
                f = Path(tmp) / f"{doc.stem}-{i}.nix"
                f.write_text("{\n" + b + "}\n")
                what = f"{doc.name} fragment {i + 1} ({b.strip().splitlines()[0][:60]})"
                r, err = nix_eval(f"fragment:{f}")
                if check(r is not None, f"{what}: evaluates", err[-2000:]):
                    check_host(r, r["triad"]["settings"], "balancer", what)


def check_cases():
    names, err = nix_eval("cases")
    if not check(names is not None, "cases.nix evaluates", err):
        return
    example = tomllib.loads((ROOT / "docs/examples/cluster.toml").read_text())
    board = tomllib.loads((ROOT / "docs/examples/board-cluster.toml").read_text())
    print("cases:")
    results = {n: nix_eval(f"case:{n}") for n in names}
    for n, (r, err) in results.items():
        for prefix, settings in (("example-", example), ("board-", board)):
            if n.startswith(prefix) and check(r is not None, f"{n}: evaluates", err[-2000:]):
                check_host(r, settings, n[len(prefix):], n)
    expect_ok = ["idiomatic-enable", "all-modules", "not-in-description", "state-dir-elsewhere", "password-file"]
    for n in expect_ok:
        r, err = results[n]
        check(r is not None and r["failedAssertions"] == [], f"{n}: evaluates with no failed assertion", err[-2000:] if r is None else r["failedAssertions"])
    ok = lambda n: results[n][0] or {"units": {}, "failedAssertions": [], "tmpfiles": []}  # noqa: E731
    check({u for u in ok("idiomatic-enable")["units"] if u.startswith("triad-")} == expected_units(example, "app1")[1] - {"haproxy"}, "idiomatic-enable: app1 runs its units")
    check(not any(u.startswith("triad-") for u in ok("not-in-description")["units"]), "not-in-description: a host outside the description runs no Triad unit")
    s = ok("state-dir-elsewhere")
    # The daemons with state on disk take --state-dir (services.toml says which); the engine and
    # the designer keep nothing on disk and take no such flag.
    with_state = {n for n, spec in SERVICES.items() if isinstance(spec, dict) and "--state-dir" in spec.get("command", [])}
    check(s["units"] and all("StateDirectory" not in u["Service"] and ("--state-dir /srv/triad" in u["Service"]["ExecStart"]) == (n in with_state) for n, u in s["units"].items() if n.startswith("triad-") and n != "triad-haproxy-internal"),
          f"state-dir-elsewhere: daemons with state ({', '.join(sorted(with_state))}) use /srv/triad, the others take no --state-dir, no StateDirectory= under /var/lib",
          {n: u["Service"]["ExecStart"] for n, u in s["units"].items()})
    check({"d /srv/triad/coordinator 0700 triad triad -", "d /srv/triad/postgresql/17 0700 postgres postgres -"} <= set(s["tmpfiles"]), "state-dir-elsewhere: tmpfiles makes the daemons' directories with their owners", s["tmpfiles"])
    check(len(ok("all-modules")["tmpfiles"]) == len(set(ok("all-modules")["tmpfiles"])), "all-modules: no tmpfiles line twice", ok("all-modules")["tmpfiles"])
    check("triad" in json.dumps(ok("password-file")["units"].get("triad-keeper", {}).get("Service", {}).get("SupplementaryGroups", [])), "password-file: the keeper (user postgres) shares group triad with the engine")
    for n, expect in (("role-not-in-description", "has no `app` role"), ("state-dir-mismatch", "differs from settings.cluster.state_dir"),
                      ("two-hosts-one-address", "two hosts with one address: 10.20.0.11"), ("two-coordinator-members", "odd number (at least three)")):
        r, err = results[n]
        check(r is not None and any(expect in m for m in r["failedAssertions"]), f"{n}: fails with {expect!r}", err[-2000:] if r is None else r["failedAssertions"])
    r, err = results["no-postgresql"]
    check(r is None and "postgresqlPackage" in err, "no-postgresql: an app host without services.triad.postgresqlPackage does not evaluate", (err or json.dumps(r))[-500:])
    for n in ("explicit-lb1", "explicit-lb2"):
        r, err = results[n]
        if check(r is not None, f"{n}: evaluates", err[-2000:]):
            check_host(r, board, n.split("-")[1], n)
    b1, b2 = ok("board-lb1"), ok("board-lb2")
    p1 = b1.get("keepalived", {}).get("vrrpInstances", {}).get("triad", {}).get("priority")
    p2 = b2.get("keepalived", {}).get("vrrpInstances", {}).get("triad", {}).get("priority")
    check(p1 is not None and p2 is not None and p1 > p2, f"board: the first balancer of the description is the preferred VRRP master ({p1} > {p2})")


def check_cluster_files():
    print("cluster files in docs/:")
    files = sorted((ROOT / "docs/examples").glob("*.toml"))
    with tempfile.TemporaryDirectory() as tmp:
        for doc in sorted((ROOT / "docs").glob("*.md")):
            for i, b in enumerate(re.findall(r"```toml\n(.*?)```", doc.read_text(), re.S)):
                if "[cluster]" in b and "[[hosts]]" in b:
                    f = Path(tmp) / f"{doc.stem}-{i}.toml"
                    f.write_text(b)
                    files.append(f)
        for f in files:
            v = subprocess.run([str(TRIADCTL), "config", "validate", str(f)], capture_output=True, text=True)
            check(v.returncode == 0, f"triadctl config validate {f.name}", (v.stdout + v.stderr).strip())


def main():
    if LIB is None:
        lint_all()
        if failures:
            sys.exit(f"check-nix: {len(failures)} test script check(s) failed (pyflakes, mypy)")
        print("check-nix: every VM test script passes pyflakes and mypy as the NixOS driver runs them")
        return
    if shutil.which("nix-instantiate") is None:
        sys.exit("check-nix: nix-instantiate not found")
    check_flake()
    plans = check_vm_tests()
    check_deployments()
    check_fragments()
    check_cases()
    check_cluster_files()
    out = os.environ.get("TRIAD_NIX_SWITCH_PLANS")
    if out:  # for the namespace driver's comparison (vm-tests/driver/selftest.py)
        Path(out).write_text(json.dumps({"|".join(k): v for k, v in plans.items()}, indent=1, sort_keys=True))
    if failures:
        print(f"check-nix: {len(failures)} check(s) failed:")
        for f in failures:
            print(f"  - {f}")
        sys.exit(1)
    print("check-nix: every VM node and specialisation, every documented host and case evaluates and checks out")


if __name__ == "__main__":
    main()
