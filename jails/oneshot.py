"""One command in a fresh jail, without a pty: `script` checks and the steps of `labs test`.

The same jail as the terminal (``launch.jail_prepare``: bubblewrap, rlimits and uid drop, cgroups,
the API forwarder as the only way out), started with an init that runs one script and exits.
Callers are synchronous (a Celery task, the content test's threads), so each run gets its own
event loop on its own thread: the forwarder is asyncio, and bwrap's --die-with-parent is tied to
the thread that spawned it, which therefore lives exactly as long as the jail.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

from jails.config import JailConfig, jail_config
from jails.errors import JailError
from jails.kubeconfig import KubeconfigError, jail_kubeconfig
from jails.launch import LAUNCH_ENV, PreparedJail, jail_prepare, seccomp_open, stale_jails_sweep
from jails.learner import jail_run_files
from jails.seccomp import with_seccomp

log = logging.getLogger(__name__)

OUTPUT_LIMIT = 64 * 1024  # the newest output is kept; a flood costs no memory
READ_CHUNK = 64 * 1024
NAME_PREFIX = "run-"
SWEEP_EVERY = 300.0  # seconds between looks for jails a killed worker left behind
_swept_at = -SWEEP_EVERY

RunResult = tuple[int | None, str, bool]


def oneshot_run(
    *, script: str, kubeconfig: str, timeout: float, files: Mapping[str, str]
) -> RunResult:
    """(exit code, output, timed out); exit code None and not timed out: the jail did not start."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kubelab-jail") as thread:
        return thread.submit(
            asyncio.run, _run(script=script, kubeconfig=kubeconfig, seconds=timeout, files=files)
        ).result()


def _sweep_now_and_then(config: JailConfig) -> None:
    global _swept_at
    now = time.monotonic()
    if now - _swept_at < SWEEP_EVERY:
        return
    _swept_at = now
    try:
        stale_jails_sweep(config, NAME_PREFIX)
    except OSError as exc:
        log.warning("could not clean up stale jails: %s", exc)


class _Tail:
    """The last OUTPUT_LIMIT bytes of a stream."""

    def __init__(self) -> None:
        self.data = bytearray()

    async def drain(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(READ_CHUNK):
            self.data += chunk
            if len(self.data) > OUTPUT_LIMIT:
                del self.data[:-OUTPUT_LIMIT]

    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


async def _run(
    *, script: str, kubeconfig: str, seconds: float, files: Mapping[str, str]
) -> RunResult:
    try:
        jailed = jail_kubeconfig(kubeconfig)
    except KubeconfigError as exc:
        return None, f"the learner's kubeconfig cannot be used: {exc}", False
    config = jail_config()
    _sweep_now_and_then(config)
    try:
        prepared = await jail_prepare(
            config=config,
            kubeconfig=jailed,
            completion="",
            name_prefix=NAME_PREFIX,
            extra_files=jail_run_files(script=script, files=files),
        )
    except (JailError, OSError) as exc:
        return None, f"the jail could not be prepared: {exc}", False
    try:
        return await _spawn_and_wait(prepared, seconds)
    finally:
        await prepared.release()


async def _spawn_and_wait(prepared: PreparedJail, seconds: float) -> RunResult:
    # bwrap reports the sandboxed child's pid on this pipe once the jail is up; without that
    # line, a non-zero exit is the jail failing to start, not the learner's script failing.
    try:
        filter_fd = await seccomp_open()
    except JailError as exc:
        return None, str(exc), False
    status_read, status_write = os.pipe()
    argv = with_seccomp(list(prepared.argv), filter_fd)
    bwrap = argv.index("bwrap")
    argv[bwrap + 1 : bwrap + 1] = ["--json-status-fd", str(status_write)]
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=LAUNCH_ENV,
            cwd="/",
            start_new_session=True,
            pass_fds=(status_write, filter_fd),
        )
    except OSError as exc:
        os.close(status_read)
        return None, f"cannot start the jail: {exc}", False
    finally:
        os.close(status_write)
        os.close(filter_fd)
    tail = _Tail()
    assert proc.stdout is not None  # stdout=PIPE above
    try:
        await asyncio.wait_for(_finish(proc, tail, proc.stdout), seconds)
    except TimeoutError:
        _kill(proc, prepared)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 5)
        os.close(status_read)
        return None, tail.text(), True
    finally:
        if proc.returncode is None:
            _kill(proc, prepared)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 5)
    started = _jail_started(status_read)
    if not started:
        return None, tail.text() or f"the jail exited with {proc.returncode}", False
    return proc.returncode, tail.text(), False


async def _finish(
    proc: asyncio.subprocess.Process, tail: _Tail, stdout: asyncio.StreamReader
) -> None:
    await tail.drain(stdout)
    await proc.wait()


def _kill(proc: asyncio.subprocess.Process, prepared: PreparedJail) -> None:
    """bwrap first (its pid namespace goes with it), then anything left in the cgroups."""
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    prepared.cgroup.kill_all()


def _jail_started(status_read: int) -> bool:
    os.set_blocking(status_read, False)
    seen = b""
    with contextlib.suppress(BlockingIOError):
        while chunk := os.read(status_read, 4096):
            seen += chunk
    os.close(status_read)
    return b"child-pid" in seen
