"""A Celery task on a real worker process, through real Redis, reading the real test database."""

import uuid

import pytest
from django.contrib.auth import get_user_model

from kubelab.tasks import worker_roundtrip
from tests.fixtures.processes import WorkerProcess


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_task_runs_on_real_worker_and_sees_our_database(
    celery_worker_process: WorkerProcess,
) -> None:
    get_user_model().objects.create_user(username="ada", password="x-secret-123")
    get_user_model().objects.create_user(username="grace", password="x-secret-123")
    token = uuid.uuid4().hex
    result = worker_roundtrip.delay(token).get(timeout=30)
    assert result == {"token": token, "users": 2}
    assert "kubelab.worker_roundtrip[" in celery_worker_process.log.read_text()


def test_celery_is_configured_for_safe_redelivery() -> None:
    from kubelab.celery import app

    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.accept_content == ["json"]
    assert app.conf.task_time_limit and app.conf.task_soft_time_limit
