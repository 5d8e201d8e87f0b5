"""The terminal websocket: translates frames to manager calls and back, nothing more."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer

from terminal import protocol
from terminal.services import (
    TerminalAccessDenied,
    terminal_session_get_for_user,
    terminal_session_start,
)
from terminal.session import Attachment, TerminalError, TerminalSession
from terminal.texts import scope_language


def _size(query: dict[str, list[str]], key: str, default: int) -> int:
    try:
        return int(query.get(key, [str(default)])[0])
    except ValueError:
        return default


class TerminalConsumer(AsyncWebsocketConsumer):
    # Terminals talk to their session in-process; no channel layer round trip per keystroke.
    channel_layer_alias = "__no_layer__"
    session: TerminalSession | None = None
    attachment: Attachment | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # The same contract as AsyncConsumer.__call__ without a channel layer, minus the
        # asyncio.wait() and task per message of channels.utils.await_many_dispatch: keystrokes
        # are most of what this socket carries, and each saved microsecond is echo latency.
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels closes stale DB connections (a thread hop) before every message; keystrokes
        # never touch the database, so they skip it.
        if message.get("type") == "websocket.receive":
            await self.websocket_receive(message)
        else:
            await super().dispatch(message)

    async def connect(self) -> None:
        user = self.scope.get("user")
        session_id = self.scope.get("url_route", {}).get("kwargs", {}).get("session_id")
        try:
            session = await terminal_session_get_for_user(user=user, session_id=session_id)
        except TerminalAccessDenied as denied:
            await self.close(code=denied.code)
            return
        await self.accept()
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        resize = protocol.parse_client_frame(
            protocol.encode("resize", _size(query, "rows", 24), _size(query, "cols", 80))
        )
        rows, cols = (resize.rows, resize.cols) if isinstance(resize, protocol.Resize) else (24, 80)
        try:
            if session is None:
                # An id this server does not know: its shell went with a restart of the server.
                session = await terminal_session_start(
                    user=user,
                    rows=rows,
                    cols=cols,
                    lost=bool(session_id),
                    language=scope_language(self.scope.get("headers", [])),
                )
        except TerminalError as exc:
            await self.send_text(protocol.encode("status", "error", str(exc), ""))
            await self.close(code=4503)
            return
        self.session = session
        await self.send_text(protocol.encode("status", "attached", session.state, session.id))
        self.attachment = session.attach(self)
        session.resize(rows, cols)
        if session.state == "new":
            await session.start()
        elif session.state == "running":
            await self.send_text(
                protocol.encode("status", "running", session.namespace, session.id)
            )

    async def send_text(self, text: str) -> None:
        await self.send(text_data=text)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        session, attachment = self.session, self.attachment
        if session is None or attachment is None:
            return
        message = protocol.parse_client_frame(text_data, bytes_data)
        if isinstance(message, protocol.Stdin):
            session.write(message.data)
        elif isinstance(message, protocol.Resize):
            session.resize(message.rows, message.cols)
        elif isinstance(message, protocol.Ack):
            session.ack(attachment, message.count)
        elif isinstance(message, protocol.Ping):
            await self.send_text(protocol.encode("pong"))
        else:
            await self.send_text(protocol.encode("status", "ignored", message.reason, session.id))

    async def disconnect(self, code: int) -> None:
        if self.session is not None and self.attachment is not None:
            self.session.detach(self.attachment)
        self.session = self.attachment = None
