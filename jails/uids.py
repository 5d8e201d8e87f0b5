"""Host uids for jails: one per jail, unique across processes on this machine, and the last
line of defence when a jail ends."""

from __future__ import annotations

import fcntl
import os
import secrets
import signal

from jails.config import JailConfig
from jails.errors import JailError


class UidLease:
    """A host uid for one jail, held by a flock on a file in the machine-wide lock directory."""

    def __init__(self, config: JailConfig) -> None:
        self.uid: int | None = None
        self._fd: int | None = None
        if os.geteuid() != 0:
            return  # not root: the jail runs as the server's own uid
        lock_dir = config.uid_lock_dir
        lock_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        start = secrets.randbelow(config.uid_count)
        for i in range(config.uid_count):
            uid = config.uid_base + (start + i) % config.uid_count
            fd = os.open(lock_dir / str(uid), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self.uid, self._fd = uid, fd
            return
        raise JailError("no free terminal uid: too many sessions on this machine")

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def uid_kill_all(uid: int) -> None:
    """SIGKILL any process still running as the jail's host uid."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid == uid:
                os.kill(int(entry.name), signal.SIGKILL)
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
