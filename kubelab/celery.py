"""The Celery app: JSON only, bounded tasks, late acks so a killed worker loses no grading run."""

from __future__ import annotations

import os

from celery import Celery

from kubelab.env import env_int

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kubelab.settings")


def _redelivery_options() -> dict[str, int]:
    """How soon Redis hands a task whose worker vanished (SIGKILL, lost machine) to another
    worker: after the visibility timeout, found by a sweep. The labs kill test shortens both
    for its own workers through KUBELAB_CELERY_VISIBILITY_TIMEOUT."""
    visibility = env_int("KUBELAB_CELERY_VISIBILITY_TIMEOUT", 300, minimum=1)
    quick = visibility < 60
    return {
        "visibility_timeout": visibility,
        "unacked_restore_interval": 1 if quick else 10,
        "unacked_restore_throttle": 1 if quick else 10,
    }


def _a_closed_channel_is_a_connection_error() -> None:
    """kombu 5.7's Redis channel, once its connection is closed (the server went away), still
    builds new clients from it: restoring unacknowledged messages as the channel closes, or a
    late ack of a task that was running meanwhile. It fails with an AttributeError (the closed
    connection has no client), which neither kombu nor Celery expects, so the worker stopped
    for good after a Redis restart (tests/kubelab/test_faults.py). Raised as the connection
    error it is, both already handle it: the channel is dropped, the worker reconnects, and an
    unacknowledged message comes back by the visibility timeout (tasks are idempotent)."""
    import redis
    from kombu.transport import redis as transport

    connparams = transport.Channel._connparams
    if getattr(connparams, "kubelab_guarded", False):
        return

    def guarded(self: transport.Channel, asynchronous: bool = False) -> dict[str, object]:
        if self.connection is None or self.connection.client is None:
            raise redis.exceptions.ConnectionError("this broker channel's connection is closed")
        return dict(connparams(self, asynchronous=asynchronous))

    guarded.kubelab_guarded = True  # type: ignore[attr-defined]
    transport.Channel._connparams = guarded  # type: ignore[method-assign]


_a_closed_channel_is_a_connection_error()

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
    # A grading running when the broker connection goes finishes and writes its result (its
    # late ack is lost with the connection, and logged); cancelling it would lose the result.
    worker_cancel_long_running_tasks_on_connection_loss=False,
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
        # Grades as of the deadline (classes/deadline_grades.py): taken within a minute of it.
        "classes-deadlines-take": {"task": "classes.deadlines_take", "schedule": 60.0},
        # Scores owed to LMSes whose sending task was lost or whose retry is due (lms/).
        "lms-passback-sweep": {"task": "lms.passback_sweep", "schedule": 60.0},
    },
)
# kubelab.tasks is not an app module, so name it; app tasks are found by autodiscovery.
app.conf.imports = ("kubelab.tasks",)
app.autodiscover_tasks()
