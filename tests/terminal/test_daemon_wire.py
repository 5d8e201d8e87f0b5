"""The terminal daemon's wire and socket: signed hellos, replays, and where the socket may be."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from pathlib import Path

import pytest

from terminal import daemon_wire as wire
from terminal.daemon import Daemon, UnsafeSocketPath, _unix_path_free
from terminal.registry import daemon_secret

SECRET = b"s" * 32


def test_a_signed_hello_reads_back_and_any_change_to_it_is_refused() -> None:
    line = wire.hello_encode({"op": "attach", "user": 7, "session": "abc"}, secret=SECRET)
    hello = wire.hello_decode(line, secret=SECRET)
    assert (hello["op"], hello["user"], hello["session"]) == ("attach", 7, "abc")

    body = json.loads(line)
    body["user"] = 8  # somebody else's shell
    with pytest.raises(wire.BadHello, match="bad signature"):
        wire.hello_decode(json.dumps(body).encode(), secret=SECRET)
    with pytest.raises(wire.BadHello, match="bad signature"):
        wire.hello_decode(line, secret=b"another installation's secret")
    with pytest.raises(wire.BadHello, match="unsigned"):
        wire.hello_decode(b'{"op": "attach", "user": 7}', secret=SECRET)
    with pytest.raises(wire.BadHello, match="not JSON"):
        wire.hello_decode(b"GET / HTTP/1.1", secret=SECRET)


def test_an_old_hello_is_stale() -> None:
    line = wire.hello_encode({"op": "end", "user": 1}, secret=SECRET, now=1000.0)
    assert wire.hello_decode(line, secret=SECRET, now=1030.0)["user"] == 1
    with pytest.raises(wire.BadHello, match="stale"):
        wire.hello_decode(line, secret=SECRET, now=1000.0 + wire.HELLO_MAX_AGE + 1)


def test_a_hello_is_admitted_once_and_old_ones_are_forgotten() -> None:
    seen = wire.SeenHellos()
    first = wire.hello_decode(wire.hello_encode({"user": 1}, secret=SECRET, now=10.0),
                              secret=SECRET, now=10.0)  # fmt: skip
    seen.admit(first, now=10.0)
    with pytest.raises(wire.BadHello, match="replayed"):
        seen.admit(first, now=11.0)
    seen.admit({"sig": "later"}, now=10.0 + 3 * wire.HELLO_MAX_AGE)
    assert "sig" in first and first["sig"] not in seen._seen


def test_websocket_messages_cross_the_wire_unchanged() -> None:
    for text in ['["stdin", "ls\\n"]', "漢字 \x1b[A", ""]:
        assert wire.client_message(wire.client_line(text, None)) == (text, None)
    assert wire.client_message(wire.client_line(None, b"\x00\xff")) == (None, b"\x00\xff")
    # Garbage becomes text the terminal protocol refuses, never an exception.
    assert wire.client_message(b"{not json") == ("", None)
    assert wire.client_message(b'{"b": "***"}') == ("", None)
    assert wire.daemon_line(b'["stdout", "hi"]\n') == ('["stdout", "hi"]', None)
    assert wire.daemon_line(wire.close_line(4403)) == (None, 4403)
    assert wire.daemon_line(b"{broken\n") == (None, 1011)


def test_the_answer_to_an_end_hello_counts_or_reads_as_none_ended() -> None:
    assert wire.ended_count(wire.ended_line(3)) == 3
    for broken in (b"", b"{broken\n", b"[1, 2]\n", b'{"ended": "many"}\n'):
        assert wire.ended_count(broken) == 0


def test_addresses_parse_or_say_what_they_should_look_like() -> None:
    assert str(wire.Address.parse("unix:/run/kubelab/t.sock")) == "unix:/run/kubelab/t.sock"
    tcp = wire.Address.parse("tcp:127.0.0.1:7700")
    assert (tcp.host, tcp.port) == ("127.0.0.1", 7700)
    assert wire.Address.parse("tcp:[::1]:7700").host == "::1"
    for bad in ["unix:relative.sock", "tcp:7700", "http://x", "tcp:host:port"]:
        with pytest.raises(ValueError, match="unix:/path or tcp:host:port"):
            wire.Address.parse(bad)


def test_the_socket_folder_must_be_ours_alone(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    with pytest.raises(UnsafeSocketPath, match="mode 777"):
        _unix_path_free(str(shared / "daemon.sock"))

    ours = tmp_path / "ours"
    ours.mkdir(mode=0o700)
    # Something at the socket's name that is not a socket stays: the daemon refuses to start.
    precious = tmp_path / "precious"
    precious.write_text("keep me")
    (ours / "daemon.sock").symlink_to(precious)
    with pytest.raises(UnsafeSocketPath, match="not a socket"):
        _unix_path_free(str(ours / "daemon.sock"))
    assert precious.read_text() == "keep me" and (ours / "daemon.sock").is_symlink()

    # An old socket (a daemon killed hard) is removed.
    (ours / "daemon.sock").unlink()
    old = socket.socket(socket.AF_UNIX)
    old.bind(str(ours / "daemon.sock"))
    old.close()
    _unix_path_free(str(ours / "daemon.sock"))
    assert not (ours / "daemon.sock").exists()

    fresh = tmp_path / "made" / "here"
    _unix_path_free(str(fresh / "daemon.sock"))
    assert fresh.stat().st_mode & 0o777 == 0o700


async def test_the_daemon_refuses_a_replayed_hello(
    tmp_path: Path, redis_available: str, caplog: pytest.LogCaptureFixture
) -> None:
    address = wire.Address.parse(f"unix:{tmp_path / 'd' / 'daemon.sock'}")
    daemon = Daemon(address)
    await daemon.start()
    try:
        assert os.stat(address.path).st_mode & 0o777 == 0o600
        hello = wire.hello_encode(
            {"op": "end", "user": 2_000_000_001, "reason": "test"}, secret=daemon_secret()
        )

        async def ask(line: bytes) -> bytes:
            reader, writer = await asyncio.open_unix_connection(address.path)
            writer.write(line)
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), 10)
            writer.close()
            return answer

        assert json.loads(await ask(hello)) == {"ended": 0}
        assert await ask(hello) == b""  # the same bytes again: closed without a word
        fresh = wire.hello_encode(
            {"op": "end", "user": 2_000_000_001, "reason": "test"}, secret=daemon_secret(),
            now=time.time() + 0.5,
        )  # fmt: skip
        assert json.loads(await ask(fresh)) == {"ended": 0}
        # A health probe connects and says nothing: closed quietly, no warning per probe.
        caplog.clear()
        reader, writer = await asyncio.open_unix_connection(address.path)
        writer.write_eof()
        assert await asyncio.wait_for(reader.read(), 10) == b""
        writer.close()
        assert not [r for r in caplog.records if "refused" in r.getMessage()]
        # Garbage, or a line longer than any message, from whatever reaches the socket.
        assert await ask(b"\x00" * (wire.MAX_LINE + 10)) == b""
        assert await ask(b"GET / HTTP/1.1\r\n\r\n") == b""
        assert [r for r in caplog.records if "refused" in r.getMessage()]
        # ... and it still serves.
        still = {"op": "end", "user": 2_000_000_001, "reason": "test"}
        line = wire.hello_encode(still, secret=daemon_secret(), now=time.time() + 1)
        assert json.loads(await ask(line)) == {"ended": 0}
    finally:
        await daemon.stop()
    assert not await asyncio.to_thread(os.path.exists, address.path)
