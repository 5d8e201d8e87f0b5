"""The "Ask for help" flag live, through the real ASGI stack and Redis: it reaches the
instructor's class socket as the learner asks, and "Mark as helped" reaches the learner's own
socket."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from accounts.roles import Role
from classes.services import classroom_create, classroom_join
from kubelab.asgi import application
from tests.fixtures.classes import client_for, person

ORIGIN = (b"origin", b"http://127.0.0.1:8000")
JSON = {"Accept": "application/json"}
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("worker_thread_connections_closed"),
]


def _setup() -> dict[str, Any]:
    teacher = person("teacher", role=Role.INSTRUCTOR)
    student = person("student")
    classroom = classroom_create(owner=teacher, name="Live help", labs=["pods"])
    classroom_join(user=student, code=classroom.join_code)
    return {"id": classroom.pk, "teacher": teacher, "student": student}


def _socket(path: str, user: Any) -> WebsocketCommunicator:
    cookie = f"sessionid={client_for(user).cookies['sessionid'].value}".encode()
    headers = [(b"host", b"127.0.0.1"), ORIGIN, (b"cookie", cookie)]
    return WebsocketCommunicator(application, path, headers=headers)


async def _next_of(comm: WebsocketCommunicator, kind: str) -> dict[str, Any]:
    """The next event of this type (the learner's socket may say other things first)."""
    for _ in range(10):
        event: dict[str, Any] = await comm.receive_json_from(timeout=5)
        if event.get("type") == kind:
            return event
    raise AssertionError(f"no {kind} event")


async def test_the_flag_goes_live_both_ways(redis_available: str) -> None:
    s = await sync_to_async(_setup)()
    student, teacher = s["student"], s["teacher"]
    gradebook = await sync_to_async(_socket)(f"/ws/classes/{s['id']}/", teacher)
    learner = await sync_to_async(_socket)("/ws/events/", student)
    assert (await gradebook.connect())[0] and (await learner.connect())[0]

    def ask() -> int:
        return client_for(student).post("/classes/help/pods/kuard-pod/", headers=JSON).status_code

    assert await sync_to_async(ask)() == 200
    flag = await _next_of(gradebook, "classes.help")
    assert flag["student"] == student.pk and flag["exercise"] == "pods/kuard-pod"
    assert flag["open"] is True and flag["asked_at"]
    assert (await _next_of(learner, "help.changed"))["open"] is True  # the learner's other tabs

    def mark_helped() -> int:
        fields = {"student": student.pk, "lab": "pods", "exercise": "kuard-pod"}
        url = f"/classes/{s['id']}/help/helped/"
        return client_for(teacher).post(url, fields, headers=JSON).status_code

    assert await sync_to_async(mark_helped)() == 200
    heard = await _next_of(learner, "help.changed")
    assert heard == {
        "type": "help.changed", "lab": "pods", "exercise": "kuard-pod", "open": False,
        "reason": "helped",
    }  # fmt: skip
    assert (await _next_of(gradebook, "classes.help"))["open"] is False
    await gradebook.disconnect()
    await learner.disconnect()
