"""Celery task for grading a class: one batch of learners, retried while cells stay
inconclusive; thin and idempotent like labs.tasks (a redelivered batch finds its stored chunks
already graded and writes nothing twice)."""

from __future__ import annotations

from celery import shared_task

from labs.tasks import MAX_RETRIES, retry_countdown


@shared_task(
    bind=True,
    name="classes.grade_batch",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=MAX_RETRIES,
)
def class_grade_batch_task(self, run_id: int, attempt_ids: list[int]) -> int:
    # Imported here, not at the top: the service queues this task, so it imports this module.
    from classes.services import class_batch_grade

    final_try = self.request.retries >= MAX_RETRIES
    left = class_batch_grade(
        run_id=run_id,
        attempt_ids=list(attempt_ids),
        tries=self.request.retries + 1,
        final_try=final_try,
    )
    if left and not final_try:
        # Only the cells the cluster did not answer for are graded again.
        raise self.retry(args=(run_id, left), countdown=retry_countdown(self.request.retries))
    return len(attempt_ids)
