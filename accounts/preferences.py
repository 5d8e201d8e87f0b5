"""Reading and saving a user's preferences (accounts.models.Preferences)."""

from __future__ import annotations

from typing import Any

from accounts.models import Preferences


def screen_reader_get(*, user: Any) -> bool:
    """The user's terminal screen-reader mode; False for anonymous users and the unset."""
    if not getattr(user, "is_authenticated", False):
        return False
    found = Preferences.objects.filter(user_id=user.pk).values_list("screen_reader", flat=True)
    return bool(next(iter(found), False))


def screen_reader_set(*, user: Any, on: bool) -> None:
    Preferences.objects.update_or_create(user_id=user.pk, defaults={"screen_reader": on})
