"""The Celery app: JSON only, bounded tasks, late acks so a killed worker loses no grading run."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kubelab.settings")


def _redelivery_options() -> dict[str, int]:
    """How soon Redis hands a task whose worker vanished (SIGKILL, lost machine) to another
    worker: after the visibility timeout, found by a sweep. The labs kill test shortens both
    for its own workers through KUBELAB_CELERY_VISIBILITY_TIMEOUT."""
    visibility = int(os.environ.get("KUBELAB_CELERY_VISIBILITY_TIMEOUT", "300"))
    quick = visibility < 60
    return {
        "visibility_timeout": visibility,
        "unacked_restore_interval": 1 if quick else 10,
        "unacked_restore_throttle": 1 if quick else 10,
    }


app = Celery("kubelab")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_soft_time_limit=60,
    task_time_limit=90,
    # Tasks are written to be idempotent, so a task whose worker died is redelivered, not lost.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    broker_transport_options=_redelivery_options(),
    result_expires=3600,
    worker_hijack_root_logger=False,
    beat_schedule={
        # Learner environments (sandbox/tasks.py): put idle ones to sleep, keep the pool warm.
        "sandbox-cull-idle": {"task": "sandbox.cull_idle", "schedule": 60.0},
        "sandbox-pool-refill": {"task": "sandbox.pool_refill", "schedule": 30.0},
        # Guests unused for KUBELAB_GUEST_DAYS (accounts/tasks.py); a run is capped, so the
        # schedule is frequent enough to keep up with many guests.
        "accounts-guests-prune": {"task": "accounts.guests_prune", "schedule": 900.0},
    },
)
# kubelab.tasks is not an app module, so name it; app tasks are found by autodiscovery.
app.conf.imports = ("kubelab.tasks",)
app.autodiscover_tasks()
