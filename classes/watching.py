"""Over the shoulder: which students an instructor may watch, and who is watching whom.

An instructor may watch a student of a class they teach: the student's terminal (read-only)
and namespace picture. The student is told while anyone watches: each open watching socket is
an entry in the shared cache under the student, renewed by the socket's pings and gone a
minute and a half after the last, so a watcher whose browser vanished does not stay on the
student's notice for long; each change sends the student's pages a `watch.changed` event.
"""

from __future__ import annotations

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


def _key(student_id: int) -> str:
    return f"watching:{student_id}"


def _alive(entries: dict[str, Any], now: float) -> dict[str, Any]:
    return {k: v for k, v in entries.items() if isinstance(v, dict) and v.get("until", 0) > now}


def watchers_of(student_id: int) -> list[str]:
    """The names of whoever watches the student now, each once, sorted."""
    entries = _alive(shared_cache.get(_key(student_id)) or {}, time.time())
    return sorted({str(entry["name"]) for entry in entries.values()})


def watch_mark(*, student_id: int, socket: str, watcher: Any) -> None:
    """This socket watches the student (again): the student's pages hear of a new watcher."""
    now = time.time()
    entries = _alive(shared_cache.get(_key(student_id)) or {}, now)
    before = {str(e["name"]) for e in entries.values()}
    name = watcher.get_full_name() or watcher.get_username()
    entries[socket] = {"name": name, "until": now + WATCH_SECONDS}
    shared_cache.set(_key(student_id), entries, timeout=WATCH_SECONDS)
    if name not in before:
        user_event_send_now(user_id=student_id, event={"type": "watch.changed"})


def watch_unmark(*, student_id: int, socket: str) -> None:
    entries = _alive(shared_cache.get(_key(student_id)) or {}, time.time())
    before = {str(e["name"]) for e in entries.values()}
    entries.pop(socket, None)
    shared_cache.set(_key(student_id), entries, timeout=WATCH_SECONDS)
    if {str(e["name"]) for e in entries.values()} != before:
        user_event_send_now(user_id=student_id, event={"type": "watch.changed"})
