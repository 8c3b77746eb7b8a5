#!/usr/bin/env python3
"""The service manager of one test host of the namespace driver: the part of systemd a Triad
scenario relies on, applied to the services of vm-tests/services.toml.

The driver starts one supervisor per host, inside the host's network namespace and in a
private mount and UTS namespace. The supervisor

- binds the host's own files over the shared file system (/etc/hosts, /etc/triad,
  /var/lib/triad, /tmp, /run/postgresql) and sets the host name;
- starts the units of the host's roles (from its /etc/triad/cluster.toml) in `after` order,
  with the placeholders of services.toml filled in, each in its own memory cgroup
  (MemoryMax=) and session, output into the host's journal;
- renders the HAProxy configurations with `triadctl haproxy-config` before starting HAProxy
  (ExecStartPre=) and reloads HAProxy with SIGUSR2 when the cluster description changes;
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
    def __init__(self, name, spec, supervisor):
        self.name = name
        self.spec = spec
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
        return parse_bytes(self.sup.fill(self.spec.get("memory_max", "")))

    def command(self):
        return [self.sup.fill(a) for a in self.spec["command"]]

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

    # --- the host ---
    def fill(self, text):
        c = self.config
        for key, value in {
            "@config@": c["config"],
            "@host@": self.host,
            "@state_dir@": c["state_dir"],
            "@bin@": c["bin"],
            "@haproxy_internal@": str(Path(c["run_dir"]) / "haproxy-internal.cfg"),
            "@haproxy_external@": str(Path(c["run_dir"]) / "haproxy-external.cfg"),
            "@engine_memory_max@": c.get("engine_memory_max", ""),
        }.items():
            text = text.replace(key, value)
        return text

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

    def roles(self):
        """This host's roles in the cluster description it runs with (none if not named)."""
        try:
            cluster = tomllib.loads(Path(self.config["config"]).read_text())
        except (OSError, tomllib.TOMLDecodeError) as e:
            self.journal.system(None, f"cannot read {self.config['config']}: {e}")
            return set()
        for h in cluster.get("hosts", []):
            if h.get("name") == self.host:
                return set(h.get("roles", []))
        return set()

    def wanted_units(self):
        """The units of this host's roles, in start order (services.toml's `after`)."""
        roles = self.roles()
        skip = set(self.config.get("skip_units", []))
        wanted = [n for n, s in self.table.items() if roles & set(s.get("roles", [])) and n not in skip]
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
        if not self.render_configs(u):
            u.exec_main_code, u.exec_main_status = 1, 1
            self.enter_dead(u, "exit-code", allow_restart=True)
            return
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
        env.update(self.config.get("environment", {}).get("*", {}))
        env.update(self.config.get("environment", {}).get(u.name, {}))
        return env

    def render_configs(self, u):
        """ExecStartPre= of the HAProxy units: render the config from the cluster description."""
        joined = " ".join(u.spec["command"])
        for placeholder, role in (("@haproxy_internal@", "internal"), ("@haproxy_external@", "external")):
            if placeholder in joined:
                out = self.fill(placeholder)
                cmd = [f"{self.config['bin']}/triadctl", "haproxy-config", "--role", role, "--host", self.host, "-o", out, self.config["config"]]
                p = subprocess.run(cmd, capture_output=True, text=True)
                for line in (p.stdout + p.stderr).splitlines():
                    self.journal.write(u.name, "triadctl", 0, line)
                if p.returncode != 0:
                    self.journal.system(u.name, f"Control process exited, code=exited, status={p.returncode}/FAILURE")
                    return False
        return True

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

    # --- reloading on a changed description ---
    def reload(self, u):
        """ExecReload= of the HAProxy units: render again, then SIGUSR2 to the master."""
        if u.active_state != "active" or not u.main_pid:
            return
        self.journal.system(u.name, "Reloading.")
        if self.render_configs(u):
            os.kill(u.main_pid, signal.SIGUSR2)
            self.journal.system(u.name, "Reloaded.")

    def switch(self, name):
        """`switch-to-configuration` for a changed cluster description: install it, stop units
        whose role went away, restart the Triad units (they read the description at start),
        reload HAProxy, start units of new roles."""
        source = Path(self.config["descriptions"][name])
        shutil.copyfile(source, self.config["config"])
        self.journal.system(None, f"switching to cluster description {name!r}")
        wanted = self.wanted_units()
        for n in reversed(self.order):
            if n not in wanted:
                self.stop_and_wait(self.units[n])
        for n in wanted:
            u = self.units.get(n) or self.add_unit(n)
            if u.active_state in ("active", "activating"):
                if "@haproxy_" in " ".join(u.spec["command"]):
                    self.reload(u)
                else:
                    self.stop_and_wait(u)
                    self.start(u, manual=True)
            else:
                self.start(u, manual=True)
        self.order = wanted + [n for n in self.order if n not in wanted]

    def add_unit(self, n):
        u = Unit(n, self.table[n], self)
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
            self.order = self.wanted_units()
            for n in self.order:
                self.add_unit(n)
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
                self.switch(request["name"])
            return 0, "", ""
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


def main():
    config = json.loads(Path(sys.argv[1]).read_text())
    sup = Supervisor(config)
    sup.setup_host()
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=sup.poweroff, daemon=True).start())
    sup.boot()


if __name__ == "__main__":
    main()
