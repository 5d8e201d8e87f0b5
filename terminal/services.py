"""Who may use which terminal, and starting one: the only entry points the consumer calls."""

from __future__ import annotations

import re
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils.module_loading import import_string

from kubelab.access import user_standing
from sandbox.selectors import explained_in_every_language
from terminal.config import terminal_config
from terminal.manager import terminal_manager
from terminal.session import TerminalError, TerminalSession
from terminal.texts import shell_lost_notice, shell_texts

_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


class TerminalAccessDenied(Exception):
    """The socket may not use a terminal; `code` is the websocket close code to send."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def terminal_kubeconfig(*, user: Any) -> str:
    """The learner's kubeconfig (namespace-scoped token) from the sandbox app.

    The provider is a dotted path (KUBELAB_TERMINAL_KUBECONFIG_PROVIDER), by default
    `sandbox.services.sandbox_kubeconfig`; it is called with `user=` and returns kubeconfig YAML.
    """
    provider = import_string(terminal_config().kubeconfig_provider)
    return str(provider(user=user))


def terminal_access_check(*, user: Any, session_id: str | None) -> None:
    """What can be refused before knowing where the shell is: anonymous or disabled users and
    malformed session ids (TerminalAccessDenied with the close code). Whose session an id is,
    only the process holding it can tell (terminal_session_get_for_user)."""
    standing = user_standing(user)
    if standing == "anonymous":
        raise TerminalAccessDenied(4401, "log in to use the terminal")
    if standing == "inactive":
        raise TerminalAccessDenied(4403, "this account is disabled")
    if session_id and not _SESSION_ID.match(session_id):
        raise TerminalAccessDenied(4400, "malformed terminal session id")


async def terminal_session_get_for_user(
    *, user: Any, session_id: str | None
) -> TerminalSession | None:
    """The session `user` may attach to: theirs by id, else their live one, else None (start one).

    Raises TerminalAccessDenied for anonymous or inactive users, malformed ids, and any id that
    belongs to another learner. Every terminal socket goes through here.
    """
    terminal_access_check(user=user, session_id=session_id)
    manager = terminal_manager()
    if session_id:
        session = manager.get(session_id)
        if session is not None and session.owner_id != user.pk:
            raise TerminalAccessDenied(4403, "that terminal belongs to someone else")
        if session is not None and session.state != "closed":
            return session
    return manager.for_owner(user.pk)


async def terminal_session_start(
    *, user: Any, rows: int, cols: int, lost: bool = False, language: str | None = None
) -> TerminalSession:
    """Get or create the learner's session (the jail starts when the first screen attaches).
    `lost`: the screen asked for a session this server does not have (it restarted), so the
    new shell says so above its first prompt. `language`: the page's (terminal.texts reads it
    from the socket); the shell's own lines are in it."""
    user_id = user.pk
    language = language or settings.LANGUAGE_CODE

    async def kubeconfig_source() -> str:
        try:
            return str(await database_sync_to_async(terminal_kubeconfig)(user=user))
        except TerminalError:
            raise
        except Exception as exc:
            raise TerminalError(
                f"your learning environment is not ready ({type(exc).__name__}: {exc})"
            ) from exc

    async def report_activity() -> None:
        # Typing keeps the learner's environment from being culled as idle.
        from sandbox.services import sandbox_touch

        await database_sync_to_async(sandbox_touch)(user=user)

    async def environment_notice() -> str | None:
        # What a wake restored ("Welcome back…"), printed once above the first prompt.
        from sandbox.services import sandbox_notice_take

        restored = await database_sync_to_async(sandbox_notice_take)(user=user)
        notices = [shell_lost_notice(language=language)] if lost else []
        # Each notice in its own [brackets], on its own line (the terminal wants CR LF).
        return "]\r\n[".join([*notices, *([restored] if restored else [])]) or None

    return await terminal_manager().open(
        owner_id=user_id,
        kubeconfig_source=kubeconfig_source,
        rows=rows,
        cols=cols,
        on_activity=report_activity,
        notice_source=environment_notice,
        refusal_explainer=explained_in_every_language,
        texts=shell_texts(language=language),
    )
