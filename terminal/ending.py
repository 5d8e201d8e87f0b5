"""Ending a learner's shell from outside the terminal (they logged out, their account was
disabled): in this process's managers, and in the terminal daemon that holds it, if shells live
in one. Called from any thread."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync

from terminal.config import terminal_config
from terminal.manager import terminal_sessions_end_for_owner

log = logging.getLogger(__name__)


def terminal_end_for_owner(user_id: int, reason: str) -> int:
    ended = terminal_sessions_end_for_owner(user_id, reason)
    if terminal_config().daemon:
        from terminal.relay import daemon_end_for_owner

        try:
            ended += async_to_sync(daemon_end_for_owner)(user_id, reason)
        except Exception:  # a daemon that is down holds no shell to end
            log.warning("could not reach the terminal daemon to end %s's shell", user_id)
    return ended
