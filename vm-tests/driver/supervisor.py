#!/usr/bin/env python3
"""The service manager of one test host of the namespace driver: the part of systemd a Triad
scenario relies on, applied to the services of nixos-modules/services.toml.

The driver starts one supervisor per host, inside the host's network namespace and in a
private mount and UTS namespace. The supervisor

- binds the host's own files over the shared file system (/etc/hosts, /etc/triad,
  /var/lib/triad, /tmp, /run/postgresql) and sets the host name;
- builds the host's configuration the way NixOS builds a system (`build`): the cluster
  description and the HAProxy configurations rendered from it by `triadctl haproxy-config`
  at content-addressed paths (a store), and the definition of every unit of the host's roles
  with the placeholders of services.toml filled in; activates it (the /etc files) and starts
  the units in `after` order, each in its own memory cgroup (MemoryMax=) and session, output
  into the host's journal;
- switches to another cluster description (`triad-switch-config NAME`) as NixOS's
  switch-to-configuration does (switchplan.py): stops units that went away and those whose
  definition changed, activates the new files, reloads the units whose reload triggers alone
  changed (ExecReload=: the configuration check, then the reload signal), starts new and
  changed units, leaves the others alone;
- applies Restart=on-failure, RestartSec=, StartLimitBurst=/StartLimitIntervalSec=,
  KillMode=process|control-group, OOMPolicy=stop, and keeps ActiveState/SubState/Result/
  NRestarts/MainPID/ExecMainStatus as systemd defines them (Result is reset when a unit starts
  again, NRestarts counts automatic restarts and is flushed by a manual start);
- answers `systemctl`, `journalctl` and `triad-switch-config` (the hostbin/ shims) on a unix
  socket.

Standard library only. Configuration: one JSON file written by the driver (argv[1]).
"""

import contextlib
import ctypes
import hashlib
import json
import os
import shlex
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
import tomllib
from collections import deque
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import switchplan  # noqa: E402
from cgroups import Cgroups, Sessions, parse_bytes  # noqa: E402

CLEAN_SIGNALS = {signal.SIGHUP, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE}
TICK = 0.05


class Journal:
    """The host's journal: JSON lines, one copy on the host's disk (wiped with it) and one in
    the run's log directory (kept for debugging)."""

    def __init__(self, paths, hostname):
        self.lock = threading.Lock()
        self.hostname = hostname
        self.files = []
        for p in paths:
            Path(p).parent.mkdir(parents=True, exist_ok=True)
            self.files.append(open(p, "a", buffering=1, encoding="utf-8"))

    def write(self, unit, ident, pid, message):
        record = json.dumps({"t": time.time(), "u": unit, "i": ident, "p": pid, "m": message})
        with self.lock:
            for f in self.files:
                f.write(record + "\n")

    def system(self, unit, message):
        self.write(unit, "systemd", 1, f"{unit}.service: {message}" if unit else message)


class Unit:
    def __init__(self, name, spec, definition, supervisor):
        self.name = name
        self.spec = spec
        # What the unit runs, from the configuration it was last (re)started or reloaded with.
        self.definition = definition
        self.sup = supervisor
        self.active_state = "inactive"
        self.sub_state = "dead"
        self.result = "success"
        self.n_restarts = 0
        self.flush_n_restarts = False
        self.forbid_restart = False
        self.main_pid = 0
        self.exec_main_code = 0
        self.exec_main_status = 0
        self.starts = deque()
        self.restart_at = None
        self.stop_deadline = None
        self.stopping = None  # "stop" (manual) or "final" (after the main process exited)
        self.oom_seen = 0
        self.cgroup = supervisor.cgroups.path(supervisor.host, "units", f"{name}.service")

    # --- settings from services.toml ---
    @property
    def restart_policy(self):
        return self.spec.get("restart", "no")

    @property
    def kill_mode(self):
        return self.spec.get("kill_mode", "control-group")

    @property
    def memory_max(self):
        return parse_bytes(self.definition["memory_max"])

    def command(self):
        return self.definition["argv"]

    def properties(self):
        return {
            "Id": f"{self.name}.service",
            "Names": f"{self.name}.service",
            "ActiveState": self.active_state,
            "SubState": self.sub_state,
            "LoadState": "loaded",
            "Result": self.result,
            "NRestarts": str(self.n_restarts),
            "MainPID": str(self.main_pid),
            "ExecMainCode": str(self.exec_main_code),
            "ExecMainStatus": str(self.exec_main_status),
            "Restart": self.restart_policy,
            "RestartUSec": f"{self.spec.get('restart_sec', 0)}s",
            "StartLimitBurst": str(self.spec.get("start_limit_burst", 5)),
            "StartLimitIntervalUSec": f"{self.spec.get('start_limit_interval_sec', 10)}s",
            "KillMode": self.kill_mode,
            "MemoryMax": str(self.memory_max) if self.memory_max is not None else "infinity",
            "OOMPolicy": "stop",
            "ControlGroup": str(self.cgroup),
            "ExecStart": " ".join(shlex.quote(a) for a in self.command()),
        }

    def set_state(self, active, sub):
        self.active_state, self.sub_state = active, sub
        self.sup.changed.notify_all()


class Supervisor:
    def __init__(self, config):
        self.config = config
        self.host = config["host"]
        # The namespace driver isolates each host (own network, mount and UTS namespaces,
        # memory cgroups); the local demo runs its hosts side by side, unprivileged.
        self.isolated = config.get("isolated", True)
        self.cgroups = Cgroups(config.get("cgroup_root", "triad-vmtest")) if self.isolated else Sessions(Path(config["run_dir"]) / "units")
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.journal = Journal(config["journal"], self.host)
        self.units = {}
        self.order = []
        self.booted = False
        self.powering_off = False
        self.table = tomllib.loads(Path(config["services"]).read_text())

    # --- the host's configuration (NixOS: the system closure) ---
    def store(self, name, data):
        """A content-addressed file (NixOS: a store path): the same content, the same path."""
        d = Path(self.config["run_dir"]) / "store"
        d.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(name.encode() + b"\n" + data).hexdigest()[:32]
        path = d / f"{digest}-{name}"
        if not path.exists():
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        return str(path)

    def etc_dir(self):
        """/etc of the host (the demo's hosts share one file system: a directory each)."""
        return "/etc" if self.isolated else str(Path(self.config["run_dir"]) / "etc")

    def pg_major(self, description):
        """The major version of the PostgreSQL the keeper will run (the one it finds: the
        description's bin_dir, else the newest of /usr/lib/postgresql, else PATH)."""
        if self.config.get("pg_major"):
            return self.config["pg_major"]
        bin_dir = description.get("database", {}).get("bin_dir")
        candidates = [Path(bin_dir) / "postgres"] if bin_dir else []
        candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0, reverse=True)
        if shutil.which("postgres"):
            candidates.append(Path(shutil.which("postgres")))
        for exe in candidates:
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=10).stdout
                digits = "".join(ch if ch.isdigit() or ch == "." else " " for ch in out).split()
                if digits:
                    return digits[0].split(".")[0]
        return "unknown"

    def build(self, source):
        """Build the configuration of this host for the cluster description at `source`:
        {description, roles, units: {name: unit file as switchplan compares it}, argv, etc}.
        Raises RuntimeError when it cannot be built (like nixos-rebuild: nothing changes)."""
        data = Path(source).read_bytes()
        try:
            description = tomllib.loads(data.decode())
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            raise RuntimeError(f"{source}: {e}") from e
        me = next((h for h in description.get("hosts", []) if h.get("name") == self.host), None)
        roles = set(me.get("roles", [])) if me else set()
        c = self.config
        values = {
            "@config@": self.store("cluster.toml", data),
            "@host@": self.host,
            "@state_dir@": c["state_dir"],
            "@bin@": c["bin"],
            "@etc@": self.etc_dir(),
            "@pg_major@": self.pg_major(description),
            "@engine_memory_max@": c.get("engine_memory_max", ""),
        }
        skip = set(c.get("skip_units", []))
        wanted = [n for n, s in self.table.items() if roles & set(s.get("roles", [])) and n not in skip]
        # The rendered HAProxy configurations (NixOS: derivations running triadctl haproxy-config).
        for placeholder, role in (("@haproxy_internal@", "internal"), ("@haproxy_external@", "external")):
            if any(placeholder in json.dumps(self.table[n]) for n in wanted):
                p = subprocess.run([f"{c['bin']}/triadctl", "haproxy-config", "--role", role, "--host", self.host, values["@config@"]], capture_output=True)
                if p.returncode != 0:
                    raise RuntimeError(f"triadctl haproxy-config --role {role}: {p.stderr.decode(errors='replace').strip()}")
                values[placeholder] = self.store(f"triad-haproxy-{role}.cfg", p.stdout)

        def fill(text):
            for key, value in values.items():
                text = text.replace(key, value)
            return text

        units, argv, etc = {}, {}, {}
        for n in wanted:
            spec = self.table[n]
            argv[n] = [fill(a) for a in spec["command"]]
            environment = dict(c.get("environment", {}).get("*", {}), **c.get("environment", {}).get(n, {}))
            service = {
                "ExecStart": shlex.join(argv[n]),
                "Restart": spec.get("restart", "no"),
                "RestartSec": str(spec.get("restart_sec", 0)),
                "KillMode": spec.get("kill_mode", "control-group"),
                "Environment": environment,
            }
            if fill(spec.get("memory_max", "")):
                service["MemoryMax"] = fill(spec["memory_max"])
            if "reload_signal" in spec:
                service["ExecReload"] = [shlex.join(fill(a) for a in spec["reload_check"]), f"kill -{spec['reload_signal'].removeprefix('SIG')} $MAINPID"]
            unit = {
                "After": [f"{d}.service" for d in spec.get("after", [])],
                "StartLimitBurst": spec.get("start_limit_burst", 5),
                "StartLimitIntervalSec": spec.get("start_limit_interval_sec", 10),
            }
            if spec.get("reload_triggers"):
                unit["X-Reload-Triggers"] = " ".join(fill(x) for x in spec["reload_triggers"])
            units[n] = {"Unit": unit, "Service": service, "enable": True, "wantedBy": ["multi-user.target"]}
            for target, src in spec.get("etc", {}).items():
                etc[target] = fill(src)
        etc["triad/cluster.toml"] = values["@config@"]
        return {"description": description, "roles": roles, "units": units, "argv": argv, "etc": etc,
                "order": self.start_order(wanted)}

    def start_order(self, wanted):
        """The units in start order (services.toml's `after`)."""
        ordered, seen = [], set()

        def visit(n, depth=0):
            if n in seen or n not in wanted or depth > 50:
                return
            for dep in self.table[n].get("after", []):
                visit(dep, depth + 1)
            seen.add(n)
            ordered.append(n)

        for n in wanted:
            visit(n)
        return ordered

    def activate(self, gen):
        """Install the configuration's /etc files (NixOS: the activation script)."""
        for target, source in gen["etc"].items():
            path = Path(self.etc_dir()) / target
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".activate")
            shutil.copyfile(source, tmp)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        self.gen = gen

    def definition(self, gen, name):
        spec = self.table[name]
        return {"argv": gen["argv"][name], "environment": gen["units"][name]["Service"]["Environment"],
                "memory_max": gen["units"][name]["Service"].get("MemoryMax", ""),
                "reload_check": shlex.split(gen["units"][name]["Service"]["ExecReload"][0]) if "reload_signal" in spec else None}

    def setup_host(self):
        if not self.isolated:
            return
        socket.sethostname(self.host)
        keep = self.config.get("tmp_keep", [])
        stash = "/run/tvt-hosttmp"
        if keep:  # the shared /tmp stays reachable here, to bind parts of it back
            os.makedirs(stash, exist_ok=True)
            subprocess.run(["mount", "--bind", "/tmp", stash], check=True)
        for source, target in self.config["mounts"]:
            subprocess.run(["mount", "--bind", source, target], check=True)
        for path in keep:
            os.makedirs(path, exist_ok=True)
            subprocess.run(["mount", "--bind", os.path.join(stash, os.path.relpath(path, "/tmp")), path], check=True)
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: orphans of services are ours to reap
        self.cgroups.ensure(self.cgroups.path(self.host, "init"))
        self.cgroups.move(os.getpid(), self.cgroups.path(self.host, "init"))

    # --- starting ---
    def start_limit_hit(self, u):
        now = time.monotonic()
        interval = u.spec.get("start_limit_interval_sec", 10)
        burst = u.spec.get("start_limit_burst", 5)
        while u.starts and now - u.starts[0] > interval:
            u.starts.popleft()
        if burst and len(u.starts) >= burst:
            return True
        u.starts.append(now)
        return False

    def start(self, u, manual):
        if u.active_state in ("active", "deactivating") or u.sub_state == "start":
            return
        if manual and u.flush_n_restarts:
            u.n_restarts = 0
            u.flush_n_restarts = False
        u.restart_at = None
        if self.start_limit_hit(u):
            self.journal.system(u.name, "Start request repeated too quickly.")
            self.enter_dead(u, "start-limit-hit", allow_restart=False)
            return
        u.result = "success"
        u.forbid_restart = False
        u.set_state("activating", "start")
        self.cgroups.ensure(u.cgroup, u.memory_max)
        u.oom_seen = self.cgroups.oom_kills(u.cgroup)
        leftovers = self.cgroups.procs(u.cgroup)
        for pid in leftovers:
            self.journal.system(u.name, f"Found left-over process {pid} ({proc_name(pid)}) in control group while starting unit. Ignoring.")
        argv = u.command()
        r, w = os.pipe()
        env = self.unit_environment(u)
        try:
            pid = os.posix_spawn(
                "/bin/sh",
                self.cgroups.wrap(u.cgroup, argv, u.name),
                env,
                file_actions=[
                    (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                    (os.POSIX_SPAWN_DUP2, w, 1),
                    (os.POSIX_SPAWN_DUP2, w, 2),
                ],
                setsid=True,
            )
        except OSError as e:
            os.close(r)
            os.close(w)
            self.journal.system(u.name, f"Failed to spawn: {e}")
            u.exec_main_code, u.exec_main_status = 1, 203
            self.enter_dead(u, "exit-code", allow_restart=True)
            return
        os.close(w)
        u.main_pid = pid
        self.pids[pid] = u
        ident = Path(argv[0]).name
        threading.Thread(target=self.pump, args=(u.name, ident, pid, r), daemon=True).start()
        u.set_state("active", "running")
        self.journal.system(u.name, f"Started {u.name}.service (pid {pid}).")

    def unit_environment(self, u):
        env = {
            "PATH": f"{self.config['bin']}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG": "C.UTF-8",
            "INVOCATION_ID": os.urandom(16).hex(),
        }
        env.update(u.definition["environment"])
        return env

    def pump(self, unit, ident, pid, fd):
        with os.fdopen(fd, "rb") as f:
            for raw in f:
                self.journal.write(unit, ident, pid, raw.decode(errors="replace").rstrip("\n"))

    # --- stopping and exits ---
    def stop(self, u):
        u.restart_at = None
        if u.sub_state == "auto-restart":
            u.flush_n_restarts = True
            u.set_state("inactive", "dead")
            return
        if u.active_state != "active":
            return
        u.forbid_restart = True
        u.stopping = "stop"
        self.journal.system(u.name, "Stopping.")
        if self.kill_mode_targets(u, signal.SIGTERM) == 0:
            self.finish_stop(u)
            return
        u.stop_deadline = time.monotonic() + self.config.get("timeout_stop_sec", 90)
        u.set_state("deactivating", "stop-sigterm")

    def kill_mode_targets(self, u, sig):
        """KillMode=: control-group signals every process of the unit, process only the main one."""
        if self.kill_mode_is_group(u):
            return self.cgroups.signal(u.cgroup, sig)
        if u.main_pid:
            try:
                os.kill(u.main_pid, sig)
                return 1
            except ProcessLookupError:
                return 0
        return 0

    def kill_mode_is_group(self, u):
        return u.kill_mode in ("control-group", "mixed")

    def main_exited(self, u, status):
        u.main_pid = 0
        if os.WIFEXITED(status):
            code = os.WEXITSTATUS(status)
            u.exec_main_code, u.exec_main_status = 1, code
            self.journal.system(u.name, f"Main process exited, code=exited, status={code}/{'SUCCESS' if code == 0 else 'FAILURE'}")
            result = "success" if code == 0 else "exit-code"
        else:
            sig = os.WTERMSIG(status)
            u.exec_main_code, u.exec_main_status = 2, sig
            self.journal.system(u.name, f"Main process exited, code=killed, status={sig}/{signal.Signals(sig).name[3:]}")
            result = "success" if sig in CLEAN_SIGNALS else ("core-dump" if os.WCOREDUMP(status) else "signal")
        if self.oom_happened(u):
            result = "oom-kill"
        if u.result == "success":
            u.result = result
        if u.stopping == "stop":
            if not self.kill_mode_is_group(u) or not self.cgroups.procs(u.cgroup):
                self.finish_stop(u)
            return
        if self.kill_mode_is_group(u) and self.cgroups.procs(u.cgroup):
            u.stopping = "final"
            self.cgroups.signal(u.cgroup, signal.SIGTERM)
            u.stop_deadline = time.monotonic() + self.config.get("timeout_stop_sec", 90)
            u.set_state("deactivating", "final-sigterm")
            return
        for pid in self.cgroups.procs(u.cgroup):
            self.journal.system(u.name, f"Unit process {pid} ({proc_name(pid)}) remains running after unit stopped.")
        self.enter_dead(u, u.result, allow_restart=True)

    def oom_happened(self, u):
        n = self.cgroups.oom_kills(u.cgroup)
        if n > u.oom_seen:
            u.oom_seen = n
            self.journal.system(u.name, "A process of this unit has been killed by the OOM killer.")
            return True
        return False

    def finish_stop(self, u):
        u.stopping = None
        u.stop_deadline = None
        self.journal.system(u.name, "Deactivated successfully." if u.result == "success" else f"Failed with result '{u.result}'.")
        u.flush_n_restarts = True
        if u.result == "success":
            u.set_state("inactive", "dead")
        else:
            u.set_state("failed", "failed")
        self.journal.system(u.name, f"Stopped {u.name}.service.")

    def enter_dead(self, u, result, allow_restart):
        u.stopping = None
        u.stop_deadline = None
        u.result = result
        if result != "success":
            self.journal.system(u.name, f"Failed with result '{result}'.")
        restart = (
            allow_restart
            and not u.forbid_restart
            and not self.powering_off
            and (u.restart_policy == "always" or (u.restart_policy == "on-failure" and result != "success"))
        )
        if restart:
            u.restart_at = time.monotonic() + u.spec.get("restart_sec", 0.1)
            u.set_state("activating", "auto-restart")
        else:
            u.flush_n_restarts = True
            u.set_state("failed" if result != "success" else "inactive", "failed" if result != "success" else "dead")

    def tick(self):
        """Reap children, fire restart timers, enforce stop timeouts and OOMPolicy=stop."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            u = self.pids.pop(pid, None)
            if u is not None and u.main_pid == pid:
                self.main_exited(u, status)
        now = time.monotonic()
        for u in self.units.values():
            if u.sub_state == "auto-restart" and u.restart_at is not None and now >= u.restart_at:
                u.n_restarts += 1
                self.journal.system(u.name, f"Scheduled restart job, restart counter is at {u.n_restarts}.")
                u.set_state("inactive", "dead")
                self.start(u, manual=False)
            elif u.stopping and u.main_pid == 0 and not self.cgroups.procs(u.cgroup):
                if u.stopping == "stop":
                    self.finish_stop(u)
                else:
                    self.enter_dead(u, u.result, allow_restart=True)
            elif u.stopping and u.stop_deadline is not None and now >= u.stop_deadline:
                self.journal.system(u.name, "State 'stop-sigterm' timed out. Killing.")
                if u.result == "success":
                    u.result = "timeout"
                if self.kill_mode_is_group(u):
                    self.cgroups.signal(u.cgroup, signal.SIGKILL)
                elif u.main_pid:
                    try:
                        os.kill(u.main_pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                u.stop_deadline = now + 5
            elif u.active_state == "active" and u.memory_max is not None and not u.stopping:
                if self.oom_happened(u):
                    # OOMPolicy=stop: a process of the unit was OOM-killed, the unit is stopped.
                    u.result = "oom-kill"
                    u.stopping = "final"
                    self.cgroups.signal(u.cgroup, signal.SIGTERM)
                    u.stop_deadline = now + self.config.get("timeout_stop_sec", 90)
                    u.set_state("deactivating", "final-sigterm")

    # --- reloading and switching ---
    def reload(self, u):
        """ExecReload=: check the (already activated) configuration, then the reload signal to
        the main process. Returns an error message, or None."""
        if u.active_state != "active" or not u.main_pid:
            return f"{u.name}.service is not active, cannot reload."
        self.journal.system(u.name, "Reloading.")
        check = u.definition["reload_check"]
        p = subprocess.run(check, capture_output=True, text=True, env=self.unit_environment(u))
        for line in (p.stdout + p.stderr).splitlines():
            self.journal.write(u.name, Path(check[0]).name, 0, line)
        if p.returncode != 0:
            self.journal.system(u.name, f"Control process exited, code=exited, status={p.returncode}/FAILURE")
            self.journal.system(u.name, "Reload failed.")
            return f"Job for {u.name}.service failed (reload)."
        os.kill(u.main_pid, signal.Signals[u.spec["reload_signal"]])
        self.journal.system(u.name, "Reloaded.")
        return None

    def switch(self, name):
        """switch-to-configuration for the cluster description `name`: build, plan (switchplan,
        on the unit definitions), stop, activate, reload, start. Returns (rc, out, err)."""
        try:
            new = self.build(self.config["descriptions"][name])
        except RuntimeError as e:
            return 1, "", f"building the configuration failed: {e}\n"
        active = {n for n, u in self.units.items() if u.active_state in ("active", "activating", "reloading")}
        plan = switchplan.plan(self.gen["units"], new["units"], active)
        self.journal.system(None, f"switching to cluster description {name!r}: " + "; ".join(f"{k} {' '.join(v)}" for k, v in plan.items() if v and k != "unchanged"))
        out = "".join(f"{verb} the following units: {', '.join(n + '.service' for n in plan[key])}\n"
                      for key, verb in (("stop", "stopping"), ("restart", "restarting"), ("reload", "reloading"), ("start", "starting")) if plan[key])
        for n in reversed(self.order):
            if n in plan["stop"] or n in plan["restart"]:
                self.stop_and_wait(self.units[n])
        self.activate(new)
        errors = []
        for n in plan["reload"]:
            u = self.units[n]
            u.definition = self.definition(new, n)
            error = self.reload(u)
            if error:
                errors.append(error)
        for n in new["order"]:
            if n in plan["start"] or n in plan["restart"]:
                u = self.units.get(n) or self.add_unit(n, new)
                u.definition = self.definition(new, n)
                self.start(u, manual=True)
                if u.active_state == "failed":
                    errors.append(f"Job for {n}.service failed.")
        self.order = new["order"] + [n for n in self.order if n not in new["order"]]
        return (1 if errors else 0), out, "".join(e + "\n" for e in errors)

    def add_unit(self, n, gen):
        u = Unit(n, self.table[n], self.definition(gen, n), self)
        self.units[n] = u
        return u

    def stop_and_wait(self, u, timeout=None):
        self.stop(u)
        deadline = time.monotonic() + (timeout or self.config.get("timeout_stop_sec", 90) + 10)
        while u.active_state == "deactivating" and time.monotonic() < deadline:
            self.changed.wait(TICK)
            self.tick()

    # --- main ---
    def boot(self):
        self.pids = {}
        with self.lock:
            try:
                gen = self.build(self.config["config"])
            except RuntimeError as e:  # a host whose configuration cannot be built runs nothing
                self.journal.system(None, f"building the configuration failed: {e}")
                gen = {"description": {}, "roles": set(), "units": {}, "argv": {}, "etc": {}, "order": []}
            self.activate(gen)
            self.order = gen["order"]
            for n in self.order:
                self.add_unit(n, gen)
        self.serve()
        with self.lock:
            for n in self.order:
                self.start(self.units[n], manual=True)
            self.booted = True
        Path(self.config["ready_file"]).write_text(str(os.getpid()))
        while True:
            with self.lock:
                self.tick()
                if self.powering_off:
                    break
            time.sleep(TICK)

    def poweroff(self):
        with self.lock:
            self.powering_off = True
            for n in reversed(self.order):
                self.stop_and_wait(self.units[n])
            self.journal.system(None, "Reached target Power-Off.")

    def serve(self):
        sup = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                request = json.loads(self.rfile.readline())
                try:
                    rc, out, err = sup.request(request)
                except Exception as e:  # a bad request must not take the host down
                    rc, out, err = 1, "", f"supervisor: {type(e).__name__}: {e}\n"
                self.wfile.write(json.dumps({"rc": rc, "stdout": out, "stderr": err}).encode() + b"\n")

        class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
            daemon_threads = True

        path = self.config["socket"]
        if os.path.exists(path):
            os.unlink(path)
        server = Server(path, Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def request(self, request):
        op = request["op"]
        if op == "systemctl":
            return self.systemctl(request["argv"])
        if op == "journalctl":
            return journalctl(self.config["journal"][0], request["argv"])
        if op == "switch":
            with self.lock:
                if request["name"] not in self.config.get("descriptions", {}):
                    return 1, "", f"unknown cluster description {request['name']!r}\n"
                return self.switch(request["name"])
        if op == "poweroff":
            threading.Thread(target=self.poweroff, daemon=True).start()
            return 0, "", ""
        return 1, "", f"unknown request {op}\n"

    # --- systemctl ---
    def find(self, name):
        name = name.removesuffix(".service")
        return self.units.get(name)

    def systemctl(self, argv):
        quiet = any(a in ("--quiet", "-q") for a in argv)
        no_block = "--no-block" in argv
        props, value_only, sig, whom = [], False, signal.SIGTERM, ""
        rest = []
        i = 0
        while i < len(argv):
            a = argv[i]
            key, eq, val = a.partition("=")
            if a in ("-p", "--property", "-P", "-s", "--signal", "--kill-whom") and i + 1 < len(argv):
                key, val = a, argv[i + 1]
                i += 1
            elif not (a.startswith("--") and eq):
                key = a
            if key in ("-p", "--property", "-P"):
                props += val.strip('"').split(",")
                value_only = value_only or key == "-P"
            elif key in ("-s", "--signal"):
                sig = int(val) if val.isdigit() else signal.Signals[val if val.startswith("SIG") else "SIG" + val]
            elif key == "--kill-whom":
                whom = val
            elif key == "--value":
                value_only = True
            elif not key.startswith("-"):
                rest.append(a)
            i += 1
        if not rest:
            rest = ["list-units"]
        verb, names = rest[0], rest[1:]
        with self.lock:
            if verb == "list-jobs":
                jobs = [u for u in self.units.values() if u.sub_state in ("auto-restart", "start") or not self.booted]
                if not jobs:
                    return 0, "No jobs running.\n", ""
                return 0, "".join(f"{u.name}.service start waiting\n" for u in jobs) + f"\n{len(jobs)} jobs listed.\n", ""
            if verb == "list-units":
                out = "".join(f"{u.name}.service loaded {u.active_state} {u.sub_state}\n" for u in self.units.values())
                return 0, out, ""
            if verb in ("daemon-reload", "reset-failed") and not names:
                for u in self.units.values():
                    if verb == "reset-failed" and u.active_state == "failed":
                        u.set_state("inactive", "dead")
                        u.result = "success"
                return 0, "", ""
            units = []
            for n in names:
                u = self.find(n)
                if u is None:
                    if verb in ("is-active", "is-failed"):
                        units.append(None)
                        continue
                    if verb == "show":
                        return 0, self.show_unknown(n, props, value_only), ""
                    return 5 if verb in ("start", "restart") else 1, "", f"Unit {n} not loaded.\n"
                units.append(u)
            if verb == "is-active":
                states = [u.active_state if u else "inactive" for u in units]
                out = "" if quiet else "".join(s + "\n" for s in states)
                return (0 if states and all(s == "active" for s in states) else 3), out, ""
            if verb == "is-failed":
                states = [u.active_state if u else "inactive" for u in units]
                out = "" if quiet else "".join(s + "\n" for s in states)
                return (0 if any(s == "failed" for s in states) else 1), out, ""
            if verb == "show":
                out = []
                for u in units:
                    p = u.properties()
                    keys = props or list(p)
                    out.append("".join((f"{p.get(k, '')}\n" if value_only else f"{k}={p.get(k, '')}\n") for k in keys))
                return 0, "\n".join(out), ""
            if verb == "status":
                out = ""
                for u in units:
                    out += f"* {u.name}.service\n     Active: {u.active_state} ({u.sub_state}) result={u.result} restarts={u.n_restarts}\n   Main PID: {u.main_pid}\n"
                return (0 if all(u.active_state == "active" for u in units) else 3), out, ""
            if verb == "reset-failed":
                for u in units:
                    if u.active_state == "failed":
                        u.set_state("inactive", "dead")
                    u.result = "success"
                    u.n_restarts = 0
                    u.starts.clear()
                return 0, "", ""
            if verb == "kill":
                for u in units:
                    if whom == "main":  # systemctl kill's default is --kill-whom=all
                        if u.main_pid:
                            with contextlib.suppress(ProcessLookupError):
                                os.kill(u.main_pid, sig)
                    else:
                        self.cgroups.signal(u.cgroup, sig)
                return 0, "", ""
            if verb == "reload":
                errors = [e for e in (self.reload(u) if u.definition["reload_check"] else f"{u.name}.service does not support reload." for u in units) if e]
                return (1 if errors else 0), "", "".join(e + "\n" for e in errors)
            if verb in ("start", "stop", "restart", "try-restart", "reload-or-restart"):
                for u in units:
                    if verb in ("stop", "restart", "try-restart", "reload-or-restart"):
                        if verb == "try-restart" and u.active_state != "active":
                            continue
                        self.stop_and_wait(u)
                    if verb != "stop":
                        self.start(u, manual=True)
                failed = [u for u in units if verb != "stop" and u.active_state == "failed"]
                if failed and not no_block:
                    names = ", ".join(f"{u.name}.service" for u in failed)
                    return 1, "", f"Job for {names} failed because the control process exited with error code.\n"
                return 0, "", ""
        return 1, "", f"systemctl: verb {verb!r} is not supported by the namespace driver\n"

    @staticmethod
    def show_unknown(name, props, value_only):
        p = {"Id": name, "LoadState": "not-found", "ActiveState": "inactive", "SubState": "dead", "Result": "success", "NRestarts": "0", "MainPID": "0"}
        keys = props or list(p)
        return "".join((f"{p.get(k, '')}\n" if value_only else f"{k}={p.get(k, '')}\n") for k in keys)


def proc_name(pid):
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def journalctl(path, argv):
    """The subset of journalctl the scenarios use: -u UNIT (repeatable), -n N, -o cat|short,
    -g/--grep PATTERN, -b, --no-pager."""
    import re

    units, lines, fmt, grep = [], None, "short", None
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-u", "--unit"):
            units.append(argv[i + 1].removesuffix(".service"))
            i += 1
        elif a.startswith("--unit="):
            units.append(a.split("=", 1)[1].removesuffix(".service"))
        elif a in ("-n", "--lines"):
            lines = int(argv[i + 1])
            i += 1
        elif a in ("-o", "--output"):
            fmt = argv[i + 1]
            i += 1
        elif a.startswith("--output="):
            fmt = a.split("=", 1)[1]
        elif a in ("-g", "--grep"):
            grep = re.compile(argv[i + 1])
            i += 1
        i += 1
    out = []
    try:
        with open(path, encoding="utf-8") as f:
            for raw in f:
                try:
                    r = json.loads(raw)
                except ValueError:
                    continue
                if units and r["u"] not in units:
                    continue
                if grep and not grep.search(r["m"]):
                    continue
                if fmt == "cat":
                    out.append(r["m"])
                elif fmt == "json":
                    out.append(raw.rstrip("\n"))
                else:
                    stamp = time.strftime("%b %d %H:%M:%S", time.localtime(r["t"])) + f".{int(r['t'] * 1e6) % 1000000:06d}"
                    out.append(f"{stamp} {socket.gethostname()} {r['i']}[{r['p']}]: {r['m']}")
    except FileNotFoundError:
        pass
    if lines is not None:
        out = out[-lines:] if lines else []
    if not out:
        return (1 if grep else 0), "-- No entries --\n" if not grep else "", ""
    return 0, "\n".join(out) + "\n", ""


def switch_plan(services, host, old, new, bin_dir):
    """What triad-switch-config on `host` does when it switches from the cluster description
    `old` to `new` (files), every unit running: switchplan.plan on the two configurations this
    supervisor builds. scripts/check-nix compares it with the plan of the NixOS units."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        sup = Supervisor({"host": host, "isolated": False, "services": str(services), "config": str(old), "state_dir": "/var/lib/triad",
                          "bin": str(bin_dir), "run_dir": tmp, "journal": [str(Path(tmp) / "journal")]})
        a, b = sup.build(old), sup.build(new)
        return switchplan.plan(a["units"], b["units"])


def main():
    if sys.argv[1] == "--plan":  # supervisor.py --plan SERVICES HOST OLD NEW BIN
        print(json.dumps(switch_plan(*sys.argv[2:7])))
        return
    config = json.loads(Path(sys.argv[1]).read_text())
    sup = Supervisor(config)
    sup.setup_host()
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=sup.poweroff, daemon=True).start())
    sup.boot()


if __name__ == "__main__":
    main()
