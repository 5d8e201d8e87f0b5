"""What both terminal websockets share (the in-process consumer and the daemon relay): a
consumer without a channel layer or a thread hop per keystroke, and the screen size a socket
asks for in its URL."""

from __future__ import annotations

from typing import Any

from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer

from terminal import protocol


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


class KeystrokeConsumer(AsyncWebsocketConsumer):
    # A terminal talks to its shell (in-process or through the daemon), never to the channel
    # layer: no layer round trip per keystroke.
    channel_layer_alias = "__no_layer__"

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
