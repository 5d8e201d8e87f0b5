"""Reads about accounts: is this a guest, and which guests nobody has used for a while."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import F, QuerySet
from django.db.models.functions import Coalesce, Greatest

from accounts.roles import Role


def user_is_guest(*, user: Any) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return bool(user.groups.filter(name=Role.GUEST).exists())


def guests_inactive(*, before: datetime) -> QuerySet[Any]:
    """Guests last seen before `before`, oldest first, annotated with `last_seen`.

    Last seen is the latest of sign-in, log-in and the environment's activity (a lesson's
    terminal starting, its token refresh and typing bump it: sandbox_provision, sandbox_touch),
    so a guest who works for weeks in one long session is never taken for gone.
    """
    # Greatest() is NULL on SQLite when any argument is, so each falls back to date_joined.
    last_seen = Greatest(
        F("date_joined"),
        Coalesce(F("last_login"), F("date_joined")),
        Coalesce(F("learner_environment__last_active_at"), F("date_joined")),
    )
    return (
        get_user_model()
        .objects.filter(groups__name=Role.GUEST)
        .annotate(last_seen=last_seen)
        .filter(last_seen__lt=before)
        .order_by("last_seen", "pk")
    )
