"""Celery tasks for grading: thin, id-only, idempotent, retried with backoff while inconclusive."""

from __future__ import annotations

from celery import shared_task
from celery.exceptions import MaxRetriesExceededError

MAX_RETRIES = 6


def retry_countdown(retries: int) -> float:
    """0.5 s, 1 s, 2 s, 4 s, 8 s, 15 s: quick while a blip passes, patient while a restart does."""
    return float(min(0.5 * 2**retries, 15.0))


@shared_task(
    bind=True,
    name="labs.attempt_grade",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=MAX_RETRIES,
)
def attempt_grade_task(self, attempt_id: int) -> str:
    # Imported here, not at the top: the service queues this task, so it imports this module.
    from labs.services import attempt_grade

    final_try = self.request.retries >= MAX_RETRIES
    outcome = attempt_grade(
        attempt_id=attempt_id, tries=self.request.retries + 1, final_try=final_try
    )
    if outcome == "inconclusive" and not final_try:
        try:
            raise self.retry(countdown=retry_countdown(self.request.retries))
        except MaxRetriesExceededError:
            return "gave-up"
    return outcome


@shared_task(name="labs.exercise_setup", acks_late=True, reject_on_worker_lost=True)
def exercise_setup_task(user_id: int, lab_slug: str, exercise_id: str, version: int) -> bool:
    # Not retried: a setup half done and run again would fail on what its first run made; the
    # learner sees the outcome and may press the button again.
    from django.contrib.auth import get_user_model

    from labs.learner_setup import exercise_setup_run

    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return False
    return exercise_setup_run(
        user=user, lab_slug=lab_slug, exercise_id=exercise_id, version=version
    )
