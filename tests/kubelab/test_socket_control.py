"""Open sockets follow their user's access: logging out, a disabled account and a lost class role
close the sockets already open, through the real ASGI stack and the Redis channel layer."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.roles import Role
from classes.services import classroom_create, instructor_add, instructor_remove
from kubelab.asgi import application
from tests.fixtures.classes import person

ORIGIN = (b"origin", b"http://127.0.0.1:8000")
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("worker_thread_connections_closed"),
]


def _logged_in(username: str) -> tuple[Any, Client, bytes]:
    user = get_user_model().objects.create_user(username=username, password="pw-123456789")
    client = Client()
    client.force_login(user)
    return user, client, f"sessionid={client.cookies['sessionid'].value}".encode()


def _socket(path: str, cookie: bytes) -> WebsocketCommunicator:
    return WebsocketCommunicator(
        application, path, headers=[(b"host", b"127.0.0.1"), ORIGIN, (b"cookie", cookie)]
    )


async def _closed_with(comm: WebsocketCommunicator) -> int:
    message = await comm.receive_output(timeout=10)
    assert message["type"] == "websocket.close", message
    return int(message.get("code", 1000))


async def test_logging_out_closes_the_open_event_socket(redis_available: str) -> None:
    _user, client, cookie = await sync_to_async(_logged_in)("leaver")
    comm = _socket("/ws/events/", cookie)
    assert (await comm.connect())[0]
    await sync_to_async(client.post)("/accounts/logout/")
    assert await _closed_with(comm) == 4401


async def test_disabling_an_account_closes_its_open_sockets(redis_available: str) -> None:
    user, _client, cookie = await sync_to_async(_logged_in)("disabled")
    comm = _socket("/ws/events/", cookie)
    assert (await comm.connect())[0]

    def disable() -> None:
        user.is_active = False
        user.save()

    await sync_to_async(disable)()
    assert await _closed_with(comm) == 4401


async def test_an_instructor_removed_from_a_class_loses_its_gradebook_socket(
    redis_available: str,
) -> None:
    def setup() -> tuple[int, int, bytes]:
        owner = person("owner", role=Role.INSTRUCTOR)
        helper = person("helper", role=Role.INSTRUCTOR)
        classroom = classroom_create(owner=owner, name="Evening", labs=["pods"])
        instructor_add(classroom=classroom, username=helper.username)
        client = Client()
        client.force_login(helper)
        return classroom.pk, helper.pk, f"sessionid={client.cookies['sessionid'].value}".encode()

    classroom_id, helper_id, cookie = await sync_to_async(setup)()
    comm = _socket(f"/ws/classes/{classroom_id}/", cookie)
    assert (await comm.connect())[0]
    # The owner's own socket stays open; the removed helper's closes as "not found".
    from classes.models import Classroom

    def remove() -> None:
        instructor_remove(classroom=Classroom.objects.get(pk=classroom_id), user_id=helper_id)

    await sync_to_async(remove)()
    assert await _closed_with(comm) == 4404


async def test_a_role_change_that_keeps_access_keeps_the_socket(redis_available: str) -> None:
    user, _client, cookie = await sync_to_async(_logged_in)("stays")
    comm = _socket("/ws/events/", cookie)
    assert (await comm.connect())[0]

    def regroup() -> None:
        from django.contrib.auth.models import Group

        group, _ = Group.objects.get_or_create(name="extra")
        user.groups.add(group)
        user.groups.remove(group)

    await sync_to_async(regroup)()
    assert await comm.receive_nothing(timeout=1.5)
    await comm.send_json_to({"type": "ping"})
    assert (await comm.receive_json_from(timeout=5)) == {"type": "pong"}
    await comm.disconnect()
