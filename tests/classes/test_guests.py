"""Guests cannot join a class: the instructor needs a real person; they are told to sign up."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from accounts.services import guest_start
from classes.codes import code_display
from classes.models import Classroom, Enrollment
from classes.services import ClassError, classroom_join

pytestmark = pytest.mark.django_db

REFUSAL = "Guest accounts cannot join a class. Sign up first"


@pytest.fixture
def guest() -> Any:
    cache.clear()
    user = guest_start(client_ip="192.0.2.44")
    yield user
    cache.clear()


def test_a_guest_is_refused_by_link_by_code_and_by_the_service(
    guest: Any, make_class: Callable[..., Classroom]
) -> None:
    classroom = make_class(name="Night class")
    client = Client()
    client.force_login(guest)
    link = f"/classes/join/{code_display(classroom.join_code)}/"

    for response in (
        client.get(link),
        client.post(link),
        client.post("/classes/join/", {"code": classroom.join_code}),
    ):
        body = response.content.decode()
        assert REFUSAL in body, response.status_code
        assert 'href="/accounts/claim/?next=' in body
    assert client.get(link).status_code == 403
    assert client.post(link).status_code == 403
    with pytest.raises(ClassError, match=REFUSAL):
        classroom_join(user=guest, code=classroom.join_code)
    assert not Enrollment.objects.exists()

    chinese = client.get(link, headers={"accept-language": "zh-hant"}).content.decode()
    assert "訪客帳號無法加入班級" in chinese
