"""Celery tasks of the LMS integration: send one score, sweep up scores whose task was lost,
sync one course's roster. Thin: the work is in lms.passback and lms.roster."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="lms.passback_send", acks_late=True, reject_on_worker_lost=True)
def passback_send_task(passback_id: int) -> str:
    from lms.passback import passback_send

    return passback_send(passback_id)


@shared_task(name="lms.passback_sweep")
def passback_sweep_task() -> int:
    from lms.passback import passback_queue, passbacks_due

    due = passbacks_due()
    for passback_id in due:
        passback_queue(passback_id)
    return len(due)


@shared_task(name="lms.roster_sync", acks_late=True, reject_on_worker_lost=True)
def roster_sync_task(course_id: int) -> str:
    from lms.roster import roster_sync

    return roster_sync(course_id=course_id).summary
