"""Session lifetime: grace period after the last screen leaves, idle ending, token refresh."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async

from jails.config import jail_config
from jails.errors import JailError
from jails.uids import UidLease
from terminal.config import terminal_config
from terminal.manager import TerminalManager
from terminal.ring import Ring
from terminal.session import ENDED_NOTICE, TerminalSession
from tests.fixtures.shells import ShellLearner
from tests.terminal.helpers import RecordingScreen, attach, run
from tests.terminal.test_jail_attacks import uid_processes

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]
PROMPT = r"learner@kubelab:~\$ $"


def test_ring_keeps_the_newest_bytes_with_absolute_offsets() -> None:
    ring = Ring(16)
    ring.write(b"0123456789")
    ring.write(b"abcdefghij")
    assert ring.head == 20
    assert ring.tail >= 4
    offset, data = ring.read(0, 100)  # asked for overwritten bytes: start at the tail
    assert offset == ring.tail and data == b"0123456789abcdefghij"[offset:]
    assert ring.read(18, 100) == (18, b"ij")


@pytest.mark.skipif(os.geteuid() != 0, reason="uids are leased only when kubelab runs as root")
def test_uid_leases_hold_across_installs(tmp_path: Path) -> None:
    # Two kubelabs with their own var/ (another install, a second checkout) share the host's uids.
    base = dataclasses.replace(
        jail_config(), uid_base=250_000, uid_count=1, uid_lock_dir=tmp_path / "leases"
    )
    mine = dataclasses.replace(base, runtime_dir=tmp_path / "one")
    theirs = dataclasses.replace(base, runtime_dir=tmp_path / "two")
    lease = UidLease(mine)
    assert lease.uid == 250_000
    with pytest.raises(JailError, match="no free terminal uid"):
        UidLease(theirs)
    lease.release()
    other = UidLease(theirs)
    assert other.uid == 250_000
    other.release()


def manager_with(**changes: object) -> TerminalManager:
    return TerminalManager(dataclasses.replace(terminal_config(), **changes))  # type: ignore[arg-type]


async def open_session(
    manager: TerminalManager, learner: ShellLearner
) -> tuple[TerminalSession, RecordingScreen]:
    async def source() -> str:
        return learner.kubeconfig

    session = await manager.open(
        owner_id=learner.user.pk, kubeconfig_source=source, rows=24, cols=80
    )
    screen = await attach(session)
    await session.start()
    await screen.wait_for(PROMPT)
    return session, screen


async def test_detached_session_lives_through_the_grace_period_then_ends(
    make_shell_learner: Callable[[str], ShellLearner],
) -> None:
    learner = await sync_to_async(make_shell_learner)("grace")
    manager = manager_with(grace_seconds=2)
    session, screen = await open_session(manager, learner)
    uid = session.host_uid
    assert screen.attachment is not None
    session.detach(screen.attachment)
    await asyncio.sleep(0.5)
    await manager.reap()
    assert manager.get(session.id) is session and session.state == "running"
    await asyncio.sleep(2)
    await manager.reap()
    # The manager's own background reaper may be closing it at the same moment; closing awaits
    # the shell's end, so give it a moment to finish.
    for _ in range(50):
        if session.state == "closed":
            break
        await asyncio.sleep(0.1)
    assert manager.get(session.id) is None and session.state == "closed"
    if uid is not None:
        for _ in range(50):
            if not uid_processes(uid):
                break
            await asyncio.sleep(0.1)
        assert uid_processes(uid) == []
    await manager.shutdown()


async def test_idle_session_ends_and_enter_restarts_it(
    make_shell_learner: Callable[[str], ShellLearner],
) -> None:
    learner = await sync_to_async(make_shell_learner)("idle")
    manager = manager_with(idle_seconds=1)
    session, screen = await open_session(manager, learner)
    await asyncio.sleep(1.5)
    await manager.reap()
    assert session.state == "ended"
    await screen.wait_for(ENDED_NOTICE)
    start = len(screen.output)
    session.write("\r")
    await screen.wait_for(PROMPT, start=start)
    assert session.state == "running"
    await manager.shutdown()


async def test_an_idle_shell_is_warned_first_and_typing_takes_the_warning_back(
    make_shell_learner: Callable[[str], ShellLearner],
) -> None:
    learner = await sync_to_async(make_shell_learner)("warned")
    manager = manager_with(idle_seconds=30, idle_warning_seconds=29)
    session, screen = await open_session(manager, learner)

    def statuses() -> list[list[object]]:
        return [m for m in screen.messages if m[0] == "status"]

    before = len(statuses())
    await asyncio.sleep(1.2)
    await manager.reap()
    await asyncio.sleep(0.1)  # statuses go out in their own tasks
    warnings = [m for m in statuses()[before:] if m[1] == "idle-warning"]
    assert len(warnings) == 1 and 27 <= int(str(warnings[0][2])) <= 29
    assert session.state == "running"  # a warning, nothing ended
    await manager.reap()
    await asyncio.sleep(0.1)
    assert len([m for m in statuses() if m[1] == "idle-warning"]) == 1  # said once

    session.write("echo still-here\r")
    await screen.wait_for("still-here")
    assert statuses()[-1][1:3] == ["running", session.namespace]  # the warning is taken back
    assert not session.idle_warned
    await manager.shutdown()


async def test_the_environments_notice_is_printed_above_the_first_prompt(
    make_shell_learner: Callable[[str], ShellLearner],
) -> None:
    learner = await sync_to_async(make_shell_learner)("notice")
    manager = manager_with()
    notices = ["Welcome back. 2 objects were restored (Pod kuard, Service web).", None]

    async def source() -> str:
        return learner.kubeconfig

    async def notice() -> str | None:
        return notices.pop(0)

    session = await manager.open(
        owner_id=learner.user.pk, kubeconfig_source=source, rows=24, cols=80, notice_source=notice
    )
    screen = await attach(session)
    await session.start()
    shown = await screen.wait_for(PROMPT)
    assert shown.index("Welcome back. 2 objects were restored") < shown.index("learner@kubelab")
    # A restarted shell asks again and prints nothing: the notice is taken once.
    session.write("exit\r")
    await screen.wait_for(ENDED_NOTICE)
    start = len(screen.output)
    session.write("\r")
    again = await screen.wait_for(PROMPT, start=start)
    assert "Welcome back" not in again and notices == []
    await manager.shutdown()


async def test_token_is_refreshed_inside_a_running_shell(
    make_shell_learner: Callable[[str], ShellLearner],
) -> None:
    learner = await sync_to_async(make_shell_learner)("refresh")
    manager = manager_with(token_refresh_seconds=1)
    session, screen = await open_session(manager, learner)
    before = await run(session, screen, "md5sum < $KUBECONFIG")
    assert "preferences" not in learner.kubeconfig
    fresh = learner.kubeconfig + "preferences: {extensions: []}\n"  # a new document, same access

    async def source() -> str:
        return fresh

    session.kubeconfig_source = source
    await asyncio.sleep(1.2)
    await manager.reap()
    await asyncio.sleep(0.3)
    after = await run(session, screen, "md5sum < $KUBECONFIG; kubectl get pods")
    assert before.split()[0] != after.split()[0]
    assert "No resources found" in after
    await manager.shutdown()


async def test_logging_out_ends_the_learners_terminal_in_this_process(
    make_shell_learner: Callable[[str], ShellLearner],
) -> None:
    from terminal.manager import terminal_manager

    learner = await sync_to_async(make_shell_learner)("leaves")
    manager = terminal_manager()  # the one the web server's loop uses: what logout reaches
    session, screen = await open_session(manager, learner)
    uid = session.host_uid

    def log_out() -> None:
        from django.contrib.auth.signals import user_logged_out

        user_logged_out.send(sender=None, request=None, user=learner.user)

    await sync_to_async(log_out)()
    for _ in range(100):
        if session.state == "closed":
            break
        await asyncio.sleep(0.05)
    assert session.state == "closed"
    await asyncio.sleep(0.2)  # the status frame is sent by a task of its own
    assert ["status", "closed", "logged out"] in [m[:3] for m in screen.messages], screen.messages
    assert manager.for_owner(learner.user.pk) is None
    if uid is not None:
        for _ in range(50):
            if not uid_processes(uid):
                break
            await asyncio.sleep(0.1)
        assert uid_processes(uid) == []
