"""The instructor's live gradebook stream: relays a class's events to its instructors only."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from classes.selectors import ClassroomNotFound, classroom_get_for_instructor
from classes.services import class_events_group


@database_sync_to_async
def _may_watch(user: Any, classroom_id: int) -> bool:
    try:
        classroom_get_for_instructor(user=user, classroom_id=classroom_id)
    except ClassroomNotFound:
        return False
    return True


class ClassEventsConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        classroom_id = int(self.scope["url_route"]["kwargs"]["classroom_id"])
        if not await _may_watch(user, classroom_id):
            # Missing and not-yours look the same, as the pages' 404 does.
            await self.close(code=4404)
            return
        self.group = class_events_group(classroom_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def group_event(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])
