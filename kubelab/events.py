"""Live events to one learner's open pages, through the channel layer, sent only after commit.

Other audiences of a learner's events (their instructors' class gradebooks) register a relay: a
function from (user id, event) to extra (group, event) pairs. Relays keep apps decoupled: labs
sends to the learner and never needs to know which classes the learner is in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

Event = dict[str, Any]
EventRelay = Callable[[int, Event], list[tuple[str, Event]]]
_relays: list[EventRelay] = []


def user_events_group(user_id: int) -> str:
    return f"events.user.{user_id}"


def user_event_relay_register(relay: EventRelay) -> None:
    """Also deliver what `relay` derives from every learner event (idempotent)."""
    if relay not in _relays:
        _relays.append(relay)


def _relayed(user_id: int, event: Event) -> list[tuple[str, Event]]:
    messages: list[tuple[str, Event]] = []
    for relay in _relays:
        try:
            messages += relay(user_id, event)
        except Exception:
            # An instructor's gradebook missing one update must never cost the learner theirs.
            logger.exception("event relay %r failed for user %s", relay, user_id)
    return messages


def group_event_send_now(*, group: str, event: Event) -> None:
    """Send to every socket in `group` now; consumers handle it as ``group_event``."""
    layer = get_channel_layer()
    if layer is None:
        return
    async_to_sync(layer.group_send)(group, {"type": "group.event", "event": event})


def user_event_send_now(*, user_id: int, event: Event) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    async_to_sync(layer.group_send)(
        user_events_group(user_id), {"type": "group.event", "event": event}
    )
    for group, relayed in _relayed(user_id, event):
        group_event_send_now(group=group, event=relayed)


def user_events_send_now(*, events: list[tuple[int, Event]]) -> None:
    """Many learners' events in one trip into the event loop (a class grading's chunk): one
    async_to_sync per event cost more than the send itself. Relays run as for one event."""
    layer = get_channel_layer()
    if layer is None or not events:
        return
    messages = [(user_events_group(u), e) for u, e in events]
    for user_id, event in events:
        messages += _relayed(user_id, event)

    async def send_all() -> None:
        for group, event in messages:
            await layer.group_send(group, {"type": "group.event", "event": event})

    async_to_sync(send_all)()


def user_events_send(*, events: list[tuple[int, Event]]) -> None:
    """user_events_send_now once the surrounding transaction commits."""
    transaction.on_commit(lambda: user_events_send_now(events=events))


def user_event_send(*, user_id: int, event: Event) -> None:
    """Send once the surrounding transaction commits, so pages never see state that rolled back."""
    transaction.on_commit(lambda: user_event_send_now(user_id=user_id, event=event))
