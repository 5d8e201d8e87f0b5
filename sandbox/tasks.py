"""Celery tasks for learner environments: thin, id-only, idempotent (safe to run twice).

The services queue these tasks, so they import this module at their top; a task imports the
service it runs inside its body (HackSoft's rule), and the two never form an import circle."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.contrib.auth import get_user_model
from django.utils import timezone

import k8s
from sandbox.conf import sandbox_config
from sandbox.models import LearnerEnvironment

logger = logging.getLogger(__name__)


@shared_task(name="sandbox.provision_retry")
def sandbox_provision_retry(user_id: int) -> str:
    """Try an unavailable environment again, while its learner is still around."""
    env = LearnerEnvironment.objects.filter(user_id=user_id).select_related("user").first()
    if env is None or env.status != LearnerEnvironment.Status.UNAVAILABLE:
        return "nothing-to-do"
    recent = timezone.now() - timedelta(seconds=sandbox_config().idle_seconds)
    if env.last_active_at < recent:
        return "learner-gone"  # provisioned again on their next visit
    # The retry is due now, whatever the last attempt scheduled.
    LearnerEnvironment.objects.filter(pk=env.pk).update(retry_at=None)
    from sandbox.services import sandbox_provision

    return str(sandbox_provision(user=env.user).status)


@shared_task(name="sandbox.provision")
def sandbox_provision_task(user_id: int) -> str:
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return "no-such-learner"
    from sandbox.services import sandbox_provision

    return str(sandbox_provision(user=user).status)


@shared_task(name="sandbox.pool_refill")
def sandbox_pool_refill() -> int:
    from sandbox.services import pool_refill

    try:
        return pool_refill()
    except k8s.ClusterUnavailable as exc:
        logger.warning("pool refill postponed: %s", exc)
        return 0


@shared_task(name="sandbox.cull_idle")
def sandbox_cull_idle_task() -> list[str]:
    from sandbox.services import sandbox_cull_idle, sandbox_orphans_delete

    culled = sandbox_cull_idle()
    try:
        sandbox_orphans_delete()
    except k8s.ClusterUnavailable as exc:
        logger.warning("orphan sweep postponed: %s", exc)
    return culled
