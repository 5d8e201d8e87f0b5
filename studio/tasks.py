"""Celery task of the studio: one content test of a lab, on the cluster. A test takes minutes
(every exercise twice, each step in a fresh namespace), so it has time limits of its own; one
the cluster interrupts is run again with backoff and never counts as green."""

from __future__ import annotations

from celery import shared_task

MAX_RETRIES = 4
TEST_SOFT_SECONDS = 900


@shared_task(
    bind=True,
    name="studio.lab_test",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=MAX_RETRIES,
    soft_time_limit=TEST_SOFT_SECONDS,
    time_limit=TEST_SOFT_SECONDS + 60,
)
def lab_test_task(self, test_id: int) -> str:
    # Imported here, not at the top: the service queues this task, so it imports this module.
    from studio.services import lab_test_gave_up
    from studio.testing import lab_test_run

    status = lab_test_run(test_id=test_id)
    if status == "inconclusive":
        if self.request.retries >= MAX_RETRIES:
            lab_test_gave_up(test_id=test_id)
            return "gave-up"
        raise self.retry(countdown=min(5 * 2**self.request.retries, 60))
    return status
