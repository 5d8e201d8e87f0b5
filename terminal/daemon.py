"""The terminal daemon: learners' shells out of the web process (`manage.py terminal_daemon`).

One per host. It owns a TerminalManager, exactly what a web process owns in-process, and serves
each screen that a web process relays (terminal.relay) through a ScreenLink, so a shell behaves
the same in both. Any number of web processes can then serve the same learners: a reload or a
second tab that reaches another web process reattaches to the same shell, and a web process that
dies takes no shell with it. Where each learner's shell is goes in a registry in Redis
(terminal.registry) so web processes on other hosts find it.

Its listening address is `unix:/path` (created 0600: only kubelab's own user may connect) or
`tcp:host:port`; every connection must open with a hello signed with the installation's secret
(terminal.daemon_wire), whatever can reach the socket. Jails are tied to this process
(`--die-with-parent`): if it dies they die, and the next screen's hello names a session it does
not know, so the learner gets a new shell that says the previous one is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import stat
from pathlib import Path
from typing import Any

from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model

from terminal import daemon_wire as wire
from terminal.config import terminal_config
from terminal.link import ScreenLink
from terminal.manager import terminal_manager, terminal_sessions_end_for_owner
from terminal.registry import daemon_secret, shell_claim, shell_forget, shell_placed

log = logging.getLogger(__name__)


class Daemon:
    def __init__(self, listen: wire.Address, advertise: wire.Address | None = None) -> None:
        self.listen = listen
        self.advertise = advertise or listen
        self.secret = daemon_secret()
        self.server: asyncio.AbstractServer | None = None
        self.seen = wire.SeenHellos()

    async def start(self) -> None:
        if self.listen.kind == "unix":
            _unix_path_free(self.listen.path)
            old_mask = os.umask(0o177)
            try:
                self.server = await asyncio.start_unix_server(
                    self.handle, path=self.listen.path, limit=wire.MAX_LINE
                )
            finally:
                os.umask(old_mask)
        else:
            self.server = await asyncio.start_server(
                self.handle, host=self.listen.host, port=self.listen.port, limit=wire.MAX_LINE
            )
        # The manager's reaper and the sessions belong to this loop, as in a web process.
        terminal_manager()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link: ScreenLink | None = None
        keeper: asyncio.Task[None] | None = None
        try:
            try:
                first = await asyncio.wait_for(reader.readline(), 10)
                if not first:
                    return  # a connection that says nothing: a health probe's TCP check
                hello = wire.hello_decode(first, secret=self.secret)
                # A hello copied off the wire (a TCP address on a shared network) opens
                # nothing a second time.
                self.seen.admit(hello)
            except (wire.BadHello, TimeoutError, ValueError) as exc:
                log.warning("terminal daemon: refused a connection (%s)", exc)
                return
            if hello.get("op") == "end":
                ended = terminal_sessions_end_for_owner(int(hello["user"]), str(hello["reason"]))
                await database_sync_to_async(shell_forget)(int(hello["user"]), str(self.advertise))
                writer.write(wire.ended_line(ended))
                await writer.drain()
                return
            if hello.get("op") == "watch":
                # An instructor's read-only screen on the learner's shell (terminal.watch).
                link = ScreenLink(**_screen_io(writer))
                if not await link.watch(owner_id=int(hello["user"])):
                    link = None
                    return
            else:
                link = await self._attach(hello, writer)
                if link is None:
                    return
                keeper = asyncio.create_task(
                    shell_keep_placed(int(hello["user"]), str(self.advertise), _placement_ttl())
                )
            while line := await reader.readline():
                text, data = wire.client_message(line)
                await link.receive(text, data)
        except (ConnectionError, asyncio.IncompleteReadError, ValueError) as exc:
            # ValueError: a line over MAX_LINE (asyncio's readline says so with it).
            log.info("terminal daemon: a screen went away (%s)", exc)
        finally:
            if keeper is not None:
                keeper.cancel()
            if link is not None:
                link.close()
            with contextlib.suppress(Exception):
                writer.close()

    async def _attach(
        self, hello: dict[str, Any], writer: asyncio.StreamWriter
    ) -> ScreenLink | None:
        user = await database_sync_to_async(
            lambda: get_user_model().objects.filter(pk=int(hello["user"])).first()
        )()

        io = _screen_io(writer)
        if user is None:
            await io["close"](4401)
            return None
        if terminal_manager().for_owner(user.pk) is None:
            # No shell here: start one only if no other daemon holds (or is starting) theirs.
            holder = await database_sync_to_async(shell_claim)(
                user.pk, str(self.advertise), _placement_ttl()
            )
            if holder != str(self.advertise):
                writer.write(wire.redirect_line(holder))
                await writer.drain()
                return None
        link = ScreenLink(**io)
        opened = await link.open(
            user=user,
            session_id=hello.get("session") or None,
            rows=int(hello.get("rows", 24)),
            cols=int(hello.get("cols", 80)),
            language=hello.get("language"),
        )
        if not opened:
            return None
        await database_sync_to_async(shell_placed)(user.pk, str(self.advertise), _placement_ttl())
        return link

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        await terminal_manager().shutdown()
        if self.listen.kind == "unix":
            _unix_path_free(self.listen.path)


def _screen_io(writer: asyncio.StreamWriter) -> dict[str, Any]:
    """A ScreenLink's send and close, over one connection from a web process."""

    async def send_text(text: str) -> None:
        writer.write(text.encode() + b"\n")
        await writer.drain()

    async def close(code: int) -> None:
        writer.write(wire.close_line(code))
        await writer.drain()

    return {"send_text": send_text, "close": close}


def _placement_ttl() -> int:
    # An entry outlives a shell nobody watches (grace, then idle) and no longer.
    return terminal_config().grace_seconds + terminal_config().idle_seconds


async def shell_keep_placed(
    user_id: int, address: str, ttl: int, every: float | None = None
) -> None:
    """Renew the learner's entry while a screen is attached, so a reload after hours of work
    still finds this daemon (the entry alone would expire `ttl` seconds after the attach)."""
    interval = every if every is not None else max(1.0, ttl / 3)
    while True:
        await asyncio.sleep(interval)
        try:
            await database_sync_to_async(shell_placed)(user_id, address, ttl)
        except Exception:  # Redis away for a moment: the next round tries again
            log.warning("terminal daemon: could not renew the shell entry of user %s", user_id)


class UnsafeSocketPath(ValueError):
    """The daemon's socket would sit where someone else could swap or reach it."""


def _unix_path_free(path: str) -> None:
    """The socket's folder (0700: only kubelab's user reaches the socket) and no old socket.

    The daemon runs as root: it removes an old socket by name only inside a folder that is
    ours and that nobody else may write (a learner's folder could hold a link to anything)."""
    folder = Path(path).parent
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
        raise UnsafeSocketPath(
            f"{folder} must be a folder owned by this user that nobody else may open "
            f"(mode 0700); it is mode {stat.S_IMODE(info.st_mode):o}, owner {info.st_uid}"
        )
    try:
        old = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(old.st_mode):
        raise UnsafeSocketPath(f"{path} exists and is not a socket; remove it or choose another")
    os.unlink(path)


async def daemon_serve(
    listen: wire.Address, advertise: wire.Address | None = None, ready: Any = None
) -> None:
    """Serve until SIGTERM or SIGINT; `ready(daemon)` is called once it listens."""
    daemon = Daemon(listen, advertise)
    await daemon.start()
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopped.set)
    if ready is not None:
        ready(daemon)
    await stopped.wait()
    await daemon.stop()
