"""Holding one learner environment while work on it talks to the cluster."""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

import k8s
from sandbox.models import LearnerEnvironment
from sandbox.services.build import environment_id_new

logger = logging.getLogger(__name__)


# Longer than any piece of work on one environment (each cluster call times out in seconds);
# a holder that died is overtaken after it. Waiting for another holder gives up after WAIT.
HOLD_SECONDS = 180
HOLD_WAIT_SECONDS = 120


class EnvironmentBusy(k8s.ClusterUnavailable):
    """Another process kept the environment longer than HOLD_WAIT_SECONDS."""


def hold_take(env_pk: int, *, wait_seconds: float | None = None) -> str | None:
    """Hold the environment against every other holder; the hold's token, or None if busy.

    Work on an environment talks to the cluster for up to seconds. A row lock held that long
    is, on SQLite, a lock on the whole database: every other writer waited, and a class
    arriving together met "database is locked" (bench/soak). So the hold is taken and given
    back by single UPDATEs that commit at once, and the work inside saves in short
    transactions of its own. A holder that died is overtaken once its hold runs out.
    """
    token = secrets.token_hex(8)
    deadline = time.monotonic() + (HOLD_WAIT_SECONDS if wait_seconds is None else wait_seconds)
    pause = 0.02
    while True:
        now = timezone.now()
        taken = (
            LearnerEnvironment.objects.filter(pk=env_pk)
            .filter(Q(held_until__isnull=True) | Q(held_until__lt=now))
            .update(held_until=now + timedelta(seconds=HOLD_SECONDS), held_by=token)
        )
        if taken:
            return token
        if time.monotonic() + pause > deadline:
            return None
        time.sleep(pause)
        pause = min(pause * 2, 0.25)


def hold_give(env_pk: int, token: str) -> None:
    LearnerEnvironment.objects.filter(pk=env_pk, held_by=token).update(held_until=None, held_by="")


@contextlib.contextmanager
def environment_held(env_pk: int) -> Iterator[LearnerEnvironment]:
    """The environment, held for the work inside; raises EnvironmentBusy if it cannot be had."""
    token = hold_take(env_pk)
    if token is None:
        raise EnvironmentBusy(f"environment {env_pk} is busy (held longer than expected)")
    try:
        yield LearnerEnvironment.objects.get(pk=env_pk)
    finally:
        hold_give(env_pk, token)


def environment_of(user: Any) -> LearnerEnvironment:
    env, _ = LearnerEnvironment.objects.get_or_create(
        user_id=user.pk, defaults={"environment_id": environment_id_new()}
    )
    return env
