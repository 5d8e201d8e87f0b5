"""Platform tasks: a round trip that proves a worker can reach the database (used by /healthz)."""

from __future__ import annotations

from celery import shared_task
from django.contrib.auth import get_user_model


@shared_task(name="kubelab.worker_roundtrip")
def worker_roundtrip(token: str) -> dict[str, object]:
    """Echo the token and count users, so the caller knows the worker shares our database."""
    return {"token": token, "users": get_user_model().objects.count()}
