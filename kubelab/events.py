"""Live events to one learner's open pages, through the channel layer, sent only after commit."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction


def user_events_group(user_id: int) -> str:
    return f"events.user.{user_id}"


def user_event_send_now(*, user_id: int, event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    async_to_sync(layer.group_send)(
        user_events_group(user_id), {"type": "user.event", "event": event}
    )


def user_event_send(*, user_id: int, event: dict[str, Any]) -> None:
    """Send once the surrounding transaction commits, so pages never see state that rolled back."""
    transaction.on_commit(lambda: user_event_send_now(user_id=user_id, event=event))
