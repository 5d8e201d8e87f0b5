"""The namespace picture's socket: the learner's own (`ws/picture/`); classes subclasses it for
an instructor watching a student. Joins the namespace's picture group, sends a first picture read
from the API server, then relays what the watcher sends, worded in the socket's language."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.utils import translation
from django.utils.translation import gettext as _

import k8s
from kubelab.access import user_standing
from kubelab.consumers import GroupEventsConsumer
from kubelab.ratelimit import RateLimited, rate_limit_take
from kubelab.socket_groups import user_control_group
from kubelab.socket_language import scope_language
from sandbox.picture_texts import picture_unavailable, picture_worded
from sandbox.pictures import picture_group, picture_read, picture_wanted_mark
from sandbox.selectors import sandbox_get_for_user

# The page reconnects after this close, with its back-off: the environment is being made, or
# the cluster did not answer.
TRY_AGAIN_LATER = 1013


@dataclass(frozen=True)
class PictureTarget:
    """Whose namespace a socket shows: `namespace` None with a `reason` while it has none."""

    user_id: int
    namespace: str | None
    reason: str = ""


def environment_target(student: Any) -> PictureTarget:
    environment = sandbox_get_for_user(user=student)
    if environment is None or not environment.namespace:
        return PictureTarget(student.pk, None, _("The environment is not made yet."))
    if environment.status != "ready":
        return PictureTarget(
            student.pk, None, environment.detail or _("The environment is not ready yet.")
        )
    return PictureTarget(student.pk, environment.namespace)


class PictureConsumer(GroupEventsConsumer):
    target: PictureTarget | None = None
    language: str = "en"

    async def target_for(self, user: Any) -> PictureTarget | None:
        """The namespace this user may see here; None refuses (4404)."""
        language = scope_language(self.scope.get("headers", []))
        return await database_sync_to_async(in_language)(environment_target, user, language)

    async def group_for(self, user: Any) -> str | None:
        target = await self.target_for(user)
        if target is None or target.namespace is None:
            return None
        return picture_group(target.namespace)

    async def control_groups(self, user: Any, target: PictureTarget) -> list[str]:
        return [user_control_group(user.pk)]

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user_standing(user) == "anonymous":
            await self.close(code=4401)
            return
        self.language = scope_language(self.scope.get("headers", []))
        target = await self.target_for(user)
        if target is None:
            await self.close(code=self.refused_code)
            return
        await self.accept()
        if target.namespace is None:
            await self.send_json(picture_unavailable(target.reason))
            await self.close(code=TRY_AGAIN_LATER)
            return
        self.target = target
        self.group = picture_group(target.namespace)
        await self.channel_layer.group_add(self.group, self.channel_name)
        self.controls = await self.control_groups(user, target)
        for control in self.controls:
            await self.channel_layer.group_add(control, self.channel_name)
        # A socket's first picture costs the API server a list of each kind: counted, so
        # reconnecting in a loop cannot turn the page into a load on the cluster.
        try:
            await database_sync_to_async(in_language)(_picture_rate_take, user.pk, self.language)
        except RateLimited as limited:
            await self.send_json(picture_unavailable(str(limited)))
            await self.close(code=TRY_AGAIN_LATER)
            return
        # Wanted before the first read: a change after the read reaches this socket.
        await database_sync_to_async(picture_wanted_mark)(target.namespace)
        try:
            picture = await database_sync_to_async(picture_read)(namespace=target.namespace)
        except k8s.ClusterError:
            await self.send_json(
                picture_unavailable(
                    await database_sync_to_async(in_language)(_cluster_away, self.language)
                )
            )
            await self.close(code=TRY_AGAIN_LATER)
            return
        await self.send_json(picture_worded(picture, language=self.language))

    async def sockets_recheck(self, message: dict[str, Any]) -> None:
        """Access changed somewhere: refused now closes for good (4404); an environment that
        is being made again (a reset, a wake) closes for the page to come back (1013)."""
        user = await database_sync_to_async(_user_fresh)(self.scope["user"].pk)
        if user_standing(user) != "active":
            await self.close(code=4401)
            return
        target = await self.target_for(user)
        if target is None or (
            target.namespace is not None and picture_group(target.namespace) != self.group
        ):
            await self.close(code=self.refused_code)
        elif target.namespace is None:
            await self.close(code=TRY_AGAIN_LATER)

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
        for control in getattr(self, "controls", ()):
            await self.channel_layer.group_discard(control, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            if self.target is not None and self.target.namespace is not None:
                await database_sync_to_async(picture_wanted_mark)(self.target.namespace)
            await self.send_json({"type": "pong"})

    async def group_event(self, message: dict[str, Any]) -> None:
        event = message["event"]
        if isinstance(event, dict) and event.get("type") == "picture":
            event = picture_worded(event, language=self.language)
        await self.send_json(event)


def _picture_rate_take(user_id: int) -> None:
    rate_limit_take(scope="picture", key=f"user:{user_id}")


def _user_fresh(user_id: int) -> Any:
    return get_user_model().objects.filter(pk=user_id).first()


def _cluster_away() -> str:
    return _("The cluster could not be reached; the picture comes back when it answers.")


def in_language(function: Any, *args: Any) -> Any:
    *rest, language = args
    with translation.override(language):
        return function(*rest)
