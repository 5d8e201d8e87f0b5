"""Over the shoulder: which students an instructor may watch, and who is watching whom.

An instructor may watch a student of a class they teach: the student's terminal (read-only)
and namespace picture. The student is told while anyone watches: each open watching socket is
an entry in the shared cache under the student, renewed by the socket's pings and gone a
minute and a half after the last, so a watcher whose browser vanished does not stay on the
student's notice for long; each change sends the student's pages a `watch.changed` event.
"""

from __future__ import annotations

import json
import time
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.core.cache import cache as shared_cache
from django.db import transaction

from classes.models import Enrollment
from classes.selectors import ClassroomNotFound, classroom_get_for_instructor
from kubelab.events import user_event_send_now

WATCH_SECONDS = 90


def student_watchable(*, user: Any, classroom_id: int, student_id: int) -> Any | None:
    """The student, if `user` teaches the class and the student is enrolled in it; else None
    (missing and not-yours look the same)."""
    try:
        classroom = classroom_get_for_instructor(user=user, classroom_id=classroom_id)
    except ClassroomNotFound:
        return None
    if not Enrollment.objects.filter(classroom=classroom, student_id=student_id).exists():
        return None
    return get_user_model().objects.filter(pk=student_id, is_active=True).first()


def watchers_group(student_id: int) -> str:
    """Every socket watching the student: told to check its access when the student leaves a
    class (classes.services.student_remove)."""
    return f"watchers.user.{student_id}"


def watchers_recheck(student_id: int) -> None:
    """After commit: every socket watching the student checks its access again."""

    def send() -> None:
        layer = get_channel_layer()
        if layer is not None:
            async_to_sync(layer.group_send)(watchers_group(student_id), {"type": "sockets.recheck"})

    transaction.on_commit(send)


def _hash(student_id: int) -> tuple[Any, str]:
    """The shared cache's Redis client and the key of the student's watchers: a Redis hash,
    one field per watching socket, so two sockets closing at once cannot undo each other (a
    read-modify-write of one cache value did: a closed watcher stayed on the notice)."""
    key = shared_cache.make_and_validate_key(f"watching:{student_id}")
    return shared_cache._cache.get_client(key, write=True), key  # type: ignore[attr-defined]


def _names(fields: dict[Any, Any], now: float) -> set[str]:
    names: set[str] = set()
    for raw in fields.values():
        try:
            entry = json.loads(raw)
        except (TypeError, ValueError):
            continue
        if isinstance(entry, dict) and float(entry.get("until", 0)) > now:
            names.add(str(entry.get("name")))
    return names


def watchers_of(student_id: int) -> list[str]:
    """The names of whoever watches the student now, each once, sorted."""
    client, key = _hash(student_id)
    return sorted(_names(client.hgetall(key), time.time()))


def watch_mark(*, student_id: int, socket: str, watcher: Any) -> None:
    """This socket watches the student (again): the student's pages hear of a new watcher."""
    client, key = _hash(student_id)
    now = time.time()
    name = watcher.get_full_name() or watcher.get_username()
    before = _names(client.hgetall(key), now)
    client.hset(key, socket, json.dumps({"name": name, "until": now + WATCH_SECONDS}))
    client.expire(key, WATCH_SECONDS)
    if name not in before:
        user_event_send_now(user_id=student_id, event={"type": "watch.changed"})


def watch_unmark(*, student_id: int, socket: str) -> None:
    """This socket stopped watching: the student's pages read the watchers again."""
    client, key = _hash(student_id)
    if client.hdel(key, socket):
        user_event_send_now(user_id=student_id, event={"type": "watch.changed"})
