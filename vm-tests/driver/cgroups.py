"""Memory cgroups for the namespace driver: one tree per run, one subtree per host, one leaf
per service, so that a service's processes can be counted, limited (systemd's MemoryMax=) and
killed together, and a whole host can be killed at once.

Works with cgroup v2 (memory controller enabled at /sys/fs/cgroup) and with cgroup v1 (the
memory hierarchy at /sys/fs/cgroup/memory), whichever the machine has. Standard library only.
"""

import errno
import os
import signal
import time
from pathlib import Path

ROOT_NAME = "triad-vmtest"


def parse_bytes(text):
    """systemd's size syntax for MemoryMax=: bytes, or K/M/G/T (base 1024); "" or "infinity"
    mean no limit (None)."""
    text = str(text).strip()
    if text in ("", "infinity"):
        return None
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    if text[-1].upper() in units:
        return int(float(text[:-1]) * units[text[-1].upper()])
    return int(text)


class Cgroups:
    """The run's cgroup tree: `<root>/triad-vmtest/<host>/<leaf>`."""

    def __init__(self, root_name=ROOT_NAME):
        v2 = Path("/sys/fs/cgroup")
        v1 = Path("/sys/fs/cgroup/memory")
        if (v2 / "cgroup.controllers").exists() and "memory" in (v2 / "cgroup.controllers").read_text().split():
            self.version = 2
            self.mount = v2
        elif (v1 / "memory.limit_in_bytes").exists():
            self.version = 1
            self.mount = v1
        else:
            raise RuntimeError("no memory cgroup controller found (neither cgroup v2 with memory nor v1 memory)")
        self.base = self.mount / root_name

    def path(self, *parts):
        return self.base.joinpath(*parts)

    def _enable_memory(self, directory):
        """cgroup v2: let the children of `directory` use the memory controller."""
        control = directory / "cgroup.subtree_control"
        if "memory" not in control.read_text().split():
            control.write_text("+memory")

    def ensure(self, path, memory_max=None):
        """Create the cgroup `path` (and its parents) and set its memory limit (None: none)."""
        path = Path(path)
        if self.version == 2:
            chain = [path] + [p for p in path.parents if self.mount in p.parents]
            for directory in reversed(chain):
                self._enable_memory(directory.parent)
                directory.mkdir(exist_ok=True)
        else:
            path.mkdir(parents=True, exist_ok=True)
        self.set_memory_max(path, memory_max)
        return path

    def set_memory_max(self, path, memory_max):
        path = Path(path)
        if self.version == 2:
            (path / "memory.max").write_text("max" if memory_max is None else str(memory_max))
            swap = path / "memory.swap.max"
            if swap.exists() and memory_max is not None:
                swap.write_text("0")
        else:
            (path / "memory.limit_in_bytes").write_text("-1" if memory_max is None else str(memory_max))

    def procs_file(self, path):
        return Path(path) / "cgroup.procs"

    def wrap(self, path, argv, name="sh"):
        """argv, run in the cgroup `path` from its first instruction on (so that nothing it
        forks escapes): a shell named `name` joins the cgroup, then execs argv."""
        return ["/bin/sh", "-c", 'echo $$ > "$1" && shift && exec "$@"', name, str(self.procs_file(path))] + list(argv)

    def move(self, pid, path):
        self.procs_file(path).write_text(str(pid))

    def procs(self, path):
        """Every process in `path` and its descendants."""
        pids = []
        path = Path(path)
        if not path.is_dir():
            return pids
        for directory, _dirs, files in os.walk(path):
            if "cgroup.procs" in files:
                try:
                    text = (Path(directory) / "cgroup.procs").read_text()
                except OSError:
                    continue
                pids.extend(int(p) for p in text.split())
        return pids

    def signal(self, path, sig):
        """Send `sig` to every process of the cgroup tree; returns how many were signalled."""
        n = 0
        for pid in self.procs(path):
            try:
                os.kill(pid, sig)
                n += 1
            except ProcessLookupError:
                pass
        return n

    def kill(self, path, timeout=10.0):
        """SIGKILL every process of the tree until it is empty (processes forking meanwhile are
        caught by the next round). Returns True when empty within `timeout`."""
        path = Path(path)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not path.exists():
                return True
            kill_file = path / "cgroup.kill"
            if self.version == 2 and kill_file.exists():
                try:
                    kill_file.write_text("1")
                except OSError:
                    pass
            if self.signal(path, signal.SIGKILL) == 0 and not self.procs(path):
                return True
            time.sleep(0.02)
        return not self.procs(path)

    def oom_kills(self, path):
        """How many processes the kernel's OOM killer has killed in this cgroup."""
        path = Path(path)
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            for line in (path / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except OSError:
            pass
        return 0

    def remove(self, path, timeout=10.0):
        """Kill what runs in the tree, then remove it bottom-up."""
        path = Path(path)
        if not path.exists():
            return
        self.kill(path, timeout)
        directories = sorted((Path(d) for d, _s, _f in os.walk(path)), key=lambda p: len(p.parts), reverse=True)
        for directory in directories:
            for _ in range(100):
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as e:
                    if e.errno != errno.EBUSY:
                        raise
                    time.sleep(0.05)


class Sessions:
    """The Cgroups interface without cgroups, for the local demo (no root, no namespaces):
    a unit's processes are those of the session its main process leads (the supervisor spawns
    every unit with setsid, and daemons' children stay in their session). No memory limit and
    no OOM accounting: the demo's cluster runs without them."""

    version = 0

    def __init__(self, directory):
        self.base = Path(directory)
        self.base.mkdir(parents=True, exist_ok=True)

    def path(self, *parts):
        return self.base.joinpath(*parts)

    def ensure(self, path, memory_max=None):
        Path(path).mkdir(parents=True, exist_ok=True)
        return path

    def set_memory_max(self, path, memory_max):
        pass

    def wrap(self, path, argv, name="sh"):
        """argv, after recording its session (the spawning shell's pid: it leads the session)."""
        return ["/bin/sh", "-c", 'echo $$ > "$1" && shift && exec "$@"', name, str(Path(path) / "session")] + list(argv)

    def move(self, pid, path):
        (Path(path) / "session").write_text(str(pid))

    def procs(self, path):
        sessions = set()
        for f in Path(path).rglob("session"):
            try:
                sessions.add(int(f.read_text().strip()))
            except (OSError, ValueError):
                pass
        if not sessions:
            return []
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            # Fields after the command name (which may hold spaces): state ppid pgrp session.
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[3]) in sessions and int(entry) != os.getpid():
                pids.append(int(entry))
        return pids

    signal = Cgroups.signal

    def kill(self, path, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.signal(path, signal.SIGKILL) == 0:
                return True
            time.sleep(0.02)
        return not self.procs(path)

    def oom_kills(self, path):
        return 0

    def remove(self, path, timeout=10.0):
        self.kill(path, timeout)
