"""Grades as of the deadline: when a student's deadline for a lab passes (the lab's, or their
extension's), their namespace is graded then and there, and that grading, kept with its
evidence, is their grade "by the deadline". Work finished at 23:59 counts even if nobody pressed
Check; work finished after it shows as late.

A beat task (classes.deadlines_take, every minute) finds the deadlines that passed and have no
grades yet (``due_moments``), records a pending DeadlineGrade per student and exercise and asks
for the gradings in one batch (``deadline_grades_take``); the grading task settles each grade on
the first conclusive run at or after the generation asked for (``deadline_grades_settle``).
An environment asleep at the deadline has no namespace to read: its grade is the last grading
before the deadline, if any. A deadline moved later is a new moment and is graded again then.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from classes.labs import class_exercises, class_versions
from classes.models import Classroom, Deadline, DeadlineGrade, Enrollment, Extension
from labs.batch import attempts_request
from labs.learners import learner_states
from labs.models import Attempt, GradingRun, Trigger

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DueMoment:
    """Students of a class whose deadline for a lab passed at ``due_at`` and are not graded
    for it yet."""

    classroom_id: int
    lab: str
    due_at: datetime
    student_ids: tuple[int, ...]


def due_moments(*, now: datetime | None = None) -> list[DueMoment]:
    """Every passed deadline (lab-wide, or one student's extension) still without grades."""
    now = now or timezone.now()
    taken = set(
        DeadlineGrade.objects.filter(due_at__lte=now).values_list(
            "classroom_id", "lab", "due_at", "student_id"
        )
    )
    extended = set(Extension.objects.values_list("classroom_id", "lab", "student_id"))
    moments: list[DueMoment] = []
    for deadline in Deadline.objects.filter(due_at__lte=now).order_by("due_at"):
        key = (deadline.classroom_id, deadline.lab)
        students = tuple(
            sid
            for sid in Enrollment.objects.filter(classroom_id=deadline.classroom_id)
            .order_by("student_id")
            .values_list("student_id", flat=True)
            if (*key, sid) not in extended and (*key, deadline.due_at, sid) not in taken
        )
        if students:
            moments.append(DueMoment(*key, deadline.due_at, students))
    for extension in Extension.objects.filter(due_at__lte=now).order_by("due_at"):
        key = (extension.classroom_id, extension.lab)
        if (*key, extension.due_at, extension.student_id) in taken:
            continue
        if not Enrollment.objects.filter(
            classroom_id=extension.classroom_id, student_id=extension.student_id
        ).exists():
            continue
        moments.append(DueMoment(*key, extension.due_at, (extension.student_id,)))
    return moments


def deadline_grades_take(*, moment: DueMoment) -> list[int]:
    """Record the moment's pending grades and ask for their gradings; returns the grades to
    grade (the caller queues them after commit). Safe to call twice: a grade already recorded
    for the moment is left as it is."""
    classroom = Classroom.objects.filter(pk=moment.classroom_id).first()
    if classroom is None:
        return []
    exercises = class_exercises(classroom, lab=moment.lab)
    if not exercises:
        return []
    versions = class_versions(classroom)
    users = list(get_user_model().objects.filter(pk__in=moment.student_ids).order_by("pk"))
    states = learner_states(user_ids=[u.pk for u in users])
    awake = [u for u in users if states[u.pk].ready]
    asleep = [u for u in users if not states[u.pk].ready]
    with transaction.atomic():
        already = set(
            DeadlineGrade.objects.filter(
                classroom_id=moment.classroom_id, lab=moment.lab, due_at=moment.due_at,
                student_id__in=moment.student_ids,
            ).values_list("student_id", flat=True)
        )  # fmt: skip
        awake = [u for u in awake if u.pk not in already]
        asleep = [u for u in asleep if u.pk not in already]
        generations = attempts_request(
            users=awake, exercises=exercises, trigger=Trigger.DEADLINE, versions=versions
        )
        Attempt.objects.bulk_create(
            [Attempt(user=u, lab=lab, exercise=ex) for u in asleep for lab, ex in exercises],
            ignore_conflicts=True,
        )
        attempts = Attempt.objects.filter(
            user__in=awake + asleep, lab=moment.lab, exercise__in=[ex for _, ex in exercises]
        )
        grades = DeadlineGrade.objects.bulk_create(
            [
                DeadlineGrade(
                    classroom_id=moment.classroom_id,
                    student_id=a.user_id,
                    attempt=a,
                    lab=a.lab,
                    exercise=a.exercise,
                    due_at=moment.due_at,
                    generation=generations.get(a.pk),
                )
                for a in attempts
            ],
            ignore_conflicts=True,
        )
    pending = list(
        DeadlineGrade.objects.filter(
            classroom_id=moment.classroom_id, lab=moment.lab, due_at=moment.due_at,
            settled_at__isnull=True,
        ).values_list("pk", "generation")
    )  # fmt: skip
    # Asleep: settled now from the gradings before the deadline; awake: after their grading.
    deadline_grades_settle(grade_ids=[pk for pk, g in pending if g is None], final=True)
    logger.info(
        "deadline of %s in class %s at %s: %s grades for %s students",
        moment.lab, moment.classroom_id, moment.due_at, len(grades), len(awake) + len(asleep),
    )  # fmt: skip
    return [pk for pk, generation in pending if generation is not None]


def _run_for(grade: DeadlineGrade, runs: list[GradingRun], *, final: bool) -> GradingRun | None:
    """``runs``: the attempt's, oldest first."""
    if grade.generation is None:
        # Asleep at the deadline: the newest conclusive grading finished before it.
        before = [r for r in runs if r.finished_at <= grade.due_at and r.status != "inconclusive"]
        return before[-1] if before else None
    later = [r for r in runs if r.generation >= grade.generation]
    # A newer change (the watcher) may have been graded instead of the generation asked for:
    # the first conclusive grading from then on is the one closest to the deadline.
    conclusive = [r for r in later if r.status != "inconclusive"]
    if conclusive:
        return conclusive[0]
    return later[0] if final and later else None


def deadline_grades_settle(*, grade_ids: list[int], final: bool) -> list[int]:
    """Settle each pending grade on its run (kept from now on), in a few queries however many;
    returns those still waiting for a conclusive grading (the task retries them)."""
    grades = list(DeadlineGrade.objects.filter(pk__in=grade_ids, settled_at__isnull=True))
    runs: dict[int, list[GradingRun]] = defaultdict(list)
    for row in (
        GradingRun.objects.filter(attempt_id__in={g.attempt_id for g in grades})
        .only("pk", "attempt_id", "generation", "status", "points", "finished_at")
        .order_by("generation")
    ):
        runs[row.attempt_id].append(row)
    waiting: list[int] = []
    settled: list[DeadlineGrade] = []
    kept: list[int] = []
    now = timezone.now()
    for grade in grades:
        run = _run_for(grade, runs[grade.attempt_id], final=final)
        if run is None and not (final or grade.generation is None):
            waiting.append(grade.pk)
            continue
        grade.run = run
        grade.status = run.status if run is not None else "not_checked"
        grade.points = run.points if run is not None else 0
        grade.settled_at = now
        settled.append(grade)
        if run is not None:
            kept.append(run.pk)
    with transaction.atomic():
        GradingRun.objects.filter(pk__in=kept).update(kept=True)
        DeadlineGrade.objects.bulk_update(
            settled, ["run", "status", "points", "settled_at"], batch_size=500
        )
    return waiting


def deadline_grades_attempts(*, grade_ids: list[int]) -> list[int]:
    return list(
        DeadlineGrade.objects.filter(pk__in=grade_ids, settled_at__isnull=True)
        .values_list("attempt_id", flat=True)
        .distinct()
    )
