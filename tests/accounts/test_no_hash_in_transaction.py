"""Password hashing is slow on purpose; it must never run inside a write transaction, where (on
SQLite) it would hold the database's one write lock while a class signs up."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.db import connection

from accounts.services import guest_claim, guest_start, student_signup

SEEN: list[bool] = []


class RecordingHasher(MD5PasswordHasher):
    """Records, for every hash it makes, whether a transaction was open around it."""

    algorithm = "recording_md5"

    def encode(self, password: str, salt: str) -> str:
        SEEN.append(connection.in_atomic_block)
        return super().encode(password, salt)


@pytest.fixture
def recorded(settings: Any) -> list[bool]:
    settings.PASSWORD_HASHERS = [f"{__name__}.RecordingHasher"]
    SEEN.clear()
    return SEEN


@pytest.mark.django_db(transaction=True)
def test_sign_up_hashes_before_its_transaction(recorded: list[bool]) -> None:
    user = student_signup(username="hash-outside", password="a long passphrase here")
    assert recorded == [False]
    user.refresh_from_db()
    assert user.check_password("a long passphrase here")


@pytest.mark.django_db(transaction=True)
def test_claiming_a_guest_hashes_before_its_transaction(
    recorded: list[bool], settings: Any
) -> None:
    settings.KUBELAB_GUEST_ACCESS = True
    guest = guest_start(client_ip="127.0.0.1")
    claimed = guest_claim(user=guest, username="hash-claimed", password="another passphrase")
    assert recorded == [False]
    claimed.refresh_from_db()
    assert claimed.username == "hash-claimed" and claimed.check_password("another passphrase")
