"""Scores owed to LMSes (Assignment and Grade Services): worked out after every conclusive
grading, kept in a Passback row until the LMS has them, sent by a Celery task, retried with
backoff while the LMS is down, and swept up by beat if a task was ever lost.

Rules (anchors-2, "passback pitfalls"): nothing is sent for work never graded (no zeros for
untouched work); only FullyGraded scores; a score keeps the timestamp it was first worked out
at, so the platform never takes a retry for a newer grade; a send marks delivered only the
version it sent."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from lti_tool.models import LtiMembership, LtiUser

from labs.models import Attempt
from lms.models import LinkedActivity, Passback, PassbackState
from lms.protocol import LmsRefused, LmsUnavailable, Score, lineitem_create, score_publish
from lms.targets import TargetError, target_parse, target_worth

logger = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 3600
# Longer waits are left to the beat sweep: Redis hands a task held longer than its visibility
# timeout (300 s) to a second worker.
COUNTDOWN_LIMIT = 240
SEND_CLAIM_SECONDS = 120  # longer than a send can take (two HTTP calls of at most 25 s each)


def passbacks_for_gradings(sender: Any = None, *, attempt_ids: list[int], **_: Any) -> int:
    """The attempts' learners' linked activities get their scores worked out again (the
    attempts_graded receiver). One query when no learner of these came from an LMS."""
    graded = list(Attempt.objects.filter(pk__in=attempt_ids).values_list("user_id", "lab"))
    lti_users = list(LtiUser.objects.filter(auth_user_id__in={user for user, _ in graded}))
    if not lti_users:
        return 0
    labs = {lab for _, lab in graded}
    changed = 0
    for lti_user in lti_users:
        contexts = LtiMembership.objects.filter(user=lti_user).values_list("context_id", flat=True)
        wanted = Q()
        for lab in labs:
            wanted |= Q(target=f"lab:{lab}") | Q(target__startswith=f"exercise:{lab}/")
        activities = LinkedActivity.objects.filter(
            wanted, resource_link__context_id__in=list(contexts)
        ).select_related("resource_link__context__deployment__registration")
        for activity in activities:
            changed += passback_refresh(activity=activity, lti_user=lti_user)
    return changed


def passback_refresh(*, activity: LinkedActivity, lti_user: LtiUser) -> int:
    """Work out the learner's score on the activity; if it differs from the one kept, keep the
    new one (a new version and timestamp) and queue its sending. 1 if it changed."""
    user = lti_user.auth_user
    if user is None:
        return 0
    try:
        worth = target_worth(target_parse(activity.target), user=user)
    except TargetError as exc:
        logger.warning("activity %s: %s", activity.pk, exc)
        return 0
    if worth is None or worth.points <= 0:
        return 0
    attempts = list(Attempt.objects.filter(user=user, lab=worth.lab, exercise__in=worth.exercises))
    given = float(min(sum(a.best_points for a in attempts), worth.points))
    completed = len([a for a in attempts if a.completed_at]) == len(worth.exercises)
    if given == 0 and not completed:
        # Opening the page grades it (nothing there yet): a zero would only say "not started",
        # which the LMS's empty cell says better. Points never go down, so none is withdrawn.
        return 0
    now = timezone.now()
    with transaction.atomic():
        row = (
            Passback.objects.select_for_update()
            .filter(activity=activity, lti_user=lti_user)
            .first()
        )
        if row is None:
            row = Passback.objects.create(
                activity=activity, lti_user=lti_user, user=user, score_given=given,
                score_maximum=float(worth.points), completed=completed, timestamp=now,
                next_try_at=now,
            )  # fmt: skip
        elif (row.score_given, row.score_maximum, row.completed) == (
            given, float(worth.points), completed,
        ):  # fmt: skip
            return 0
        else:
            Passback.objects.filter(pk=row.pk).update(
                score_given=given, score_maximum=float(worth.points), completed=completed,
                timestamp=now, version=F("version") + 1, state=PassbackState.PENDING, tries=0,
                next_try_at=now, last_error="",
            )  # fmt: skip
        passback_id = row.pk
        transaction.on_commit(lambda: passback_queue(passback_id), robust=True)
    return 1


def passback_queue(passback_id: int, *, countdown: float = 0) -> None:
    from labs.services import grading_queue
    from lms.tasks import passback_send_task

    passback_send_task.apply_async(args=(passback_id,), countdown=countdown, queue=grading_queue())


def retry_delay(tries: int) -> float:
    """30 s, 1 min, 2 min… up to an hour (KUBELAB_LMS_RETRY_SECONDS sets the first)."""
    base = float(getattr(settings, "LMS_RETRY_SECONDS", 30))
    return float(min(base * 2 ** max(0, tries - 1), MAX_BACKOFF_SECONDS))


def passback_send(passback_id: int) -> str:
    """Send the row's current score; safe to run twice or late. Returns what happened."""
    row = (
        Passback.objects.select_related(
            "activity__resource_link__context__deployment__registration", "lti_user"
        )
        .filter(pk=passback_id)
        .first()
    )
    if row is None:
        return "gone"
    if row.state == PassbackState.SENT and row.sent_version >= row.version:
        return "up-to-date"
    # One send of a version at a time (a retry's countdown, the sweep and "Send again" may all
    # queue one); a worker that dies holding it frees it when the claim expires.
    claim = f"lms:sending:{row.pk}:{row.version}"
    if not cache.add(claim, 1, SEND_CLAIM_SECONDS):
        return "in-flight"
    try:
        return _send(row)
    finally:
        cache.delete(claim)


def _send(row: Passback) -> str:
    activity = row.activity
    context = activity.resource_link.context
    registration = context.deployment.registration
    try:
        lineitem = activity.lineitem_url or _lineitem_make(activity, row)
        score_publish(
            registration=registration,
            lineitem_url=lineitem,
            lineitems_url=context.lineitems_url,
            score=Score(
                user_sub=row.lti_user.sub,
                given=row.score_given,
                maximum=row.score_maximum,
                completed=row.completed,
                timestamp=_iso(row.timestamp),
            ),
        )
    except LmsUnavailable as exc:
        tries = row.tries + 1
        delay = retry_delay(tries)
        Passback.objects.filter(pk=row.pk, version=row.version).update(
            state=PassbackState.RETRYING, tries=tries, last_error=str(exc)[:1000],
            next_try_at=timezone.now() + timedelta(seconds=delay),
        )  # fmt: skip
        logger.info("passback %s: %s; again in %.0f s", row.pk, exc, delay)
        if delay <= COUNTDOWN_LIMIT:
            passback_queue(row.pk, countdown=delay)
        return "retrying"
    except LmsRefused as exc:
        Passback.objects.filter(pk=row.pk, version=row.version).update(
            state=PassbackState.REFUSED, tries=row.tries + 1, last_error=str(exc)[:1000],
            next_try_at=None,
        )  # fmt: skip
        logger.warning("passback %s refused: %s", row.pk, exc)
        return "refused"
    delivered = Passback.objects.filter(pk=row.pk, version=row.version).update(
        state=PassbackState.SENT, sent_version=row.version, sent_at=timezone.now(),
        tries=row.tries + 1, last_error="", next_try_at=None,
    )  # fmt: skip
    return "sent" if delivered else "superseded"


def _lineitem_make(activity: LinkedActivity, row: Passback) -> str:
    """A link whose launch named no line item: make (or find) its column, if the LMS lets
    kubelab manage line items; else the score has nowhere to go."""
    context = activity.resource_link.context
    if not (context.lineitems_url and context.can_manage_lineitems):
        raise LmsRefused("the LMS gave this link no gradebook column and kubelab may not add one")
    target = target_parse(activity.target)
    worth = target_worth(target, user=row.user)
    url = lineitem_create(
        registration=context.deployment.registration,
        lineitems_url=context.lineitems_url,
        resource_link_id=activity.resource_link.id_on_platform,
        label=(worth.title if worth else str(target))[:255],
        score_maximum=int(row.score_maximum),
        resource_id=str(target),
    )
    LinkedActivity.objects.filter(pk=activity.pk).update(lineitem_url=url)
    return url


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def passbacks_due(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Rows whose send is due and not known to be queued: pending for a minute (its task was
    lost, say with Redis), or retrying past their time."""
    now = now or timezone.now()
    due = Passback.objects.filter(
        Q(state=PassbackState.PENDING, updated_at__lte=now - timedelta(seconds=60))
        | Q(state=PassbackState.RETRYING, next_try_at__lte=now - timedelta(seconds=30))
    )
    return list(due.order_by("next_try_at").values_list("pk", flat=True)[:limit])
