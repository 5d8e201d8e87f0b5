"""One screen linked to a learner's session, wherever the session lives: the frames a screen
sends become session calls, the session's output becomes frames. The web process's own
websocket (terminal.consumer) and the terminal daemon's connections (terminal.daemon) both
hold one of these, so a shell behaves the same in or out of the web process."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from terminal import protocol
from terminal.manager import terminal_manager
from terminal.services import (
    TerminalAccessDenied,
    terminal_session_get_for_user,
    terminal_session_start,
)
from terminal.session import Attachment, TerminalError, TerminalSession

SendText = Callable[[str], Awaitable[None]]
# A watcher's close code when the learner has no shell running to watch.
WATCH_NOTHING = 4410
Close = Callable[[int], Awaitable[None]]


class ScreenLink:
    def __init__(self, *, send_text: SendText, close: Close) -> None:
        self._send = send_text
        self._close = close
        self.session: TerminalSession | None = None
        self.attachment: Attachment | None = None
        self.read_only = False

    async def send_text(self, text: str) -> None:
        await self._send(text)

    async def open(
        self,
        *,
        user: Any,
        session_id: str | None,
        rows: int,
        cols: int,
        language: str | None,
        accept: Callable[[], Awaitable[None]] | None = None,
    ) -> bool:
        """Check the user may have this session, then attach (starting a shell if needed).
        ``accept`` runs once access is granted (a websocket accepts then). False: refused,
        and the screen was closed with the reason's code."""
        try:
            session = await terminal_session_get_for_user(user=user, session_id=session_id)
        except TerminalAccessDenied as denied:
            await self._close(denied.code)
            return False
        if accept is not None:
            await accept()
        try:
            if session is None:
                # An id nobody here knows: its shell went with a restart (of the server or the
                # terminal daemon).
                session = await terminal_session_start(
                    user=user, rows=rows, cols=cols, lost=bool(session_id), language=language
                )
        except TerminalError as exc:
            await self._send(protocol.encode("status", "error", str(exc), ""))
            await self._close(4503)
            return False
        self.session = session
        await self._send(protocol.encode("status", "attached", session.state, session.id))
        self.attachment = session.attach(self)
        session.resize(rows, cols)
        if session.state == "new":
            await session.start()
        elif session.state == "running":
            await self._send(protocol.encode("status", "running", session.namespace, session.id))
        return True

    async def watch(self, *, owner_id: int) -> bool:
        """Attach read-only to the learner's live shell in this process (an instructor looking
        over their shoulder; whoever calls this has checked that they may). Never starts a
        shell: with none running, the screen is told so and closed (4410), and it tries again
        later. The caller accepted the socket already."""
        session = terminal_manager().for_owner(owner_id)
        if session is None or session.state == "closed":
            await self._send(protocol.encode("status", "absent", "", ""))
            await self._close(WATCH_NOTHING)
            return False
        self.read_only = True
        self.session = session
        await self._send(protocol.encode("status", "watching", session.size, session.id))
        self.attachment = session.attach(self, watcher=True)
        return True

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        session, attachment = self.session, self.attachment
        if session is None or attachment is None:
            return
        message = protocol.parse_client_frame(text_data, bytes_data)
        if self.read_only and isinstance(message, (protocol.Stdin, protocol.Resize)):
            # Nothing a watcher sends reaches the learner's shell or its size.
            await self._send(protocol.encode("status", "ignored", "read-only", session.id))
        elif isinstance(message, protocol.Stdin):
            session.write(message.data)
        elif isinstance(message, protocol.Resize):
            session.resize(message.rows, message.cols)
        elif isinstance(message, protocol.Ack):
            session.ack(attachment, message.count)
        elif isinstance(message, protocol.Ping):
            await self._send(protocol.encode("pong"))
        else:
            await self._send(protocol.encode("status", "ignored", message.reason, session.id))

    def close(self) -> None:
        if self.session is not None and self.attachment is not None:
            self.session.detach(self.attachment)
        self.session = self.attachment = None
