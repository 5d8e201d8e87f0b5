"""The one access check: anonymous, a disabled account, or an active user."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser

from kubelab.access import user_standing


@pytest.mark.django_db
def test_anonymous_inactive_and_active_are_told_apart() -> None:
    user = get_user_model().objects.create_user(username="standing", password="x" * 12)
    assert user_standing(None) == "anonymous"
    assert user_standing(AnonymousUser()) == "anonymous"
    assert user_standing(user) == "active"
    user.is_active = False
    assert user_standing(user) == "inactive"
    # Something that is not a user at all is nobody, never someone.
    assert user_standing(object()) == "anonymous"
