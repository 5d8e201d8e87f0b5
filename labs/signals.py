"""What labs tells the apps above it, which it may not import: ``attempts_graded`` (after the
transaction that stored conclusive gradings commits, with ``attempt_ids``), so an LMS can be
sent the new scores (lms.passback)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.dispatch import Signal

attempts_graded = Signal()


def attempts_graded_send(attempt_ids: Iterable[int]) -> None:
    """Inside the storing transaction: receivers run once it commits, never for a rollback. A
    receiver's failure is logged, not raised (send_robust): the grading is stored either way."""
    ids = sorted(set(attempt_ids))
    if ids:
        transaction.on_commit(
            lambda: _send(ids),
            robust=True,
        )


def _send(ids: list[int]) -> None:
    import logging

    for receiver, result in attempts_graded.send_robust(sender=None, attempt_ids=ids):
        if isinstance(result, Exception):
            logging.getLogger(__name__).error(
                "%s failed on gradings %s: %r", receiver, ids[:10], result, exc_info=result
            )
