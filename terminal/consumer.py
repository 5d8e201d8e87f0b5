"""The terminal websocket when the web process holds the shells itself: the socket's frames go to a
ScreenLink (terminal.link), nothing more. With a terminal daemon, terminal.relay serves it."""

from __future__ import annotations

from urllib.parse import parse_qs

from terminal.link import ScreenLink
from terminal.socket_base import KeystrokeConsumer, screen_size
from terminal.texts import scope_language


class TerminalConsumer(KeystrokeConsumer):
    link: ScreenLink | None = None

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
