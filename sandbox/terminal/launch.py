"""Getting a jail ready and tearing it down: the session directory and its files, the host uid,
the API forwarder, the cgroups and the launch command line, then releasing all of them.

Shared by every jail that is not an interactive terminal (``jail_run``: `script` checks and the
steps of `labs test`). ``TerminalSession._spawn``/``_release`` in manager.py still do the same
steps inline; they are meant to move onto ``jail_prepare``/``PreparedJail.release`` (the helpers
imported from manager.py would then move here).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.terminal.cgroups import SessionCgroup, cgroup_create, cgroup_find
from sandbox.terminal.config import TerminalConfig
from sandbox.terminal.forwarder import ApiForwarder
from sandbox.terminal.jail import JailPaths, jail_argv, jail_files, wrap_launch
from sandbox.terminal.kubeconfig import JailKubeconfig
from sandbox.terminal.manager import TerminalError, _kill_uid, _shared_kubectl, _UidLease
from sandbox.terminal.sessiondir import session_dir_create

# What the jail's launcher is started with (it rebuilds the jail's own environment from scratch).
LAUNCH_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}


@dataclass
class PreparedJail:
    """Everything one jail holds on the host; ``argv`` starts it, ``release`` frees it all."""

    directory: Path
    argv: list[str]
    uid: _UidLease
    forwarder: ApiForwarder
    cgroup: SessionCgroup = field(default_factory=SessionCgroup)

    @property
    def host_uid(self) -> int | None:
        return self.uid.uid

    async def release(self) -> None:
        """Kill whatever still runs in the jail and free everything; safe to call twice."""
        self.cgroup.kill_all()
        await self.forwarder.close()
        if self.host_uid is not None:
            _kill_uid(self.host_uid)
        for _ in range(50):
            if self.cgroup.remove():
                break
            self.cgroup.kill_all()
            await asyncio.sleep(0.05)
        self.cgroup = SessionCgroup()
        shutil.rmtree(self.directory, ignore_errors=True)
        self.uid.release()


async def jail_prepare(
    *,
    config: TerminalConfig,
    kubeconfig: JailKubeconfig,
    completion: str,
    name_prefix: str,
    extra_files: Mapping[str, tuple[str, int]] | None = None,
) -> PreparedJail:
    """Lease a uid, write the jail's files (``extra_files`` override or add to the terminal's),
    start the forwarder and make the cgroups. Raises TerminalError when the host lacks a part."""
    if config.kubectl is None:
        raise TerminalError("no kubectl found: set KUBELAB_KUBECTL or run cluster/ctl build")
    if shutil.which("bwrap") is None or shutil.which("socat") is None:
        raise TerminalError("bubblewrap or socat is missing: run scripts/setup")
    lease = _UidLease(config)
    uid = lease.uid
    directory = config.runtime_dir / f"{name_prefix}{secrets.token_hex(8)}"
    forwarder = ApiForwarder(
        directory / "api.sock", kubeconfig.upstream_host, kubeconfig.upstream_port
    )
    prepared = PreparedJail(directory=directory, argv=[], uid=lease, forwarder=forwarder)
    try:
        files = jail_files(
            namespace=kubeconfig.namespace, kubeconfig=kubeconfig.text, completion=completion
        )
        files.update(extra_files or {})
        session_dir_create(config.runtime_dir, directory.name, files, uid)
        await forwarder.start(owner_uid=uid)
        limits = config.limits
        prepared.cgroup = cgroup_create(
            directory.name,
            memory_bytes=limits.memory_bytes,
            pids=limits.pids,
            cpu_percent=limits.cpu_quota_percent,
        )
        kubectl = await asyncio.to_thread(_shared_kubectl, config.kubectl, config.runtime_dir)
        prepared.argv = wrap_launch(
            jail_argv(JailPaths(session_dir=directory, kubectl=kubectl), limits),
            limits=limits,
            host_uid=uid,
            cgroup_procs=prepared.cgroup.procs_files,
        )
    except BaseException:
        with contextlib.suppress(Exception):
            await prepared.release()
        raise
    return prepared


STALE_AFTER = 600.0  # seconds; far longer than any one-shot jail may run


def stale_jails_sweep(config: TerminalConfig, name_prefix: str) -> int:
    """Remove what jails whose names start with `name_prefix` left behind when their process was
    killed (SIGKILL skips ``release``): session directories and cgroups older than STALE_AFTER."""
    removed = 0
    cutoff = time.time() - STALE_AFTER
    try:
        with os.scandir(config.runtime_dir) as entries:
            stale = [e for e in entries if e.name.startswith(name_prefix) and _older(e, cutoff)]
    except FileNotFoundError:
        return 0
    for entry in stale:
        leftover = cgroup_find(entry.name)
        leftover.kill_all()
        leftover.remove()
        shutil.rmtree(entry.path, ignore_errors=True)
        removed += 1
    return removed


def _older(entry: os.DirEntry[str], cutoff: float) -> bool:
    try:
        return entry.stat().st_mtime < cutoff
    except FileNotFoundError:
        return False
