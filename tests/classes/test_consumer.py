"""The class socket through the real ASGI stack (origin check, session auth) and Redis."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from accounts.roles import Role
from classes.services import class_events_group, classroom_create, classroom_join
from kubelab.asgi import application
from kubelab.events import group_event_send_now, user_event_send_now
from labs.models import Attempt
from tests.fixtures.classes import client_for, person

ORIGIN = (b"origin", b"http://127.0.0.1:8000")
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("worker_thread_connections_closed"),
]


def _cookie(user: Any) -> bytes:
    return f"sessionid={client_for(user).cookies['sessionid'].value}".encode()


def _setup() -> dict[str, Any]:
    teacher = person("teacher", role=Role.INSTRUCTOR)
    other = person("other", role=Role.INSTRUCTOR)
    student = person("student")
    classroom = classroom_create(owner=teacher, name="Live", labs=["pods"])
    classroom_join(user=student, code=classroom.join_code)
    attempt = Attempt.objects.create(
        user=student, lab="pods", exercise="kuard-pod", status="failed"
    )
    return {
        "id": classroom.pk, "student": student.pk, "attempt": attempt.pk,
        "teacher": _cookie(teacher), "other": _cookie(other), "pupil": _cookie(student),
    }  # fmt: skip


def _socket(classroom_id: int, *headers: tuple[bytes, bytes]) -> WebsocketCommunicator:
    return WebsocketCommunicator(
        application, f"/ws/classes/{classroom_id}/", headers=[(b"host", b"127.0.0.1"), *headers]
    )


async def test_the_instructor_receives_the_classes_events_and_a_relayed_result(
    redis_available: str,
) -> None:
    s = await sync_to_async(_setup)()
    comm = _socket(s["id"], ORIGIN, (b"cookie", s["teacher"]))
    assert (await comm.connect())[0]
    await sync_to_async(group_event_send_now)(group=class_events_group(s["id"]), event={"x": 1})
    assert await comm.receive_json_from(timeout=5) == {"x": 1}
    # A learner's grading event, as the grading store sends it, arrives as a cell update.
    event = {"type": "labs.result", "attempt": s["attempt"], "exercise": "pods/kuard-pod"}
    await sync_to_async(user_event_send_now)(user_id=s["student"], event=event)
    cell = await comm.receive_json_from(timeout=5)
    assert cell["type"] == "classes.cell" and cell["student"] == s["student"]
    assert cell["status"] == "failed"
    await comm.send_json_to({"type": "ping"})
    assert await comm.receive_json_from(timeout=5) == {"type": "pong"}
    await comm.disconnect()


@pytest.mark.parametrize("who", ["other", "pupil"])
async def test_anyone_but_its_instructors_is_refused_like_a_missing_class(
    who: str, redis_available: str
) -> None:
    s = await sync_to_async(_setup)()
    for classroom_id in (s["id"], s["id"] + 999):
        comm = _socket(classroom_id, ORIGIN, (b"cookie", s[who]))
        connected, code = await comm.connect()
        assert not connected and code == 4404
        await comm.disconnect()


async def test_anonymous_and_foreign_origin_sockets_are_refused(redis_available: str) -> None:
    s = await sync_to_async(_setup)()
    comm = _socket(s["id"], ORIGIN)
    connected, code = await comm.connect()
    assert not connected and code == 4401
    await comm.disconnect()
    comm = _socket(s["id"], (b"origin", b"http://evil.example"), (b"cookie", s["teacher"]))
    connected, _ = await comm.connect()
    assert not connected
    await comm.disconnect()
