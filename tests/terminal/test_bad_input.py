"""Garbage frames, oversized pastes, absurd resizes and floods: rejected or clamped, never fatal."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable

import pytest
from asgiref.sync import sync_to_async

from terminal import protocol
from terminal.manager import terminal_manager
from tests.fixtures.shells import ShellLearner
from tests.terminal.helpers import WsTerminal, attach, run

PROMPT = r"learner@kubelab:~\$ $"

GARBAGE: list[tuple[str | None, bytes | None]] = [
    ("not json", None),
    ("", None),
    ("{}", None),
    ("[]", None),
    ("null", None),
    ('"stdin"', None),
    ("[1, 2, 3]", None),
    ('["stdin"]', None),
    ('["stdin", 5]', None),
    ('["stdin", "a", "b"]', None),
    ('["resize", "many", "lots"]', None),
    ('["resize", true, false]', None),
    ('["resize", NaN, Infinity]', None),
    ('["resize"]', None),
    ('["ack", -5]', None),
    ('["ack", "x"]', None),
    ('["exec", "rm -rf /"]', None),
    ('["stdin", "\\ud800"]', None),  # a lone surrogate
    ("[" * 100_000 + "]" * 100_000, None),  # deep nesting: RecursionError in json
    ('["stdin", "' + "x" * (protocol.MAX_FRAME_BYTES + 1) + '"]', None),
    (None, b"\x00\xff\xfe binary junk \x1b[31m"),
    (None, json.dumps(["stdin", "echo via-binary\r"]).encode()),
]


def test_protocol_parses_and_clamps() -> None:
    assert protocol.parse_client_frame('["stdin", "ls\\r"]') == protocol.Stdin("ls\r")
    assert protocol.parse_client_frame('["resize", 99999, -3]') == protocol.Resize(500, 10)
    assert protocol.parse_client_frame('["resize", 1e308, 1e308]') == protocol.Resize(500, 1000)
    assert protocol.parse_client_frame('["set_size", 30, 100]') == protocol.Resize(30, 100)
    assert protocol.parse_client_frame('["resize", 24.7, 80.2]') == protocol.Resize(24, 80)
    assert protocol.parse_client_frame('["ack", 1e99]') == protocol.Ack(protocol.MAX_ACK)
    assert protocol.parse_client_frame('["ping"]') == protocol.Ping()
    assert protocol.parse_client_frame(r'["stdin", "\u00e9\ud83d\ude00"]') == protocol.Stdin("é😀")
    for sample in ("k", 'a"b\\c\n\x1b[0m\x00\u2028é😀', "", "\x7f\ufffd"):
        assert protocol.encode_stdout(sample) == protocol.encode("stdout", sample)
        assert json.loads(protocol.encode_stdout(sample)) == ["stdout", sample]
    for text, data in GARBAGE:
        assert isinstance(
            protocol.parse_client_frame(text, data), protocol.Invalid | protocol.Stdin
        )


@pytest.mark.cluster
@pytest.mark.django_db(transaction=True)
async def test_garbage_frames_leave_socket_and_shell_alive(
    make_shell_learner: Callable[[str], ShellLearner],
) -> None:
    learner = await sync_to_async(make_shell_learner)("garbage")
    tab = WsTerminal(learner.cookie)
    assert (await tab.connect())[0]
    await tab.wait_for(PROMPT)
    for text, data in GARBAGE:
        await tab.send_raw(text, data)
    await tab.send("resize", 10**9, -(10**9))
    start = len(tab.output)
    await tab.type("\x15stty size; echo still-$((1+1))\r")  # ^U: drop the replaced surrogate
    await tab.wait_for(r"\n500 10\nstill-2\n", start=start)
    ignored = [m for m in tab.messages if m[0] == "status" and m[1] == "ignored"]
    assert len(ignored) >= len(GARBAGE) - 3
    assert all("rm -rf" not in json.dumps(m) for m in ignored)  # reasons never echo input
    await tab.send("ping")
    assert await tab.wait_message("pong") == ["pong"]
    await tab.close()


@pytest.mark.cluster
@pytest.mark.django_db(transaction=True)
async def test_oversized_paste_arrives_whole(
    make_shell_learner: Callable[[str], ShellLearner],
) -> None:
    learner = await sync_to_async(make_shell_learner)("paste")
    tab = WsTerminal(learner.cookie)
    assert (await tab.connect())[0]
    await tab.wait_for(PROMPT)
    await tab.type("stty -echo; cat > ~/paste.txt\r")
    await asyncio.sleep(0.3)
    line = "0123456789" * 9 + "abcdefghi\n"  # 100 bytes
    paste = line * 2000  # 200 KB, sent as terminal.js does: frames of at most 32 KiB
    for i in range(0, len(paste), 32 * 1024):
        await tab.type(paste[i : i + 32 * 1024])
    await tab.type("\x04")
    start = len(tab.output)
    await tab.type("stty echo; wc -c < ~/paste.txt\r")
    await tab.wait_for(r"\n200000\n", start=start, within=60)
    await tab.close()


@pytest.mark.cluster
@pytest.mark.django_db(transaction=True)
async def test_flood_is_paced_by_the_screen_and_others_stay_fast(
    make_shell_learner: Callable[[str], ShellLearner],
) -> None:
    manager = terminal_manager()
    flooder = await sync_to_async(make_shell_learner)("flood")
    typist = await sync_to_async(make_shell_learner)("typist")

    async def source_for(learner: ShellLearner) -> Callable[[], Awaitable[str]]:
        async def source() -> str:
            return learner.kubeconfig

        return source

    flood = await manager.open(
        owner_id=flooder.user.pk, kubeconfig_source=await source_for(flooder), rows=24, cols=80
    )
    # A screen that never acknowledges: the flood must stop at the window, not fill memory.
    stuck = await attach(flood, ack=False)
    await flood.start()
    await stuck.wait_for(PROMPT)
    flood.write("yes flood-flood-flood\r")
    await asyncio.sleep(1.5)
    assert not flood.reader_active  # reading paused: the pty, not kubelab, holds the backlog
    held = len(stuck.output)
    assert held <= 2 * manager.config.window_bytes
    await asyncio.sleep(0.5)
    assert len(stuck.output) == held

    calm = await manager.open(
        owner_id=typist.user.pk, kubeconfig_source=await source_for(typist), rows=24, cols=80
    )
    screen = await attach(calm)
    await calm.start()
    await screen.wait_for(PROMPT)

    # A second, fast screen on the flooding session keeps it flowing at full speed meanwhile.
    fast = await attach(flood)
    await asyncio.sleep(0.3)
    delays = []
    for i in range(20):
        start = len(screen.output)
        began = time.perf_counter()
        calm.write(f"echo tick{i}\r")
        await screen.wait_for(rf"\ntick{i}\n", start=start)
        delays.append(time.perf_counter() - began)
    assert sorted(delays)[len(delays) // 2] < 0.1, delays
    assert len(fast.output) > len(stuck.output)

    # Ctrl-C still stops the flood, and the fast screen gets the prompt back while the stuck one
    # still holds its window.
    flood.write("\x03")
    mark = len(fast.output)
    await fast.wait_for(PROMPT, start=mark, within=30)
    out = await run(flood, fast, "echo after-flood")
    assert "after-flood" in out
