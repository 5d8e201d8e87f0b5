"""Per-session cgroups (memory, pids, cpu), nested under the server's own cgroup.

cgroup v2 is used when the server's cgroup delegates the controllers to us; otherwise cgroup v1
hierarchies that are mounted writable; otherwise none (rlimits still apply; see ARCHITECTURE.md).
Everything here is best effort and synchronous but tiny (a few small file writes).
"""

from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
GROUP = "kubelab-terminal"


@dataclass
class SessionCgroup:
    dirs: list[Path] = field(default_factory=list)

    @property
    def procs_files(self) -> list[Path]:
        return [d / "cgroup.procs" for d in self.dirs]

    def pids(self) -> set[int]:
        found: set[int] = set()
        for path in self.procs_files:
            with contextlib.suppress(OSError):
                found.update(int(line) for line in path.read_text().split())
        return found

    def kill_all(self) -> int:
        """SIGKILL every process still in the session's cgroups; returns how many were signalled."""
        victims = self.pids()
        for pid in victims:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        return len(victims)

    def remove(self) -> bool:
        """rmdir the session's cgroups; False while processes remain (try again later)."""
        ok = True
        for d in self.dirs:
            try:
                d.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                ok = False
        return ok


def _own_paths() -> dict[str, str]:
    """controller (or '' for v2) -> this process's cgroup path, from /proc/self/cgroup."""
    paths: dict[str, str] = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return paths
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


def _write(path: Path, value: str) -> None:
    path.write_text(value)


def _v2_base() -> Path | None:
    own = _own_paths().get("")
    if own is None or not (ROOT / "cgroup.controllers").is_file():
        return None
    # v2 forbids processes in inner nodes, so our sessions go beside the server, under its parent.
    parent = (ROOT / own.lstrip("/")).parent
    try:
        enabled = (parent / "cgroup.subtree_control").read_text().split()
    except OSError:
        return None
    if not {"memory", "pids"} <= set(enabled) or not os.access(parent, os.W_OK):
        return None
    return parent / GROUP


def cgroup_create(name: str, *, memory_bytes: int, pids: int, cpu_percent: int) -> SessionCgroup:
    """Make the session's cgroups and set their limits; an empty result means 'not available'."""
    made = SessionCgroup()
    v2 = _v2_base()
    if v2 is not None:
        try:
            v2.mkdir(exist_ok=True)
            with contextlib.suppress(OSError):
                _write(v2 / "cgroup.subtree_control", "+memory +pids +cpu")
            d = v2 / name
            d.mkdir()
            made.dirs.append(d)
            _write(d / "memory.max", str(memory_bytes))
            with contextlib.suppress(OSError):
                _write(d / "memory.swap.max", "0")
            _write(d / "pids.max", str(pids))
            with contextlib.suppress(OSError):
                _write(d / "cpu.max", f"{cpu_percent * 1000} 100000")
            return made
        except OSError:
            made.remove()
            made = SessionCgroup()

    own = _own_paths()
    settings = {
        "memory": [("memory.limit_in_bytes", str(memory_bytes))],
        "pids": [("pids.max", str(pids))],
        "cpu": [("cpu.cfs_period_us", "100000"), ("cpu.cfs_quota_us", str(cpu_percent * 1000))],
    }
    for controller, values in settings.items():
        path = own.get(controller)
        mount = ROOT / controller
        if path is None or not (mount / "cgroup.procs").is_file():
            continue
        base = mount / path.lstrip("/") / GROUP
        try:
            base.mkdir(exist_ok=True)
            d = base / name
            d.mkdir()
        except OSError:
            continue
        made.dirs.append(d)
        for key, value in values:
            try:
                _write(d / key, value)
            except OSError:
                if controller != "cpu":
                    made.remove()
                    return SessionCgroup()
    return made


def cgroup_find(name: str) -> SessionCgroup:
    """The existing cgroups of the session `name` (to clean up after a process that was killed
    before it could remove them)."""
    found = SessionCgroup()
    v2 = _v2_base()
    if v2 is not None and (v2 / name).is_dir():
        found.dirs.append(v2 / name)
    own = _own_paths()
    for controller in ("memory", "pids", "cpu"):
        path = own.get(controller)
        if path is not None:
            d = ROOT / controller / path.lstrip("/") / GROUP / name
            if d.is_dir():
                found.dirs.append(d)
    return found
