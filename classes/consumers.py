"""The instructor's live gradebook stream: relays a class's events to its instructors only."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async

from classes.selectors import ClassroomNotFound, classroom_get_for_instructor
from classes.services import class_events_group
from kubelab.consumers import GroupEventsConsumer


@database_sync_to_async
def _may_watch(user: Any, classroom_id: int) -> bool:
    try:
        classroom_get_for_instructor(user=user, classroom_id=classroom_id)
    except ClassroomNotFound:
        return False
    return True


class ClassEventsConsumer(GroupEventsConsumer):
    async def group_for(self, user: Any) -> str | None:
        classroom_id = int(self.scope["url_route"]["kwargs"]["classroom_id"])
        if not await _may_watch(user, classroom_id):
            return None
        return class_events_group(classroom_id)
