#!/usr/bin/env python3
"""The namespace driver: the NixOS test driver's Machine API over Linux network namespaces, so
that a scenario script (vm-tests/scenarios/NAME.py, the NixOS VM test's testScript) runs
unchanged on any Linux machine with root.

A test host is
- a network namespace `tvt-<name>` whose eth1 is cabled to a bridge in the namespace
  `tvt-switch` (nothing is connected to the outside), address 192.168.1.N in the order of the
  node names, a fixed MAC, FQDN and name of every node in its /etc/hosts;
- a supervisor process (supervisor.py, the host's systemd) in that namespace and in private
  mount and UTS namespaces, which binds the host's own /etc/triad, /var/lib/triad, /tmp and
  /run/postgresql, and runs the services of nixos-modules/services.toml for the host's roles;
- a memory cgroup subtree `triad-vmtest/<name>` holding every process of the host.

crash() is a power cut: the host's cable is pulled first (both ends of its link down), then
its whole cgroup tree is killed, so no FIN or RST of its dying processes reaches a peer — they
must time out, as with a real crashed machine; then it is unplugged (the namespace is deleted
and made again at the next start(), like a rebooted VM: no iptables rules, no sockets
survive). Its disk (state_dir) is kept, and deleting the contents of state_dir wipes it like
deleting a VM's disk image. block()/unblock() take the bridge port of eth1 down/up (the guest sees carrier
loss, as with QEMU's set_link). Commands run in the host's namespaces with the host's
environment and cgroup, under `bash -c "set -euo pipefail; ..."` like the NixOS driver's.

Every run takes a global lock, cleans what a crashed earlier run left behind, and cleans up
its namespaces, cgroups, processes and files at the end, also when it fails.
Standard library only.
"""

import argparse
import contextlib
import fcntl
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from cgroups import Cgroups, ROOT_NAME  # noqa: E402

REPO = HERE.parent.parent
PREFIX = "tvt-"
SWITCH = PREFIX + "switch"
LOCK = Path("/run/lock/triad-vmtest.lock")
REGISTRY = Path("/run/triad-vmtest")
SUBNET = "192.168.1"
# Directories of the shared file system that each host binds its own copy over. Created (empty)
# when missing, and removed at cleanup if this driver created them and they are still empty.
MOUNTPOINTS = ["/etc/triad", "/var/lib/triad"]
START = time.monotonic()


class RequestedAssertionFailed(AssertionError):
    """A check of the test script failed (the NixOS driver's exception of the same name)."""


class MachineError(Exception):
    """The driver could not operate a machine."""


class GlobalTimeout(Exception):
    pass


def run(*argv, check=True, quiet=False):
    p = subprocess.run([str(a) for a in argv], capture_output=True, text=True)
    if check and p.returncode != 0:
        raise MachineError(f"{shlex.join(map(str, argv))} failed ({p.returncode}): {p.stderr.strip()}")
    return p


class Logger:
    """The `log` symbol of the NixOS driver, printing to stderr with time since start."""

    def __init__(self):
        self.depth = 0

    def log(self, msg, attrs=None):
        who = f"{attrs['machine']}: " if attrs and "machine" in attrs else ""
        sys.stderr.write(f"[{time.monotonic() - START:7.1f}s] {'  ' * self.depth}{who}{msg}\n")
        sys.stderr.flush()

    info = warning = error = log

    def log_test_error(self, msg):
        self.log(f"!!! {msg}")

    @contextlib.contextmanager
    def nested(self, msg, attrs=None):
        self.log(msg, attrs)
        self.depth += 1
        t0 = time.monotonic()
        try:
            yield
        finally:
            self.depth -= 1
            if time.monotonic() - t0 > 2:
                self.log(f"({time.monotonic() - t0:.1f} s)", attrs)

    @contextlib.contextmanager
    def subtest(self, name):
        with self.nested(f"subtest: {name}"):
            yield


def retry(fn, timeout_seconds=900):
    """Call fn(last_try) once a second until it returns True or the timeout passes."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_seconds:
        if fn(False):
            return
        time.sleep(1)
    if not fn(True):
        raise RequestedAssertionFailed(f"action timed out after {time.monotonic() - t0:.2f} seconds (timeout={timeout_seconds})")


class Network:
    """The test VLAN: a bridge inside the namespace `tvt-switch`, one veth per host."""

    def __init__(self):
        run("ip", "netns", "add", SWITCH)
        run("ip", "-n", SWITCH, "link", "set", "lo", "up")
        run("ip", "-n", SWITCH, "link", "add", "br0", "type", "bridge")
        run("ip", "-n", SWITCH, "link", "set", "br0", "up")

    def plug(self, m):
        ns = m.netns
        run("ip", "-n", SWITCH, "link", "del", m.port, check=False)
        run("ip", "netns", "add", ns)
        run("ip", "-n", SWITCH, "link", "add", m.port, "type", "veth", "peer", "name", "eth1", "netns", ns)
        run("ip", "-n", ns, "link", "set", "eth1", "address", m.mac)
        run("ip", "-n", ns, "addr", "add", f"{m.address}/24", "dev", "eth1")
        run("ip", "-n", ns, "link", "set", "lo", "up")
        run("ip", "-n", ns, "link", "set", "eth1", "up")
        run("ip", "-n", SWITCH, "link", "set", m.port, "master", "br0", "up")

    def set_link(self, m, up):
        run("ip", "-n", SWITCH, "link", "set", m.port, "up" if up else "down")

    def cut(self, m):
        """The cable pulled out: the switch port and the host's own eth1 down, so nothing the
        host still sends leaves it."""
        run("ip", "-n", SWITCH, "link", "set", m.port, "down", check=False)
        run("ip", "-n", m.netns, "link", "set", "eth1", "down", check=False)

    @staticmethod
    def unplug(m):
        kill_netns_processes(m.netns)
        # Deleting the port removes both ends of the cable at once; a namespace is dismantled
        # asynchronously by the kernel, so its veth could otherwise outlive `ip netns del`.
        run("ip", "-n", SWITCH, "link", "del", m.port, check=False)
        run("ip", "netns", "del", m.netns, check=False)


def kill_netns_processes(ns):
    p = run("ip", "netns", "pids", ns, check=False)
    for pid in p.stdout.split():
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)


class Machine:
    """One test host, with the NixOS driver's Machine API."""

    def __init__(self, driver, name, index, config_name):
        self.driver = driver
        self.name = name
        self.logger = driver.logger
        self.address = f"{SUBNET}.{index}"
        self.mac = f"52:54:00:12:01:{index:02x}"
        self.netns = PREFIX + name
        self.port = f"p-{name}"[:15]
        self.config_name = config_name
        self.state_dir = driver.out_dir / f"vm-state-{name}"
        self.host_dir = driver.out_dir / "hosts" / name
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.host_dir.mkdir(parents=True, exist_ok=True)
        self.process = None
        self.pid = None
        self.booted = False
        self.connected = False
        self.last_errors = ""

    def __repr__(self):
        return f"<Machine '{self.name}'>"

    # --- logging ---
    def log(self, msg):
        self.logger.log(msg, {"machine": self.name})

    def nested(self, msg, attrs=None):
        return self.logger.nested(msg, {"machine": self.name, **(attrs or {})})

    # --- life cycle ---
    def is_up(self):
        return self.booted and self.connected

    @property
    def cgroup(self):
        return self.driver.cgroups.path(self.name)

    def start(self, allow_reboot=False):
        """Boot the host (asynchronously: commands wait until its service manager is up)."""
        if self.booted:
            return
        self.log("starting host")
        d = self.driver
        disk = self.state_dir / "disk"
        for sub in ("var/lib/triad", "tmp", "var/log"):
            (disk / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(disk / "tmp", 0o1777)
        shutil.rmtree(self.host_dir / "run", ignore_errors=True)  # /run is a tmpfs: empty at boot
        run_dir = self.host_dir / "run"
        (run_dir / "postgresql").mkdir(parents=True)
        with contextlib.suppress(KeyError):
            import pwd

            pg = pwd.getpwnam("postgres")
            os.chown(run_dir / "postgresql", pg.pw_uid, pg.pw_gid)
            os.chmod(run_dir / "postgresql", 0o2775)
        etc = self.host_dir / "etc-triad"
        etc.mkdir(exist_ok=True)
        shutil.copyfile(d.descriptions[self.config_name], etc / "cluster.toml")
        hosts = Path("/etc/netns") / self.netns / "hosts"
        hosts.parent.mkdir(parents=True, exist_ok=True)
        hosts.write_text(d.hosts_file())
        self.socket_path().unlink(missing_ok=True)
        for f in ("ready", "supervisor.sock"):
            with contextlib.suppress(FileNotFoundError):
                (self.host_dir / f).unlink()
        config = {
            "host": self.name,
            "services": str(d.services),
            "config": "/etc/triad/cluster.toml",
            "state_dir": "/var/lib/triad",
            "bin": str(d.bin_dir),
            "run_dir": str(run_dir),
            "engine_memory_max": d.engine_memory_max,
            "environment": d.environment,
            "descriptions": {n: str(p) for n, p in d.descriptions.items()},
            "journal": [str(disk / "var/log/journal.jsonl"), str(d.out_dir / "logs" / f"{self.name}.journal")],
            "socket": str(self.socket_path()),
            "ready_file": str(self.host_dir / "ready"),
            "cgroup_root": ROOT_NAME,
            "mounts": [
                [str(hosts), "/etc/hosts"],
                [str(etc), "/etc/triad"],
                [str(disk / "var/lib/triad"), "/var/lib/triad"],
                [str(run_dir / "postgresql"), "/run/postgresql"],
            ],
        }
        # A private /tmp, mounted last; a checkout or run directory that is itself under /tmp
        # (a CI clone) is bound back into it, or the host would lose its binaries and files.
        config["mounts"].append([str(disk / "tmp"), "/tmp"])
        needed = sorted({str(Path(p).resolve()) for p in (d.out_dir, d.bin_dir, HERE.parent.parent) if Path(p).resolve().is_relative_to("/tmp")})
        config["tmp_keep"] = [p for p in needed if not any(p != q and Path(p).is_relative_to(q) for q in needed)]
        (self.host_dir / "supervisor.json").write_text(json.dumps(config, indent=1))
        d.network.plug(self)
        for leaf in ("init", "session"):
            d.cgroups.ensure(self.driver.cgroups.path(self.name, leaf))
        console = open(d.out_dir / "logs" / f"{self.name}.console", "ab")
        self.process = subprocess.Popen(
            d.cgroups.wrap(self.cgroup / "init", [
                "nsenter", f"--net=/run/netns/{self.netns}", "--",
                "unshare", "--mount", "--uts", "--propagation", "private", "--",
                sys.executable, str(HERE / "supervisor.py"), str(self.host_dir / "supervisor.json"),
            ]),
            stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT, start_new_session=True, cwd="/",
        )
        console.close()
        self.pid = self.process.pid
        self.booted = True
        self.connected = False

    def socket_path(self):
        """The supervisor's socket: a short path (unix socket paths are limited to 107 bytes,
        and run directories carry the scenario's name)."""
        d = Path("/run/tvt-sockets")
        d.mkdir(mode=0o700, exist_ok=True)
        return d / f"{os.getpid()}-{self.name}.sock"

    def connect(self):
        """Wait until the host's service manager has started its units (the backdoor shell)."""
        if self.connected:
            return
        if not self.booted:
            self.start()
        with self.nested("waiting for the host to finish booting"):
            deadline = time.monotonic() + 60
            while not (self.host_dir / "ready").exists():
                if self.process.poll() is not None:
                    tail = (self.driver.out_dir / "logs" / f"{self.name}.console").read_text()[-2000:]
                    raise MachineError(f"{self.name}: the supervisor exited ({self.process.returncode}):\n{tail}")
                if time.monotonic() > deadline:
                    raise MachineError(f"{self.name}: the supervisor did not come up within 60 s")
                time.sleep(0.05)
        self.connected = True

    def _power_off(self):
        """The host is gone: every process of it killed, its cable and namespace removed."""
        self.driver.cgroups.kill(self.cgroup)
        kill_netns_processes(self.netns)
        if self.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
        Network.unplug(self)
        self.booted = self.connected = False

    def crash(self):
        """Simulate a sudden power failure: the cable is pulled first, then every process of
        the host dies at once, so its peers get no FIN or RST and must time out. The disk
        (state_dir) stays."""
        if not self.booted:
            return
        self.log("forced crash")
        self.driver.network.cut(self)
        self._power_off()

    def shutdown(self):
        """Shut the host down cleanly (units stopped in reverse order), waiting for it."""
        if not self.booted:
            return
        with self.nested("shutting down"):
            if self.connected:
                self._request({"op": "poweroff"})
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(timeout=200)
            self._power_off()

    def wait_for_shutdown(self):
        if not self.booted:
            return
        with self.nested("waiting for the host to power off"):
            self.process.wait()
            self._power_off()

    def reboot(self):
        self.shutdown()
        self.start()

    def release(self):
        if self.booted:
            self._power_off()

    def block(self):
        """Unplug the host's network cable (eth1 loses carrier); the host keeps running."""
        if not self.booted:
            raise MachineError(f"{self.name} is not running")
        self.log("unplugging eth1")
        self.driver.network.set_link(self, False)

    def unblock(self):
        if not self.booted:
            raise MachineError(f"{self.name} is not running")
        self.log("plugging eth1 back in")
        self.driver.network.set_link(self, True)

    def _request(self, request):
        import socket as _socket

        s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        s.settimeout(300)
        s.connect(str(self.socket_path()))
        s.sendall(json.dumps(request).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        return json.loads(data) if data else None

    # --- commands ---
    def _environment(self):
        d = self.driver
        return {
            "PATH": f"{d.hostbin}:{d.bin_dir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": "/root",
            "USER": "root",
            "LANG": "C.UTF-8",
            "TERM": "dumb",
            "PAGER": "cat",
            "SYSTEMD_PAGER": "cat",
            "TRIAD_VMTEST_SOCKET": str(self.socket_path()),
        }

    def _enter(self, argv):
        """argv run inside the host: its namespaces, environment and session cgroup."""
        env = [f"{k}={v}" for k, v in self._environment().items()]
        return self.driver.cgroups.wrap(self.cgroup / "session", ["nsenter", "-t", str(self.pid), "-n", "-m", "-u", "--", "env", "-i", *env, *argv])

    def execute(self, command, check_return=True, check_output=True, timeout=900):
        """Run a shell command in the host with `set -euo pipefail`; returns (status, stdout).
        A command that detaches must close stdout (redirect it), as in the NixOS driver."""
        self.driver.check_polling_conditions()
        self.connect()
        argv = (["timeout", str(timeout)] if timeout is not None else []) + ["bash", "-c", f"set -euo pipefail; {command}"]
        with tempfile.TemporaryFile() as err:
            p = subprocess.Popen(self._enter(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                                 cwd="/", start_new_session=True)
            try:
                out, _ = p.communicate(timeout=None if timeout is None else timeout + 30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                out, _ = p.communicate()
            err.seek(0)
            errors = err.read().decode(errors="replace")
        if errors.strip():
            with open(self.driver.out_dir / "logs" / f"{self.name}.console", "a") as console:
                console.write(errors)
            if self.driver.verbose and errors != self.last_errors:
                for line in errors.rstrip().splitlines()[-20:]:
                    self.log(f"  stderr: {line}")
            self.last_errors = errors
        if not check_output:
            return (-2, "")
        text = out.decode(errors="replace")
        if not check_return:
            return (-1, text)
        return (p.returncode, text)

    def succeed(self, *commands, timeout=None):
        output = ""
        for command in commands:
            with self.nested(f"must succeed: {command}"):
                status, out = self.execute(command, timeout=timeout)
                if status != 0:
                    self.log(f"output: {out}")
                    raise RequestedAssertionFailed(f"command `{command}` failed (exit code {status})")
                output += out
        return output

    def fail(self, *commands, timeout=None):
        output = ""
        for command in commands:
            with self.nested(f"must fail: {command}"):
                status, out = self.execute(command, timeout=timeout)
                if status == 0:
                    raise RequestedAssertionFailed(f"command `{command}` unexpectedly succeeded")
                output += out
        return output

    def _wait_for_status(self, command, timeout, want_success, what):
        output = ""

        def check(_last):
            nonlocal output
            status, output = self.execute(command, timeout=timeout)
            return (status == 0) == want_success

        with self.nested(f"waiting for {what}: {command}"):
            retry(check, timeout)
        return output

    def wait_until_succeeds(self, command, timeout=900):
        """Repeat the command once a second until it succeeds; raise after `timeout` s."""
        return self._wait_for_status(command, timeout, True, "success")

    def wait_until_fails(self, command, timeout=900):
        return self._wait_for_status(command, timeout, False, "failure")

    def sleep(self, secs):
        self.succeed(f"sleep {secs}")

    def wait_for_file(self, filename, timeout=900):
        with self.nested(f"waiting for file '{filename}'"):
            retry(lambda _l: self.execute(f"test -e {filename}")[0] == 0, timeout)

    def _port_open(self, port, addr):
        # The NixOS driver uses `nc -z`; bash's /dev/tcp asks the same question without netcat.
        return self.execute(f"timeout 2 bash -c '</dev/tcp/{addr}/{port}' 2>/dev/null")[0] == 0

    def wait_for_open_port(self, port, addr="localhost", timeout=900):
        with self.nested(f"waiting for TCP port {port} on {addr}"):
            retry(lambda _l: self._port_open(port, addr), timeout)

    def wait_for_closed_port(self, port, addr="localhost", timeout=900):
        with self.nested(f"waiting for TCP port {port} on {addr} to be closed"):
            retry(lambda _l: not self._port_open(port, addr), timeout)

    # --- systemd ---
    def systemctl(self, q, user=None):
        if user is not None:
            raise MachineError("the namespace driver has no user sessions")
        return self.execute(f"systemctl {q}")

    def get_unit_info(self, unit, user=None):
        status, lines = self.systemctl(f'--no-pager show "{unit}"', user)
        if status != 0:
            raise RequestedAssertionFailed(f'retrieving systemctl info for unit "{unit}" failed with exit code {status}')
        return dict(line.split("=", 1) for line in lines.splitlines() if "=" in line)

    def get_unit_property(self, unit, property, user=None):
        status, lines = self.systemctl(f'--no-pager show "{unit}" --property="{property}"', user)
        if status != 0:
            raise RequestedAssertionFailed(f'retrieving systemctl property "{property}" for unit "{unit}" failed with exit code {status}')
        key, _, value = lines.strip().partition("=")
        assert key == property, f"systemctl show --property {property} {unit} produced invalid output: {lines}"
        return value

    def wait_for_unit(self, unit, user=None, timeout=900):
        """Wait until the unit is active; raise if it failed, or is inactive with no job pending."""

        def check_active(_last):
            state = self.get_unit_property(unit, "ActiveState", user)
            if state == "failed":
                raise RequestedAssertionFailed(f'unit "{unit}" reached state "{state}"')
            if state == "inactive":
                _status, jobs = self.systemctl("list-jobs --full 2>&1", user)
                if "No jobs" in jobs and self.get_unit_info(unit, user)["ActiveState"] == state:
                    raise RequestedAssertionFailed(f'unit "{unit}" is inactive and there are no pending jobs')
            return state == "active"

        with self.nested(f"waiting for unit {unit}"):
            retry(check_active, timeout)

    def require_unit_state(self, unit, require_state="active"):
        with self.nested(f"checking if unit '{unit}' has reached state '{require_state}'"):
            state = self.get_unit_info(unit)["ActiveState"]
            if state != require_state:
                raise RequestedAssertionFailed(f"Expected unit '{unit}' to to be in state '{require_state}' but it is in state '{state}'")

    def start_job(self, jobname, user=None):
        return self.systemctl(f"start {jobname}", user)

    def stop_job(self, jobname, user=None):
        return self.systemctl(f"stop {jobname}", user)

    # --- files ---
    def copy_from_host(self, source, target):
        """Copy a file or directory of the driver's machine to `target` inside the host."""
        source = Path(source)
        if source.is_dir():
            inner = f'mkdir -p {shlex.quote(target)} && tar -C {shlex.quote(target)} -xf -'
            feed = subprocess.Popen(["tar", "-C", str(source), "-cf", "-", "."], stdout=subprocess.PIPE)
            stdin = feed.stdout
        else:
            inner = f'mkdir -p "$(dirname {shlex.quote(target)})" && cat > {shlex.quote(target)} && chmod {oct(source.stat().st_mode & 0o7777)[2:]} {shlex.quote(target)}'
            feed, stdin = None, open(source, "rb")
        self.connect()
        p = subprocess.run(self._enter(["bash", "-c", inner]), stdin=stdin, capture_output=True)
        stdin.close()
        if feed:
            feed.wait()
        if p.returncode != 0:
            raise MachineError(f"copy_from_host {source} -> {target}: {p.stderr.decode(errors='replace')}")

    copy_from_host_via_shell = copy_from_host

    def copy_from_machine(self, source, target_dir=""):
        """Copy a file or directory of the host into the run's output directory."""
        target = self.driver.out_dir / target_dir
        target.mkdir(parents=True, exist_ok=True)
        src = shlex.quote(source)
        self.connect()
        p = subprocess.run(self._enter(["bash", "-c", f"tar -C \"$(dirname {src})\" -cf - \"$(basename {src})\""]), capture_output=True)
        if p.returncode != 0:
            raise MachineError(f"copy_from_machine {source}: {p.stderr.decode(errors='replace')}")
        subprocess.run(["tar", "-C", str(target), "-xf", "-"], input=p.stdout, check=True)

    copy_from_vm = copy_from_machine


class Driver:
    def __init__(self, nodes, descriptions, boot_description=None, services=None, bin_dir=None, out_dir=None,
                 environment=None, engine_memory_max="", domain="triad.test", global_timeout=900, verbose=True, keep=False):
        self.logger = Logger()
        self.verbose = verbose
        self.keep = keep
        self.global_timeout = global_timeout
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.out_dir = Path(out_dir or REPO / ".scenario-runs" / stamp).resolve()
        (self.out_dir / "logs").mkdir(parents=True, exist_ok=True)
        self.services = Path(services or REPO / "nixos-modules" / "services.toml").resolve()
        self.bin_dir = Path(bin_dir or REPO / "target" / "debug").resolve()
        self.descriptions = {n: Path(p).resolve() for n, p in descriptions.items()}
        self.environment = environment or {}
        self.engine_memory_max = engine_memory_max
        self.domain = domain
        self.polling_conditions = []
        self.hostbin = self.out_dir / "bin"
        self.hostbin.mkdir(exist_ok=True)
        for f in sorted((HERE / "hostbin").iterdir()) + [REPO / "vm-tests" / "lib" / n for n in ("triad-test-workload", "triad-test-kv-workload")]:
            link = self.hostbin / f.name
            if f.exists() and not link.exists():
                link.symlink_to(f.resolve())
        self.lock_file = None
        self.acquire_lock()
        clean(self.logger)
        self.cgroups = Cgroups()
        self.cgroups.ensure(self.cgroups.base)
        REGISTRY.mkdir(parents=True, exist_ok=True)
        (REGISTRY / "run").write_text(str(self.out_dir))
        for mp in MOUNTPOINTS:
            if not os.path.exists(mp):
                os.makedirs(mp)
                with open(REGISTRY / "created-mountpoints", "a") as f:
                    f.write(mp + "\n")
        self.network = Network()
        boot_description = boot_description or {}
        self.machines = [
            Machine(self, name, i, boot_description.get(name, "default"))
            for i, name in enumerate(sorted(nodes), start=1)
        ]

    def acquire_lock(self, wait_seconds=3600):
        LOCK.parent.mkdir(parents=True, exist_ok=True)
        self.lock_file = open(LOCK, "a+")
        deadline = time.monotonic() + wait_seconds
        announced = False
        while True:
            try:
                fcntl.flock(self.lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise MachineError(f"another scenario run holds {LOCK} for over {wait_seconds} s")
                if not announced:
                    self.logger.log(f"waiting for another scenario run to finish (lock {LOCK})")
                    announced = True
                time.sleep(2)
        self.lock_file.seek(0)
        self.lock_file.truncate()
        self.lock_file.write(str(os.getpid()))
        self.lock_file.flush()

    def hosts_file(self):
        lines = ["127.0.0.1 localhost", "::1 localhost"]
        lines += [f"{m.address} {m.name}.{self.domain} {m.name}" for m in self.machines]
        return "\n".join(lines) + "\n"

    # --- the testScript's symbols ---
    def start_all(self):
        with self.logger.nested("start all hosts"):
            for m in self.machines:
                m.start()

    def join_all(self):
        for m in self.machines:
            m.wait_for_shutdown()

    @contextlib.contextmanager
    def subtest(self, name):
        with self.logger.subtest(name):
            try:
                yield
            except Exception as e:
                self.logger.log_test_error(f'Test "{name}" failed with error: "{e}"')
                raise

    def check_polling_conditions(self):
        for condition in self.polling_conditions:
            condition()

    def test_symbols(self):
        symbols = dict(
            start_all=self.start_all,
            join_all=self.join_all,
            subtest=self.subtest,
            machines=self.machines,
            driver=self,
            log=self.logger,
            os=os,
            retry=retry,
            t=unittest.TestCase(),
            serial_stdout_on=lambda: None,
            serial_stdout_off=lambda: None,
        )
        symbols.update({m.name: m for m in self.machines})
        return symbols

    def run_script(self, paths):
        """Run the test script: the files are executed in order in one namespace, as the NixOS
        VM test concatenates them into its testScript."""
        symbols = self.test_symbols()
        symbols["__name__"] = "__testscript__"

        def on_alarm(_sig, _frame):
            raise GlobalTimeout(f"global timeout of {self.global_timeout} s reached")

        signal.signal(signal.SIGALRM, on_alarm)
        signal.alarm(self.global_timeout)
        try:
            for path in paths:
                code = compile(Path(path).read_text(), str(path), "exec")
                exec(code, symbols)
        finally:
            signal.alarm(0)

    def cleanup(self):
        with self.logger.nested("cleanup"):
            for m in self.machines:
                try:
                    m.release()
                except Exception as e:  # keep cleaning the others
                    self.logger.error(f"cleanup of {m.name}: {e}")
            problems = clean(self.logger)
            if not self.keep:
                for m in self.machines:
                    shutil.rmtree(m.state_dir, ignore_errors=True)
                shutil.rmtree(self.out_dir / "hosts", ignore_errors=True)
            if self.lock_file:
                self.lock_file.close()
            return problems

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()


def clean(logger=None):
    """Remove everything a run leaves behind (its own, or a crashed earlier one's): processes,
    namespaces, per-namespace files, cgroups, mountpoints it created. Returns what could not be
    removed (empty when clean)."""
    netns = [line.split()[0] for line in run("ip", "netns", "list", check=False).stdout.splitlines() if line.startswith(PREFIX)]
    for ns in netns:
        kill_netns_processes(ns)
    problems = []
    try:
        cg = Cgroups()
        if not cg.kill(cg.base, timeout=15):
            problems.append(f"processes left in {cg.base}: {cg.procs(cg.base)}")
    except RuntimeError:
        cg = None
    for ns in sorted(netns, key=lambda n: n == SWITCH):
        run("ip", "netns", "del", ns, check=False)
    for d in Path("/etc/netns").glob(PREFIX + "*") if Path("/etc/netns").exists() else []:
        shutil.rmtree(d, ignore_errors=True)
    with contextlib.suppress(OSError):
        Path("/etc/netns").rmdir()  # only if empty: someone else's entries stay
    if cg is not None:
        try:
            cg.remove(cg.base)
        except OSError as e:
            problems.append(f"cgroup {cg.base}: {e}")
    created = REGISTRY / "created-mountpoints"
    if created.exists():
        for mp in created.read_text().split():
            with contextlib.suppress(OSError):
                os.rmdir(mp)
        created.unlink()
    left = [line.split()[0] for line in run("ip", "netns", "list", check=False).stdout.splitlines() if line.startswith(PREFIX)]
    if left:
        problems.append(f"namespaces left: {left}")
    if cg is not None and cg.base.exists():
        problems.append(f"cgroup left: {cg.base}")
    if problems and logger:
        for p in problems:
            logger.error(f"cleanup: {p}")
    return problems


# --- running a scenario of vm-tests/scenarios/tests.toml ---

def load_tests(path=REPO / "vm-tests" / "scenarios" / "tests.toml"):
    data = tomllib.loads(Path(path).read_text())
    defaults = data.get("defaults", {})
    tests = {}
    for name, spec in data.get("scenarios", {}).items():
        t = dict(defaults)
        t.update(spec)
        t.setdefault("script", f"{name}.py")
        tests[name] = t
    return tests


def run_scenario(name, keep=False, bin_dir=None, verbose=True, tests_file=None):
    """Run one scenario (of `tests_file`, default tests.toml; its paths are relative to the
    scenarios directory); returns (ok, result line or error)."""
    scenarios = REPO / "vm-tests" / "scenarios"
    tests = load_tests(tests_file) if tests_file else load_tests()
    if name not in tests:
        raise SystemExit(f"unknown scenario {name!r}; known: {', '.join(tests)}")
    t = tests[name]
    descriptions = {"default": scenarios / t["cluster"]}
    descriptions.update({n: scenarios / f for n, f in t.get("descriptions", {}).items()})
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out_dir = REPO / ".scenario-runs" / f"{stamp}-{name}"
    driver = Driver(
        nodes=t["nodes"], descriptions=descriptions, boot_description=t.get("boot_description", {}),
        bin_dir=bin_dir, out_dir=out_dir, environment=t.get("environment", {}),
        engine_memory_max=t.get("engine_memory_max", ""), domain=t.get("domain", "triad.test"),
        # scripts/soak: a run of a thousand faults needs hours, not the table's default.
        global_timeout=int(os.environ.get("TRIAD_SCENARIOS_GLOBAL_TIMEOUT") or t.get("global_timeout", 900)), verbose=verbose, keep=keep,
    )
    ok, error = False, ""
    try:
        driver.run_script([REPO / "vm-tests" / "lib" / "checks.py", scenarios / t["script"]])
        ok = True
    except BaseException as e:  # report, clean up, then fail
        import traceback

        error = f"{type(e).__name__}: {e}"
        driver.logger.log_test_error(traceback.format_exc())
        dump_journals(out_dir / "logs", lines=int(os.environ.get("TRIAD_SCENARIOS_JOURNAL_LINES", "25")))
    finally:
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        problems = driver.cleanup()
    if problems:
        ok, error = False, f"cleanup left: {problems}"
    driver.logger.log(f"logs: {out_dir}/logs")
    return ok, error


def dump_journals(log_dir, lines=25):
    """The last lines of every unit's journal on every host, to read a failure in CI's output."""
    for path in sorted(Path(log_dir).glob("*.journal")):
        by_unit = {}
        for raw in path.read_text(errors="replace").splitlines():
            try:
                r = json.loads(raw)
            except ValueError:
                continue
            by_unit.setdefault(r["u"] or "-", []).append(r)
        for unit, records in sorted(by_unit.items()):
            sys.stderr.write(f"----- {path.stem}: {unit} (last {lines} of {len(records)} lines)\n")
            for r in records[-lines:]:
                stamp = time.strftime("%H:%M:%S", time.localtime(r["t"])) + f".{int(r['t'] * 1000) % 1000:03d}"
                sys.stderr.write(f"{stamp} {r['i']}[{r['p']}]: {r['m']}\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("scenario", nargs="?")
    ap.add_argument("--keep", action="store_true", help="keep the hosts' disks after the run")
    ap.add_argument("--bin", help="directory of the Triad binaries (default target/debug)")
    ap.add_argument("--clean", action="store_true", help="only remove what an earlier run left behind")
    ap.add_argument("--list", action="store_true", help="list the scenarios of tests.toml")
    ap.add_argument("--tests", help="another scenario table than vm-tests/scenarios/tests.toml (the benchmarks')")
    a = ap.parse_args()
    if a.list:
        for n, t in load_tests().items():
            print(n, "(expected to fail)" if t.get("expect") == "failure" else "")
        return 0
    if a.clean:
        return 1 if clean(Logger()) else 0

    def on_term(_sig, _frame):
        raise KeyboardInterrupt("terminated")

    signal.signal(signal.SIGTERM, on_term)
    ok, error = run_scenario(a.scenario, keep=a.keep, bin_dir=a.bin, tests_file=a.tests)
    first = error.splitlines()[0] if error else ""
    expected = (load_tests(a.tests) if a.tests else load_tests())[a.scenario].get("expect_failure")
    if expected is None:
        if not ok:
            print(f"{a.scenario}: FAILED {first}")
        return 0 if ok else 1
    # Broken on purpose: it must fail, and fail the check it names.
    import re

    if ok:
        print(f"{a.scenario}: FAILED: broken on purpose, yet every check passed")
        return 1
    if not re.search(expected, error):
        print(f"{a.scenario}: FAILED: broken on purpose, but failed otherwise than by /{expected}/: {first}")
        return 1
    print(f"{a.scenario}: failed as expected: {first}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
