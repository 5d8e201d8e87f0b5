"""Ctrl-C reaches the learner's programs even when the server itself ignores SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator

import pytest
from asgiref.sync import sync_to_async

from terminal.manager import terminal_manager
from tests.fixtures.shells import ShellLearner
from tests.terminal.helpers import attach, run
from tests.terminal.test_jail_attacks import uid_processes

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]
PROMPT = r"learner@kubelab:~\$ $"


@contextlib.contextmanager
def ignoring(*signals: signal.Signals) -> Iterator[None]:
    """The process ignores `signals` meanwhile, as a server started with `&` by a script does."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


async def test_ctrl_c_interrupts_a_command_when_the_server_ignores_sigint(
    make_shell_learner: Callable[[str], ShellLearner],
) -> None:
    # A non-interactive shell starts background jobs with SIGINT and SIGQUIT ignored, ignored
    # signals stay ignored across exec, and an interactive bash passes what it inherited on to
    # its commands: without the reset in the manager, Ctrl-C would not stop `sleep`.
    learner = await sync_to_async(make_shell_learner)("sigint")

    async def source() -> str:
        return learner.kubeconfig

    manager = terminal_manager()
    with ignoring(signal.SIGINT, signal.SIGQUIT):
        session = await manager.open(
            owner_id=learner.user.pk, kubeconfig_source=source, rows=24, cols=80
        )
        screen = await attach(session)
        await session.start()
    await screen.wait_for(PROMPT)

    ignored = int((await run(session, screen, "grep ^SigIgn: /proc/self/status")).split()[1], 16)
    assert not ignored & (1 << (signal.SIGINT - 1)), f"SigIgn {ignored:#x}"
    assert not ignored & (1 << (signal.SIGQUIT - 1)), f"SigIgn {ignored:#x}"

    session.write("sleep 100\r")
    uid = session.host_uid
    if uid is not None:
        for _ in range(100):
            if "sleep" in uid_processes(uid):
                break
            await asyncio.sleep(0.1)
        assert "sleep" in uid_processes(uid)
    else:
        await asyncio.sleep(1)  # not root: no uid of its own to watch; give sleep time to start
    mark = len(screen.output)
    session.write("\x03")
    await screen.wait_for(PROMPT, start=mark, within=20)
    assert "status=130" in await run(session, screen, "echo status=$?")
    if uid is not None:
        assert "sleep" not in uid_processes(uid)


async def test_ctrl_c_gets_past_input_nobody_reads(
    make_shell_learner: Callable[[str], ShellLearner],
) -> None:
    # `sleep` reads nothing: a big paste fills the pty's input queue, the rest waits in kubelab,
    # and the Ctrl-C typed after it must still interrupt (a tty flushes its input on Ctrl-C too).
    learner = await sync_to_async(make_shell_learner)("paste-ctrlc")

    async def source() -> str:
        return learner.kubeconfig

    session = await terminal_manager().open(
        owner_id=learner.user.pk, kubeconfig_source=source, rows=24, cols=80
    )
    screen = await attach(session)
    await session.start()
    await screen.wait_for(PROMPT)
    session.write("stty -echo -icanon; sleep 100\r")
    await asyncio.sleep(0.5)
    for _ in range(8):
        session.write("x" * 16 * 1024)
    mark = len(screen.output)
    session.write("\x03")
    await screen.wait_for(PROMPT, start=mark, within=20)
    session.write("\x15")
    assert "status=130" in await run(session, screen, "echo status=$?; stty sane")
