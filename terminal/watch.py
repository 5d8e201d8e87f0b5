"""Looking over a learner's shoulder: a read-only screen on their live shell, wherever it lives
(this process, or the terminal daemon holding it). Who may watch whom is not the terminal's to
say: an app above (classes: a class's instructors) subclasses the consumer with that check.

Read-only is held twice: the web side drops every keystroke and resize before it goes anywhere,
and the screen itself (ScreenLink.watch) ignores them too, so a web process of another version
or a hand-written frame cannot type either. A watcher never starts a shell (with none running
the screen closes with 4410 and the page tries again), never paces the learner's output (it
skips ahead when slow) and never keeps an abandoned shell alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.contrib.auth import get_user_model

from kubelab.access import user_standing
from kubelab.socket_groups import user_control_group
from terminal import daemon_wire as wire
from terminal import protocol
from terminal.config import terminal_config
from terminal.link import ScreenLink
from terminal.relay import daemon_attach

log = logging.getLogger(__name__)


def _user_fresh(user_id: int) -> Any:
    return get_user_model().objects.filter(pk=user_id).first()


class TerminalWatchConsumer(AsyncWebsocketConsumer):
    """Unlike the learner's terminal sockets this one keeps the channel layer (a watcher does
    not type, so no keystroke pays for it): it follows the watcher's access like every event
    socket (logging out closes it, a lost class makes it check again)."""

    link: ScreenLink | None = None
    writer: asyncio.StreamWriter | None = None
    pump: asyncio.Task[None] | None = None
    owner_id: int | None = None
    groups_joined: tuple[str, ...] = ()

    def access_groups(self, user: Any, owner_id: int) -> tuple[str, ...]:
        """Groups whose `sockets.recheck` makes this socket check its access again."""
        return (user_control_group(user.pk),)

    async def watched_owner(self, user: Any) -> int | None:
        """The learner whose shell `user` may watch on this socket, or None (closed 4404)."""
        raise NotImplementedError

    async def watch_started(self, user: Any, owner_id: int) -> None:
        """The watcher is in (tell the learner)."""

    async def watch_ended(self, user: Any, owner_id: int) -> None:
        """The watcher left."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user_standing(user) != "active":
            await self.close(code=4401)
            return
        owner_id = await self.watched_owner(user)
        if owner_id is None:
            await self.close(code=4404)
            return
        self.owner_id = owner_id
        self.groups_joined = self.access_groups(user, owner_id)
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.watch_started(user, owner_id)
        if terminal_config().daemon:
            await self._watch_through_daemon(user, owner_id)
        else:
            self.link = ScreenLink(send_text=self._send_text, close=self._close_with)
            await self.accept()
            await self.link.watch(owner_id=owner_id)

    async def _watch_through_daemon(self, user: Any, owner_id: int) -> None:
        hello = {"op": "watch", "user": owner_id, "watcher": int(user.pk)}
        try:
            reader, writer, first = await daemon_attach(owner_id, hello)
        except (OSError, TimeoutError, ValueError) as exc:
            log.error("no terminal daemon answers: %s", exc)
            await self.close(code=4503)
            return
        text, code = wire.daemon_line(first) if first else (None, 4503)
        await self.accept()
        if text is not None:
            await self.send(text_data=text)
        if code is not None:
            writer.close()
            await self.close(code=code)
            return
        self.writer = writer
        self.pump = asyncio.get_running_loop().create_task(self._from_daemon(reader))

    async def _from_daemon(self, reader: asyncio.StreamReader) -> None:
        try:
            while line := await reader.readline():
                text, code = wire.daemon_line(line)
                if text is not None:
                    await self.send(text_data=text)
                if code is not None:
                    await self.close(code=code)
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        with contextlib.suppress(Exception):
            await self.close(code=1012)

    async def _send_text(self, text: str) -> None:
        await self.send(text_data=text)

    async def _close_with(self, code: int) -> None:
        await self.close(code=code)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        message = protocol.parse_client_frame(text_data, bytes_data)
        if isinstance(message, (protocol.Stdin, protocol.Resize)):
            await self.send(text_data=protocol.encode("status", "ignored", "read-only", ""))
            return
        if self.link is not None:
            await self.link.receive(text_data, bytes_data)
        elif self.writer is not None:
            self.writer.write(wire.client_line(text_data, bytes_data))
            await self.writer.drain()

    async def sockets_end(self, message: dict[str, Any]) -> None:
        """The watcher logged out or was disabled (kubelab.socket_control)."""
        await self.close(code=4401)

    async def sockets_recheck(self, message: dict[str, Any]) -> None:
        """The watcher's role or class, or the student's class, changed: check again."""
        user = self.scope.get("user")
        fresh = await database_sync_to_async(_user_fresh)(user.pk) if user is not None else None
        if user_standing(fresh) != "active" or await self.watched_owner(fresh) != self.owner_id:
            await self.close(code=4404)

    async def disconnect(self, code: int) -> None:
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.groups_joined = ()
        if self.link is not None:
            self.link.close()
        if self.pump is not None:
            self.pump.cancel()
        if self.writer is not None:
            with contextlib.suppress(Exception):
                self.writer.close()
        self.link = self.writer = self.pump = None
        user = self.scope.get("user")
        if self.owner_id is not None and user is not None:
            await self.watch_ended(user, self.owner_id)
            self.owner_id = None
