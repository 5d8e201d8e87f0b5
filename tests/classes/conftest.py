"""People and classes for the classes tests: instructors, students, and environments recorded
as ready (the request side of grading needs only the record; the integration test uses real
ones)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from accounts.roles import Role, role_grant
from classes.models import Classroom
from classes.services import classroom_create
from tests.sandbox.conftest import make_learner  # noqa: F401


def person(prefix: str, *, role: Role | None = None, **fields: Any) -> Any:
    user = get_user_model().objects.create_user(
        username=f"{prefix}-{secrets.token_hex(3)}", password="x" * 12, **fields
    )
    if role is not None:
        role_grant(user=user, role=role)
    return user


def environment_ready(user: Any) -> None:
    from sandbox.models import LearnerEnvironment

    LearnerEnvironment.objects.create(
        user=user,
        namespace=f"kl-test-{user.pk}-{secrets.token_hex(3)}",
        environment_id=secrets.token_hex(8),
        status=LearnerEnvironment.Status.READY,
        ready_at=timezone.now(),
    )


def client_for(user: Any, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


@pytest.fixture
def instructor(db: None) -> Any:
    return person("teacher", role=Role.INSTRUCTOR)


@pytest.fixture
def make_class(instructor: Any) -> Callable[..., Classroom]:
    def make(
        name: str = "Kubernetes 101", labs: tuple[str, ...] = ("pods",), **kw: Any
    ) -> Classroom:
        return classroom_create(owner=kw.get("owner", instructor), name=name, labs=labs)

    return make


class ClassSocket:
    """An instructor's ws/classes/<id>/ socket through the real web server."""

    def __init__(self, server: Any, user: Any, classroom_id: int) -> None:
        import websocket

        cookie = f"sessionid={client_for(user).cookies['sessionid'].value}"
        url = server.url.replace("http://", "ws://") + f"/ws/classes/{classroom_id}/"
        self.ws = websocket.create_connection(url, cookie=cookie, origin=server.origin, timeout=30)
        self.received: list[dict[str, Any]] = []

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float, what: str
    ) -> dict[str, Any]:
        import json
        import time

        import websocket

        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            self.ws.settimeout(left)
            try:
                event = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                break
            self.received.append(event)
            if predicate(event):
                return event
        raise AssertionError(f"no {what} within {timeout:.0f}s; last: {self.received[-3:]}")

    def close(self) -> None:
        self.ws.close()
