"""Account actions: sign-up as a student, and the admin account the run command guarantees."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction

from accounts.roles import Role, role_grant


@transaction.atomic
def student_signup(*, username: str, password: str, email: str = "") -> User:
    user: User = get_user_model().objects.create_user(
        username=username, password=password, email=email
    )
    role_grant(user=user, role=Role.STUDENT)
    return user


def admin_ensure(*, username: str, password: str | None) -> str | None:
    """Create the admin if missing and return the password to print once; None if it existed.

    A password given (from the environment) is always applied, so rotating it is one restart.
    """
    users = get_user_model().objects
    user = users.filter(username=username).first()
    if user is not None and password is None:
        return None
    chosen = password or secrets.token_urlsafe(12)
    if user is None:
        user = users.create_superuser(username=username, password=chosen, email="")
    else:
        user.set_password(chosen)
        user.save(update_fields=["password"])
    role_grant(user=user, role=Role.INSTRUCTOR)
    return chosen if password is None else None
