"""The terminal websocket when shells live in a terminal daemon (KUBELAB_TERMINAL_DAEMON): the web
process checks who the user is, finds the daemon that holds their shell (terminal.registry, else
its own host's), and relays every message both ways; the daemon does the rest (terminal.daemon).

A registered daemon that does not answer (it died) is forgotten and this host's daemon is asked
instead: the session id is unknown there, so the learner gets a new shell that says so. A daemon
that another daemon beat to a learner's new shell names the winner, and the relay goes there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from urllib.parse import parse_qs

from channels.db import database_sync_to_async

from terminal import daemon_wire as wire
from terminal.config import terminal_config
from terminal.registry import daemon_secret, shell_forget, shell_place
from terminal.services import TerminalAccessDenied, terminal_access_check
from terminal.socket_base import KeystrokeConsumer, screen_size
from terminal.texts import scope_language

log = logging.getLogger(__name__)
CONNECT_SECONDS = 5.0


async def daemon_open(
    address: wire.Address,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    if address.kind == "unix":
        opening = asyncio.open_unix_connection(address.path, limit=wire.MAX_LINE)
    else:
        opening = asyncio.open_connection(address.host, address.port, limit=wire.MAX_LINE)
    return await asyncio.wait_for(opening, CONNECT_SECONDS)


async def daemon_connect(
    user_id: int,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, wire.Address]:
    """A connection to the daemon holding the learner's shell, else to this host's."""
    local = wire.Address.parse(terminal_config().daemon)
    placed = await database_sync_to_async(shell_place)(user_id)
    if placed and placed != str(local):
        try:
            reader, writer = await daemon_open(wire.Address.parse(placed))
            return reader, writer, wire.Address.parse(placed)
        except (OSError, TimeoutError, ValueError) as exc:
            log.warning("terminal daemon %s did not answer (%s); using %s", placed, exc, local)
            await database_sync_to_async(shell_forget)(user_id, placed)
    reader, writer = await daemon_open(local)
    return reader, writer, local


MAX_REDIRECTS = 2


async def daemon_attach(
    user_id: int, hello: dict[str, object]
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    """Send the attach hello to the daemon holding the learner's shell; the daemon's first line.

    A daemon asked for a shell it does not hold, while another daemon holds or is starting it,
    names that one instead (two tabs that reached two daemons at once): follow it, at most
    twice. A named daemon that does not answer is forgotten and this host's is asked."""
    reader, writer, _ = await daemon_connect(user_id)
    for hop in range(MAX_REDIRECTS + 1):
        # A fresh signature each time: a daemon admits a hello once.
        writer.write(wire.hello_encode(hello, secret=daemon_secret()))
        await writer.drain()
        first = await reader.readline()
        target = wire.redirect_target(first)
        if target is None or hop == MAX_REDIRECTS:
            return reader, writer, b"" if target is not None else first
        writer.close()
        try:
            reader, writer = await daemon_open(wire.Address.parse(target))
        except (OSError, TimeoutError, ValueError) as exc:
            log.warning("terminal daemon %s did not answer (%s); asking this host's", target, exc)
            await database_sync_to_async(shell_forget)(user_id, target)
            reader, writer = await daemon_open(wire.Address.parse(terminal_config().daemon))
    raise AssertionError("unreachable")  # the loop returns on its last round


async def daemon_end_for_owner(user_id: int, reason: str) -> int:
    """End the learner's shell wherever it lives (they logged out, lost access)."""
    try:
        reader, writer, _ = await daemon_connect(user_id)
    except (OSError, TimeoutError, ValueError):
        return 0
    with contextlib.closing(writer):
        writer.write(wire.hello_encode({"op": "end", "user": user_id, "reason": reason},
                                       secret=daemon_secret()))  # fmt: skip
        await writer.drain()
        answer = await asyncio.wait_for(reader.readline(), CONNECT_SECONDS)
    return wire.ended_count(answer)


class TerminalRelayConsumer(KeystrokeConsumer):
    writer: asyncio.StreamWriter | None = None
    pump: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        session_id = self.scope.get("url_route", {}).get("kwargs", {}).get("session_id")
        try:
            terminal_access_check(user=user, session_id=session_id)
        except TerminalAccessDenied as denied:
            await self.close(code=denied.code)
            return
        rows, cols = screen_size(parse_qs(self.scope.get("query_string", b"").decode("latin-1")))
        hello = {
            "op": "attach", "user": int(user.pk), "session": session_id or "",
            "rows": rows, "cols": cols,
            "language": scope_language(self.scope.get("headers", [])),
        }  # fmt: skip
        try:
            reader, writer, first = await daemon_attach(int(user.pk), hello)
        except (OSError, TimeoutError, ValueError) as exc:
            log.error("no terminal daemon answers: %s", exc)
            await self.close(code=4503)
            return
        # The daemon's first line says whether this user may have that session.
        text, code = wire.daemon_line(first) if first else (None, 4503)
        if code is not None:
            writer.close()
            await self.close(code=code)
            return
        self.writer = writer
        await self.accept()
        if text is not None:
            await self.send(text_data=text)
        self.pump = asyncio.get_running_loop().create_task(self._from_daemon(reader))

    async def _from_daemon(self, reader: asyncio.StreamReader) -> None:
        try:
            while line := await reader.readline():
                text, code = wire.daemon_line(line)
                if code is not None:
                    await self.close(code=code)
                    return
                await self.send(text_data=text)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        # The daemon went away: the page reconnects and gets a new shell that says so.
        with contextlib.suppress(Exception):
            await self.close(code=1012)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.writer is None:
            return
        self.writer.write(wire.client_line(text_data, bytes_data))
        await self.writer.drain()

    async def disconnect(self, code: int) -> None:
        if self.pump is not None:
            self.pump.cancel()
        if self.writer is not None:
            with contextlib.suppress(Exception):
                self.writer.close()
        self.writer = self.pump = None
