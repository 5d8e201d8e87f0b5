"""The websocket entry through the real ASGI stack and the Redis channel layer."""

import asyncio
import threading
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import Client

from kubelab.asgi import OwnSyncThread, application
from kubelab.events import user_events_group

ORIGIN = (b"origin", b"http://127.0.0.1:8000")

pytestmark = pytest.mark.usefixtures("worker_thread_connections_closed")


def session_cookie_for(username: str) -> tuple[int, bytes]:
    user = get_user_model().objects.create_user(username=username, password="pw-123456789")
    client = Client()
    client.force_login(user)
    return user.pk, f"sessionid={client.cookies['sessionid'].value}".encode()


def communicator(*headers: tuple[bytes, bytes]) -> WebsocketCommunicator:
    return WebsocketCommunicator(
        application, "/ws/events/", headers=[(b"host", b"127.0.0.1"), *headers]
    )


@pytest.mark.django_db(transaction=True)
async def test_authenticated_socket_receives_its_users_events(redis_available: str) -> None:
    user_id, cookie = await sync_to_async(session_cookie_for)("ws-user")
    comm = communicator(ORIGIN, (b"cookie", cookie))
    connected, _ = await comm.connect()
    assert connected
    layer = get_channel_layer()
    assert layer.__class__.__name__ == "RedisChannelLayer"
    await layer.group_send(
        user_events_group(user_id), {"type": "group.event", "event": {"kind": "hello"}}
    )
    assert await comm.receive_json_from(timeout=5) == {"kind": "hello"}
    await comm.send_json_to({"type": "ping"})
    assert await comm.receive_json_from(timeout=5) == {"type": "pong"}
    await comm.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_events_of_one_user_do_not_reach_another(redis_available: str) -> None:
    alice_id, _ = await sync_to_async(session_cookie_for)("alice")
    _, bob_cookie = await sync_to_async(session_cookie_for)("bob")
    comm = communicator(ORIGIN, (b"cookie", bob_cookie))
    assert (await comm.connect())[0]
    await get_channel_layer().group_send(
        user_events_group(alice_id), {"type": "group.event", "event": {"secret": 1}}
    )
    assert await comm.receive_nothing(timeout=0.5)
    await comm.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_unauthenticated_socket_is_refused(redis_available: str) -> None:
    comm = communicator(ORIGIN)
    connected, code = await comm.connect()
    assert not connected
    assert code == 4401
    await comm.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_wrong_origin_is_refused_even_when_logged_in(redis_available: str) -> None:
    _, cookie = await sync_to_async(session_cookie_for)("mallory-target")
    comm = communicator((b"origin", b"http://evil.example"), (b"cookie", cookie))
    connected, _ = await comm.connect()
    assert not connected
    # Let the application finish before the next test reuses asgiref's executor.
    await comm.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_missing_origin_is_refused(redis_available: str) -> None:
    _, cookie = await sync_to_async(session_cookie_for)("no-origin")
    comm = communicator((b"cookie", cookie))
    connected, _ = await comm.connect()
    assert not connected
    # Let the application finish before the next test reuses asgiref's executor.
    await comm.disconnect()


async def _sync_work_waits_for_another(app: Any) -> tuple[bool, set[int]]:
    """Start a socket whose sync work blocks, then another; did the second finish meanwhile?"""
    release = threading.Event()
    threads: set[int] = set()

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        def work() -> None:
            threads.add(threading.get_ident())
            if scope["path"] == "/slow":
                release.wait(10)

        await sync_to_async(work)()  # thread-sensitive, as database_sync_to_async is

    wrapped = app(inner)
    slow = asyncio.create_task(wrapped({"type": "websocket", "path": "/slow"}, None, None))
    await asyncio.sleep(0.2)
    quick = asyncio.create_task(wrapped({"type": "websocket", "path": "/quick"}, None, None))
    try:
        await asyncio.wait_for(asyncio.shield(quick), 1)
        done = True
    except TimeoutError:
        done = False
    release.set()
    await slow
    await quick
    return done, threads


async def test_each_socket_does_its_sync_work_in_a_thread_of_its_own() -> None:
    """One learner's terminal start (seconds of cluster work) must not hold up another
    socket's log-in check: it did, for every socket of the process (bench/soak)."""
    assert isinstance(application.application_mapping["websocket"], OwnSyncThread)
    done, threads = await _sync_work_waits_for_another(OwnSyncThread)
    assert done and len(threads) == 2
    # Without it, the second waits: the test can tell the two apart.
    bare_done, bare_threads = await _sync_work_waits_for_another(lambda app: app)
    assert not bare_done and len(bare_threads) == 1
