"""Ask for help: a learner flags an exercise, their instructors' gradebooks show it live, and
an instructor marks it helped (or the learner cancels it).

Who may ask is who may see the exercise (labs.library.lab_version_for, as the Check button
decides), so guests may too. The learner's pages hear ``help.changed`` on their own events group;
the gradebook of every class they are in that has the lab hears ``classes.help``. Both are sent
after commit, so no page shows a request that rolled back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from classes.models import Classroom, Enrollment, HelpRequest
from classes.services import class_events_group
from kubelab.events import Event, group_event_send_now, user_event_send
from labs.library import lab_version_for
from labs.models import Attempt
from labs.selectors import ExerciseNotFound, exercise_get

HelpKey = tuple[int, str, str]  # (student id, lab slug, exercise id)


class HelpNotFound(LookupError):
    """No such exercise for this learner, or no such student or lab in this class: callers
    answer 404, so what exists is never told to someone who may not see it."""


def help_may_ask(*, user: Any, lab: str, exercise: str) -> bool:
    """Whether `user` sees this exercise (a catalog lab, or an authored one of theirs or of
    their class), the rule the labs endpoints apply."""
    if not getattr(user, "is_authenticated", False):
        return False
    version = lab_version_for(user=user, slug=lab)
    if version is None:
        return False
    try:
        exercise_get(lab_slug=lab, exercise_id=exercise, version=version)
    except ExerciseNotFound:
        return False
    return True


def help_labs_watched(*, user: Any) -> set[str]:
    """The labs of the classes `user` is a student of: where asking reaches an instructor."""
    if not getattr(user, "is_authenticated", False):
        return set()
    found: set[str] = set()
    for labs in Classroom.objects.filter(enrollments__student=user).values_list("labs", flat=True):
        found.update(labs or [])
    return found


def help_ask(*, user: Any, lab: str, exercise: str) -> HelpRequest:
    """Open a request, or return the one already open (a double click asks once). Only where
    some class of the learner has the lab: elsewhere no instructor would ever see it."""
    if not help_may_ask(user=user, lab=lab, exercise=exercise):
        raise HelpNotFound(f"{lab}/{exercise}")
    if lab not in help_labs_watched(user=user):
        raise HelpNotFound(f"no class of user {user.pk} has {lab}")
    try:
        with transaction.atomic():
            asked = HelpRequest.objects.create(student=user, lab=lab, exercise=exercise)
    except IntegrityError:  # the partial unique index: one is open already
        return HelpRequest.objects.get(
            student=user, lab=lab, exercise=exercise, closed_at__isnull=True
        )
    _announce(student_id=user.pk, lab=lab, exercise=exercise, asked_at=asked.asked_at)
    return asked


def help_cancel(*, user: Any, lab: str, exercise: str) -> bool:
    """The learner withdraws their open request; False if none was open."""
    return _close(
        student_id=user.pk, lab=lab, exercise=exercise, by=user, reason=HelpRequest.Reason.CANCELLED
    )


def help_close_by_instructor(
    *, classroom: Classroom, student_id: int, lab: str, exercise: str, instructor: Any
) -> bool:
    """An instructor of `classroom` (the caller checked, classroom_get_for_instructor) marks a
    student's request helped. Only for a student of this class and a lab it has: an instructor
    cannot close requests they could not see. False if none was open."""
    if lab not in (classroom.labs or []):
        raise HelpNotFound(f"{lab} is not a lab of class {classroom.pk}")
    if not Enrollment.objects.filter(classroom=classroom, student_id=student_id).exists():
        raise HelpNotFound(f"{student_id} is not in class {classroom.pk}")
    return _close(
        student_id=student_id,
        lab=lab,
        exercise=exercise,
        by=instructor,
        reason=HelpRequest.Reason.HELPED,
    )


def _close(*, student_id: int, lab: str, exercise: str, by: Any, reason: str) -> bool:
    closed = HelpRequest.objects.filter(
        student_id=student_id, lab=lab, exercise=exercise, closed_at__isnull=True
    ).update(closed_at=timezone.now(), closed_by=by, closed_reason=reason)
    if closed:
        _announce(student_id=student_id, lab=lab, exercise=exercise, asked_at=None, reason=reason)
    return bool(closed)


def help_close_passed(*, attempt_ids: list[int], **kwargs: Any) -> int:
    """labs.signals.attempts_graded receiver: a request open on an exercise that now passes is
    closed ("passed"), on the learner's page and the gradebooks. Returns how many closed."""
    done = Attempt.objects.filter(pk__in=attempt_ids, completed_at__isnull=False).values_list(
        "user_id", "lab", "exercise"
    )
    closed = 0
    for student_id, lab, exercise in done:
        closed += _close(
            student_id=student_id, lab=lab, exercise=exercise, by=None,
            reason=HelpRequest.Reason.PASSED,
        )  # fmt: skip
    return closed


def help_open_for_class(*, classroom: Classroom) -> dict[HelpKey, datetime]:
    """The open requests of the class's students on the class's labs (one query)."""
    found = HelpRequest.objects.filter(
        closed_at__isnull=True,
        lab__in=list(classroom.labs or []),
        student_id__in=Enrollment.objects.filter(classroom=classroom).values("student_id"),
    ).values_list("student_id", "lab", "exercise", "asked_at")
    return {(student_id, lab, exercise): at for student_id, lab, exercise, at in found}


def help_open_by_student(*, classroom: Classroom) -> dict[int, dict[str, datetime]]:
    """The same, as the gradebook template looks it up: student id -> "lab/exercise" -> when."""
    grid: dict[int, dict[str, datetime]] = {}
    for (student_id, lab, exercise), at in help_open_for_class(classroom=classroom).items():
        grid.setdefault(student_id, {})[f"{lab}/{exercise}"] = at
    return grid


def help_open_for_user(*, user: Any) -> set[str]:
    """The learner's open requests, as "lab/exercise" keys (their checklist's buttons)."""
    if not getattr(user, "is_authenticated", False):
        return set()
    return {
        f"{lab}/{exercise}"
        for lab, exercise in HelpRequest.objects.filter(
            student=user, closed_at__isnull=True
        ).values_list("lab", "exercise")
    }


def _announce(
    *, student_id: int, lab: str, exercise: str, asked_at: datetime | None, reason: str = ""
) -> None:
    """Tell the learner's pages, and the gradebooks of their classes that have the lab."""
    is_open = asked_at is not None
    learner: Event = {
        "type": "help.changed",
        "lab": lab,
        "exercise": exercise,
        "open": is_open,
        "reason": reason,
    }
    user_event_send(user_id=student_id, event=learner)
    gradebook: Event = {
        "type": "classes.help",
        "student": student_id,
        "exercise": f"{lab}/{exercise}",
        "open": is_open,
        "asked_at": asked_at.isoformat() if asked_at else None,
    }
    groups = [
        class_events_group(pk)
        for pk, labs in Classroom.objects.filter(enrollments__student_id=student_id).values_list(
            "pk", "labs"
        )
        if lab in (labs or [])
    ]

    def send() -> None:
        for group in groups:
            group_event_send_now(group=group, event=gradebook)

    # robust: a gradebook that misses the flag re-reads it on reconnect; the write stands.
    transaction.on_commit(send, robust=True)
