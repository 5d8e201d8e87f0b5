"""The terminal manager: the jailed pty sessions of this process, kept apart from any websocket
(like terminado's), at most one live session per learner.

One manager per event loop (the web server runs one), so sessions live in the web process: a
socket may come and go (reload, second tab) while the shell keeps running. Its reaper ends
sessions nobody watched for too long and shells idle too long (warning first), and refreshes
their kubeconfig tokens. What one session does is terminal.session's.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref

from terminal.config import TerminalConfig, terminal_config
from terminal.refusals import Explainer, RefusalSpotter
from terminal.session import (
    ActivityHook,
    KubeconfigSource,
    NoticeSource,
    ShellTexts,
    TerminalError,
    TerminalSession,
)

log = logging.getLogger(__name__)


class TerminalManager:
    """All sessions of this process, keyed by session id, at most one live session per learner."""

    def __init__(self, config: TerminalConfig | None = None) -> None:
        self.config = config or terminal_config()
        self.sessions: dict[str, TerminalSession] = {}
        self._user_locks: dict[int, asyncio.Lock] = {}
        self._reaper: asyncio.Task[None] | None = None

    def get(self, session_id: str) -> TerminalSession | None:
        return self.sessions.get(session_id)

    def for_owner(self, owner_id: int) -> TerminalSession | None:
        for session in self.sessions.values():
            if session.owner_id == owner_id and session.state != "closed":
                return session
        return None

    async def open(
        self,
        *,
        owner_id: int,
        kubeconfig_source: KubeconfigSource,
        rows: int,
        cols: int,
        on_activity: ActivityHook | None = None,
        notice_source: NoticeSource | None = None,
        refusal_explainer: Explainer | None = None,
        texts: ShellTexts | None = None,
    ) -> TerminalSession:
        """The learner's live session, or a new one; two tabs opening at once share one. `texts`:
        what the terminal prints in the shell, in the language of the page that opened it."""
        lock = self._user_locks.setdefault(owner_id, asyncio.Lock())
        async with lock:
            session = self.for_owner(owner_id)
            if session is None:
                if len(self.sessions) >= self.config.max_sessions:
                    raise TerminalError(
                        f"all {self.config.max_sessions} terminals this server runs are in use "
                        "(one per learner); try again in a few minutes"
                    )
                session = TerminalSession(
                    self.config,
                    owner_id=owner_id,
                    kubeconfig_source=kubeconfig_source,
                    rows=rows,
                    cols=cols,
                )
                self.sessions[session.id] = session
                self._ensure_reaper()
            session.kubeconfig_source = kubeconfig_source
            session.on_activity = on_activity
            session.notice_source = notice_source
            session.refusals = RefusalSpotter(refusal_explainer) if refusal_explainer else None
            if texts is not None:
                session.texts = texts
            return session

    async def close(self, session: TerminalSession, reason: str) -> None:
        self.sessions.pop(session.id, None)
        await session.close(reason)

    def _ensure_reaper(self) -> None:
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.get_running_loop().create_task(self._reap_forever())

    async def reap(self) -> None:
        """End sessions detached longer than the grace period and sessions idle too long; warn
        those about to be idle too long."""
        now = time.monotonic()
        for session in list(self.sessions.values()):
            detached = session.detached_at is not None and (
                now - session.detached_at > self.config.grace_seconds
            )
            quiet = now - session.last_input
            idle = quiet > self.config.idle_seconds
            warn_from = self.config.idle_seconds - self.config.idle_warning_seconds
            if detached:
                await self.close(session, "nobody attached for too long")
            elif idle and session.state == "running":
                minutes = max(1, self.config.idle_seconds // 60)
                await session.end(None, notice=session.texts.idle_ended % {"minutes": minutes})
            elif (
                session.state == "running"
                and not session.idle_warned
                and self.config.idle_warning_seconds > 0
                and quiet >= warn_from
            ):
                session.warn_idle(self.config.idle_seconds - quiet)
            elif (
                session.state == "running"
                and now - session.kubeconfig_at > self.config.token_refresh_seconds
            ):
                asyncio.get_running_loop().create_task(session.refresh_kubeconfig())

    async def _reap_forever(self) -> None:
        interval = max(
            0.5,
            min(
                15.0,
                self.config.grace_seconds / 4,
                self.config.idle_seconds / 4,
                self.config.idle_warning_seconds / 4 or 15.0,
                self.config.token_refresh_seconds / 4,
            ),
        )
        while self.sessions:
            await asyncio.sleep(interval)
            try:
                await self.reap()
            except Exception:
                log.exception("terminal reaper failed")

    async def shutdown(self) -> None:
        for session in list(self.sessions.values()):
            await self.close(session, "server stopping")
        if self._reaper is not None:
            self._reaper.cancel()


_managers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, TerminalManager] = (
    weakref.WeakKeyDictionary()
)


def terminal_sessions_end_for_owner(owner_id: int, reason: str) -> int:
    """From any thread: end the owner's terminal in every manager of this process (their screens
    are told why); how many there were."""
    ended = 0
    for loop, manager in list(_managers.items()):
        session = manager.for_owner(owner_id)
        if session is None or loop.is_closed():
            continue
        asyncio.run_coroutine_threadsafe(manager.close(session, reason), loop)
        ended += 1
    return ended


def terminal_manager() -> TerminalManager:
    """The manager of the running event loop (the web server has one loop, so one manager)."""
    loop = asyncio.get_running_loop()
    manager = _managers.get(loop)
    if manager is None:
        manager = _managers[loop] = TerminalManager()
    return manager
