"""The Celery side: beat names real tasks, and culling runs in a real worker."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from kubelab.celery import app
from sandbox.conf import sandbox_config
from sandbox.models import LearnerEnvironment
from sandbox.tasks import sandbox_cull_idle_task, sandbox_pool_refill
from tests.fixtures.learners import Learner


def test_beat_schedule_names_registered_tasks() -> None:
    app.loader.import_default_modules()
    schedule = app.conf.beat_schedule
    assert {"sandbox-cull-idle", "sandbox-pool-refill"} <= set(schedule)
    for entry in schedule.values():
        assert entry["task"] in app.tasks, entry


@pytest.mark.cluster
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_culling_and_refill_run_in_a_real_worker(
    make_learner: Callable[..., Learner], celery_worker_process: Any, cluster: Any
) -> None:
    learner = make_learner("task-idle")
    LearnerEnvironment.objects.filter(user=learner.user).update(
        last_active_at=timezone.now() - timedelta(seconds=sandbox_config().idle_seconds + 5)
    )

    culled = sandbox_cull_idle_task.delay().get(timeout=60)

    assert culled == [learner.namespace]
    assert LearnerEnvironment.objects.get(user=learner.user).status == "suspended"
    # The worker fills the pool to its default size (its own settings); a rerun has no work.
    assert sandbox_pool_refill.delay().get(timeout=120) == sandbox_config().pool_size
    assert sandbox_pool_refill.delay().get(timeout=60) == 0
