"""Getting a jail ready and tearing it down: the session directory and its files, the host uid,
the API forwarder, the cgroups and the launch command line, then releasing all of them.

Shared by every jail kubelab starts: the learner's terminal (terminal.session), `script` checks
and the steps of `labs test` (jails.oneshot). The pod execs' jails are built by the pod builder
(podsim.podjail) from the same kit (jails.bwrap, jails.seccomp).
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

from jails.cgroups import SessionCgroup, cgroup_create, cgroup_find
from jails.config import JailConfig
from jails.errors import JailError
from jails.forwarder import ApiForwarder
from jails.kubeconfig import JailKubeconfig
from jails.kubectl import kubectl_shared
from jails.learner import JailPaths, jail_argv, jail_files, wrap_launch
from jails.seccomp import SeccompUnavailable, seccomp_fd, seccomp_program
from jails.sessiondir import session_dir_create
from jails.uids import UidLease, uid_kill_all

# What the jail's launcher is started with (it rebuilds the jail's own environment from scratch).
LAUNCH_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}


@dataclass
class PreparedJail:
    """Everything one jail holds on the host; ``argv`` starts it, ``release`` frees it all."""

    directory: Path
    argv: list[str]
    uid: UidLease
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
            uid_kill_all(self.host_uid)
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
    config: JailConfig,
    kubeconfig: JailKubeconfig,
    completion: str,
    name_prefix: str,
    extra_files: Mapping[str, tuple[str, int]] | None = None,
) -> PreparedJail:
    """Lease a uid, write the jail's files (``extra_files`` override or add to the terminal's),
    start the forwarder and make the cgroups. Raises JailError when the host lacks a part."""
    if config.kubectl is None:
        raise JailError("no kubectl found: set KUBELAB_KUBECTL or run cluster/ctl build")
    if shutil.which("bwrap") is None or shutil.which("socat") is None:
        raise JailError("bubblewrap or socat is missing: run scripts/setup")
    lease = UidLease(config)
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
        kubectl = await asyncio.to_thread(kubectl_shared, config.kubectl, config.runtime_dir)
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


async def seccomp_open() -> int:
    """A descriptor of the jails' seccomp filter for one bwrap (built once per process, off the
    event loop: the first build asks the system Python); JailError when it cannot be built,
    because no jail starts without it."""
    try:
        program = await asyncio.to_thread(seccomp_program)
    except SeccompUnavailable as exc:
        raise JailError(str(exc)) from exc
    return seccomp_fd(program)


STALE_AFTER = 600.0  # seconds; far longer than any one-shot jail may run


def stale_jails_sweep(config: JailConfig, name_prefix: str) -> int:
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
