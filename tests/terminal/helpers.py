"""Drive terminals from tests: a recording screen for the manager, a websocket client for the
consumer; both acknowledge output the way terminal.js does."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from typing import Any

from channels.testing import WebsocketCommunicator

from kubelab.asgi import application
from terminal.session import Attachment, TerminalSession

ORIGIN = (b"origin", b"http://127.0.0.1:8000")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


def plain(text: str) -> str:
    """Terminal output without colours and carriage returns."""
    return ANSI.sub("", text)


class RecordingScreen:
    """A Screen for TerminalSession.attach that keeps everything it is sent."""

    def __init__(self, *, ack: bool = True) -> None:
        self.ack = ack
        self.output = ""
        self.messages: list[list[Any]] = []
        self.session: TerminalSession | None = None
        self.attachment: Attachment | None = None
        self.changed = asyncio.Event()

    async def send_text(self, text: str) -> None:
        message = json.loads(text)
        self.messages.append(message)
        if message[0] == "stdout":
            self.output += message[1]
            if self.ack and self.session and self.attachment:
                self.session.ack(self.attachment, 1)
        self.changed.set()

    async def wait_for(self, pattern: str, *, within: float = 20.0, start: int = 0) -> str:
        deadline = time.monotonic() + within
        regex = re.compile(pattern)
        while not regex.search(plain(self.output[start:])):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"timed out waiting for {pattern!r}; screen ends with:\n"
                    f"{plain(self.output)[-1500:]}"
                )
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), timeout=remaining)
        return plain(self.output[start:])


async def attach(session: TerminalSession, *, ack: bool = True) -> RecordingScreen:
    screen = RecordingScreen(ack=ack)
    screen.session = session
    screen.attachment = session.attach(screen)
    return screen


_counter = 0


async def run(
    session: TerminalSession, screen: RecordingScreen, command: str, *, within: float = 30.0
) -> str:
    """Type `command`, wait until it finished, return what it printed (plain text)."""
    global _counter
    _counter += 1
    marker = f"__done_{_counter}__"
    start = len(screen.output)
    session.write(f"{command}; echo {marker[:4]}''{marker[4:]}=$?\r")
    text = await screen.wait_for(rf"{marker}=\d+", within=within, start=start)
    body = text.split("\n", 1)[1] if "\n" in text else text
    return body[: body.rfind(marker)]


class WsTerminal:
    """A logged-in browser tab, through the real ASGI stack (origin check, session auth)."""

    def __init__(
        self,
        cookie: bytes | None,
        *,
        path: str = "/ws/terminal/",
        origin: tuple[bytes, bytes] | None = ORIGIN,
    ) -> None:
        headers = [(b"host", b"127.0.0.1")]
        if origin:
            headers.append(origin)
        if cookie:
            headers.append((b"cookie", cookie))
        self.comm = WebsocketCommunicator(application, path, headers=headers)
        self.output = ""
        self.messages: list[list[Any]] = []
        self.session_id = ""

    async def connect(self) -> tuple[bool, int | None]:
        connected, code = await self.comm.connect(timeout=10)
        if not connected:
            # Let the refusing application finish now (the origin check's denier holds a
            # channel-layer receive); otherwise its cancellation is left to the loop's teardown.
            with contextlib.suppress(Exception):
                await self.comm.disconnect(timeout=5)
        return connected, code

    async def send(self, *message: Any) -> None:
        await self.comm.send_to(text_data=json.dumps(list(message)))

    async def send_raw(self, text: str | None = None, data: bytes | None = None) -> None:
        message: dict[str, Any] = {"type": "websocket.receive"}
        if text is not None:
            message["text"] = text
        if data is not None:
            message["bytes"] = data
        await self.comm.send_input(message)

    async def type(self, text: str) -> None:
        await self.send("stdin", text)

    async def _pump_one(self, within: float) -> None:
        raw = await self.comm.receive_output(timeout=within)
        if raw["type"] == "websocket.close":
            self.messages.append(["closed", raw.get("code")])
            raise ConnectionError(f"socket closed: {raw.get('code')}")
        message = json.loads(raw["text"])
        self.messages.append(message)
        if message[0] == "stdout":
            self.output += message[1]
            await self.send("ack", 1)
        elif message[0] == "status" and len(message) > 3 and message[3]:
            self.session_id = message[3]

    async def wait_for(self, pattern: str, *, within: float = 20.0, start: int = 0) -> str:
        deadline = time.monotonic() + within
        regex = re.compile(pattern)
        while not regex.search(plain(self.output[start:])):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"timed out waiting for {pattern!r}; screen ends with:\n"
                    f"{plain(self.output)[-1500:]}"
                )
            with contextlib.suppress(TimeoutError):
                await self._pump_one(remaining)
        return plain(self.output[start:])

    async def wait_message(self, kind: str, *, within: float = 20.0) -> list[Any]:
        seen = len(self.messages)
        deadline = time.monotonic() + within
        while True:
            for message in self.messages[seen:]:
                if message[0] == kind:
                    return message
            seen = len(self.messages)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {kind!r} message; got {self.messages[-5:]}")
            await self._pump_one(remaining)

    async def close(self) -> None:
        await self.comm.disconnect()
