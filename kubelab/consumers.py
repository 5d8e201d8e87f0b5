"""Live event streams: a socket joins one channel-layer group and relays its events, no more."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.contrib.auth import get_user_model

from kubelab.access import user_standing
from kubelab.events import user_events_group
from kubelab.socket_groups import user_control_group


@database_sync_to_async
def _user_fresh(user_id: int) -> Any:
    return get_user_model().objects.filter(pk=user_id).first()


class GroupEventsConsumer(AsyncJsonWebsocketConsumer):
    """One-way: joins the group `group_for` names for the logged-in user and relays every
    ``group.event`` sent to it; the only thing a browser may send is a keep-alive ping."""

    group: str | None = None
    control: str | None = None
    # The close code when `group_for` refuses: missing and not-yours look the same.
    refused_code = 4404

    async def group_for(self, user: Any) -> str | None:
        raise NotImplementedError

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user_standing(user) == "anonymous":
            await self.close(code=4401)
            return
        group = await self.group_for(user)
        if group is None:
            await self.close(code=self.refused_code)
            return
        self.group = group
        self.control = user_control_group(user.pk)
        await self.channel_layer.group_add(group, self.channel_name)
        await self.channel_layer.group_add(self.control, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
        if self.control is not None:
            await self.channel_layer.group_discard(self.control, self.channel_name)

    async def sockets_end(self, message: dict[str, Any]) -> None:
        """The user logged out or was disabled (kubelab.socket_control)."""
        await self.close(code=4401)

    async def sockets_recheck(self, message: dict[str, Any]) -> None:
        """Something about the user's access changed: check it as at connect."""
        user = await _user_fresh(self.scope["user"].pk)
        if user_standing(user) != "active":
            await self.close(code=4401)
        elif await self.group_for(user) != self.group:
            await self.close(code=self.refused_code)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def group_event(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])


class UserEventsConsumer(GroupEventsConsumer):
    """The learner's own stream (grading results, environment status)."""

    async def group_for(self, user: Any) -> str | None:
        return user_events_group(user.pk)
