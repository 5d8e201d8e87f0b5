"""Open sockets follow their user's access: a logout, a disabled account or a lost role reaches
the sockets already open, not only the next one.

Every event socket (the learner's stream, a class gradebook) also joins the user's control group;
`user_sockets_end` closes them (logout, deactivation: 4401), `user_sockets_recheck` makes each
run its access check again and close if it now fails (a removed instructor: 4404). Terminals
are ended where they live: this process's terminal manager, or the terminal daemon holding the
user's shell (see ARCHITECTURE.md, Terminal). Messages go out after the transaction commits, so
a rolled back change closes nothing.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from kubelab.socket_groups import user_control_group

logger = logging.getLogger(__name__)


def _send(user_id: int, message: dict[str, str]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(user_control_group(user_id), message)
    except Exception:  # a dead Redis must not fail a logout; the next connect is checked anyway
        logger.warning("could not reach the open sockets of user %s", user_id, exc_info=True)


def user_sockets_end(*, user_id: int, reason: str) -> None:
    """Close every open socket and terminal of the user (logged out, account disabled)."""

    def end() -> None:
        _send(user_id, {"type": "sockets.end", "reason": reason})
        from terminal.ending import terminal_end_for_owner

        terminal_end_for_owner(user_id, reason)

    transaction.on_commit(end)


def user_sockets_recheck(*, user_id: int) -> None:
    """Make the user's open sockets check their access again (a role or a membership went)."""
    transaction.on_commit(lambda: _send(user_id, {"type": "sockets.recheck"}))
