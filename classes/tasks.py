"""Celery tasks of classes: one batch of a class grading, retried while cells stay inconclusive;
and grades as of the deadline (a beat task finds passed deadlines, a grading task per batch).
Thin and idempotent like labs.tasks (a redelivered batch finds its stored chunks already graded
and writes nothing twice)."""

from __future__ import annotations

from celery import shared_task

from labs.tasks import MAX_RETRIES, retry_countdown

DEADLINE_GRADES_PER_TASK = 2000  # about 65 students of the whole catalog: well inside a task


@shared_task(
    bind=True,
    name="classes.grade_batch",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=MAX_RETRIES,
)
def class_grade_batch_task(
    self, run_id: int, attempt_ids: list[int], from_evidence: bool = False
) -> int:
    # Imported here, not at the top: the service queues this task, so it imports this module.
    from classes.services import class_batch_grade

    final_try = self.request.retries >= MAX_RETRIES
    left = class_batch_grade(
        run_id=run_id,
        attempt_ids=list(attempt_ids),
        tries=self.request.retries + 1,
        final_try=final_try,
        from_evidence=from_evidence,
    )
    if left and not final_try:
        # Only the cells the cluster did not answer for are graded again.
        raise self.retry(args=(run_id, left), countdown=retry_countdown(self.request.retries))
    return len(attempt_ids)


@shared_task(name="classes.deadlines_take")
def deadlines_take_task() -> int:
    """Every minute (beat): grade each student whose deadline just passed."""
    from classes.deadline_grades import deadline_grades_take, due_moments
    from labs.services import grading_queue

    queued = 0
    for moment in due_moments():
        grade_ids = deadline_grades_take(moment=moment)
        for start in range(0, len(grade_ids), DEADLINE_GRADES_PER_TASK):
            chunk = grade_ids[start : start + DEADLINE_GRADES_PER_TASK]
            deadline_grade_task.apply_async(args=(chunk,), queue=grading_queue())
            queued += len(chunk)
    return queued


@shared_task(
    bind=True,
    name="classes.deadline_grade",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=MAX_RETRIES,
)
def deadline_grade_task(self, grade_ids: list[int]) -> int:
    from classes.deadline_grades import deadline_grades_attempts, deadline_grades_settle
    from labs.batch import attempts_grade_batch

    final_try = self.request.retries >= MAX_RETRIES
    attempts_grade_batch(
        attempt_ids=deadline_grades_attempts(grade_ids=list(grade_ids)),
        tries=self.request.retries + 1,
        final_try=final_try,
    )
    left = deadline_grades_settle(grade_ids=list(grade_ids), final=final_try)
    if left and not final_try:
        raise self.retry(args=(left,), countdown=retry_countdown(self.request.retries))
    return len(grade_ids) - len(left)
