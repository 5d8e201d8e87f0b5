"""The demo app's state shared by a pod's connections (the probe flips, the simulated memory)
and the store that keeps it. Stdlib only: it runs in the demo app's jail.

It lives in ``STATE-DIR/state.json``, replaced atomically (write a temporary file, then rename)
under an exclusive ``flock`` of ``STATE-DIR/state.lock``. Times are Unix epoch seconds
(floats)::

    {
      "version": 1,
      "healthy": {                  # liveness; "ready" has the same shape (readiness)
        "failing": false,           # true after /healthy/fail, false after /healthy/ok
        "failing_since": null,      # when it started failing; null while ok
        "changed_at": null,         # last flip (either way)
        "hits": 0,                  # requests to /healthy ever answered
        "consecutive_failures": 0,  # failing answers since failing_since (failureThreshold)
        "last_hit": null,
        "fail_next": 0,             # kuard's failNext (PUT /healthy/api): see podsim.probeapi
        "fail_next_since": null,    # when it was set; the shim counts probes from here
        "history": []               # the last 20 answers: {"id", "when", "code"}
      },
      "ready": {...},
      "memory": {
        "allocated_bytes": 0,       # simulated: nothing is really allocated
        "limit_bytes": null,        # the container's limits.memory, null without a limit
        "over_limit": false,        # allocated_bytes > limit_bytes: a real container is
        "over_limit_since": null    # OOM-killed (137, OOMKilled); the shim may act on it
      }
    }

A missing, unreadable or foreign file reads as this default state.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import json
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

STATE_VERSION = 1


def _probe_state() -> dict[str, Any]:
    return {
        "failing": False,
        "failing_since": None,
        "changed_at": None,
        "hits": 0,
        "consecutive_failures": 0,
        "last_hit": None,
        "fail_next": 0,
        "fail_next_since": None,
        "history": [],
    }


def default_state() -> dict[str, Any]:
    return {
        "version": STATE_VERSION,
        "healthy": _probe_state(),
        "ready": _probe_state(),
        "memory": {
            "allocated_bytes": 0,
            "limit_bytes": None,
            "over_limit": False,
            "over_limit_since": None,
        },
    }


def read_regular(path: Path, limit: int) -> bytes:
    """A regular file's first `limit` bytes; OSError for anything else (a FIFO planted there
    must not block the demo app), without following a link."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        return os.read(fd, limit)
    finally:
        os.close(fd)


class StateStore:
    """``state.json`` in the state dir: read freely, changed under a lock, replaced atomically.

    ``generation`` is the container's restart count: a restarted container starts from the
    default state, so a state written by an earlier instance reads as the default (the shim's
    prober ignores it the same way)."""

    def __init__(self, directory: Path, generation: int = 0) -> None:
        self.directory = directory
        self.generation = generation
        self.path = directory / "state.json"
        self.lock_path = directory / "state.lock"

    def read(self) -> dict[str, Any]:
        state = default_state()
        state["generation"] = self.generation
        try:
            stored = json.loads(read_regular(self.path, 64 * 1024).decode("utf-8"))
        except (OSError, ValueError):
            return state
        if not isinstance(stored, dict) or stored.get("version") != STATE_VERSION:
            return state
        if stored.get("generation", 0) != self.generation:
            return state
        # KeyGen's section stays absent until a PUT /keygen (podsim/keygen.py).
        if isinstance(stored.get("keygen"), dict):
            state["keygen"] = stored["keygen"]
        for section, defaults in state.items():
            if isinstance(defaults, dict) and isinstance(stored.get(section), dict):
                for key in defaults:
                    if key in stored[section]:
                        defaults[key] = stored[section][key]
        return state

    def update(self, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        with self._locked():
            state = self.read()
            change(state)
            self._write(state)
            return copy.deepcopy(state)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        flags = os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(self.lock_path, flags, 0o600)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError(f"{self.lock_path} is not a regular file")
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _write(self, state: dict[str, Any]) -> None:
        fd, temporary = tempfile.mkstemp(prefix=".state-", suffix=".tmp", dir=self.directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(state, handle, indent=2)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
