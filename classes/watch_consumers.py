"""An instructor's sockets on a student of their class: the namespace picture and the read-only
terminal (the sandbox and terminal apps' consumers, with the class's access check). While one is
open the student is told (classes.watching)."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async

from classes.watching import student_watchable, watch_mark, watch_unmark, watchers_group
from kubelab.socket_groups import user_control_group
from kubelab.socket_language import scope_language
from sandbox.consumers import PictureConsumer, PictureTarget, environment_target, in_language
from terminal.watch import TerminalWatchConsumer


def _route(scope: dict[str, Any]) -> tuple[int, int]:
    kwargs = scope["url_route"]["kwargs"]
    return int(kwargs["classroom_id"]), int(kwargs["user_id"])


@database_sync_to_async
def _watchable(user: Any, scope: dict[str, Any]) -> Any | None:
    classroom_id, student_id = _route(scope)
    return student_watchable(user=user, classroom_id=classroom_id, student_id=student_id)


class StudentPictureConsumer(PictureConsumer):
    async def target_for(self, user: Any) -> PictureTarget | None:
        student = await _watchable(user, self.scope)
        if student is None:
            return None
        language = scope_language(self.scope.get("headers", []))
        return await database_sync_to_async(in_language)(environment_target, student, language)

    async def control_groups(self, user: Any, target: PictureTarget) -> list[str]:
        return [user_control_group(user.pk), watchers_group(target.user_id)]

    async def connect(self) -> None:
        await super().connect()
        await self._mark()

    async def _mark(self) -> None:
        if self.target is not None:
            await database_sync_to_async(watch_mark)(
                student_id=self.target.user_id, socket=self.channel_name, watcher=self.scope["user"]
            )

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        await super().receive_json(content, **kwargs)
        await self._mark()

    async def disconnect(self, code: int) -> None:
        await super().disconnect(code)
        if self.target is not None:
            await database_sync_to_async(watch_unmark)(
                student_id=self.target.user_id, socket=self.channel_name
            )


class StudentTerminalWatchConsumer(TerminalWatchConsumer):
    async def watched_owner(self, user: Any) -> int | None:
        student = await _watchable(user, self.scope)
        return None if student is None else int(student.pk)

    def access_groups(self, user: Any, owner_id: int) -> tuple[str, ...]:
        return (user_control_group(user.pk), watchers_group(owner_id))

    async def watch_started(self, user: Any, owner_id: int) -> None:
        await database_sync_to_async(watch_mark)(
            student_id=owner_id, socket=self.channel_name, watcher=user
        )

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await super().receive(text_data, bytes_data)
        # The page's pings keep the student's notice up while the terminal is watched.
        if self.owner_id is not None and text_data and '"ping"' in text_data:
            await self.watch_started(self.scope["user"], self.owner_id)

    async def watch_ended(self, user: Any, owner_id: int) -> None:
        await database_sync_to_async(watch_unmark)(student_id=owner_id, socket=self.channel_name)
