"""The terminal websocket when the web process holds the shells itself: the socket's frames go to a
ScreenLink (terminal.link), nothing more. With a terminal daemon, terminal.relay serves it."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer

from terminal import protocol
from terminal.link import ScreenLink
from terminal.texts import scope_language


def _size(query: dict[str, list[str]], key: str, default: int) -> int:
    try:
        return int(query.get(key, [str(default)])[0])
    except ValueError:
        return default


def screen_size(query: dict[str, list[str]]) -> tuple[int, int]:
    """The rows and columns a socket asked for in its URL, clamped as a resize frame is."""
    resize = protocol.parse_client_frame(
        protocol.encode("resize", _size(query, "rows", 24), _size(query, "cols", 80))
    )
    return (resize.rows, resize.cols) if isinstance(resize, protocol.Resize) else (24, 80)


class TerminalConsumer(AsyncWebsocketConsumer):
    # Terminals talk to their session in-process; no channel layer round trip per keystroke.
    channel_layer_alias = "__no_layer__"
    link: ScreenLink | None = None

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
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        rows, cols = screen_size(query)
        self.link = ScreenLink(send_text=self.send_text, close=self._close_with)
        await self.link.open(
            user=self.scope.get("user"),
            session_id=self.scope.get("url_route", {}).get("kwargs", {}).get("session_id"),
            rows=rows,
            cols=cols,
            language=scope_language(self.scope.get("headers", [])),
            accept=self.accept,
        )

    async def _close_with(self, code: int) -> None:
        await self.close(code=code)

    async def send_text(self, text: str) -> None:
        await self.send(text_data=text)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.link is not None:
            await self.link.receive(text_data, bytes_data)

    async def disconnect(self, code: int) -> None:
        if self.link is not None:
            self.link.close()
        self.link = None
