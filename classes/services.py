"""Writes: classes, join codes, enrolment, co-instructors, grading a whole class through the
labs pipeline, and the relay that turns learners' grading events into gradebook updates."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.selectors import user_is_guest
from classes.codes import code_new
from classes.labs import (
    ClassLabError,
    class_exercises,
    class_lab_values,
    class_versions,
    labs_parsed,
)
from classes.models import ClassGradingRequest, ClassGradingRun, Classroom, Enrollment
from classes.selectors import (
    cell_event,
    classroom_by_code,
    run_progress,
    user_is_instructor,
)
from classes.watching import watchers_recheck
from kubelab.events import Event, group_event_send_now
from kubelab.socket_control import user_sockets_recheck
from labs.batch import Stored, attempts_grade_batch, attempts_request, attempts_rerequest
from labs.learners import learner_states
from labs.models import Attempt, Trigger
from labs.services import grading_queue

logger = logging.getLogger(__name__)

# A run whose answers have not all come back after this long (a worker lost its task and the
# learner never checked again) no longer blocks a new one.
RUN_STALE_AFTER = timedelta(minutes=10)


class ClassError(ValueError):
    """A request that cannot be done as asked; the message says why, for the person asking."""


class GuestCannotJoin(ClassError):
    """Guests sign up before joining: an instructor grades people, not `guest-7f3k2q`."""


def guest_join_refusal() -> str:
    return _(
        "Guest accounts cannot join a class. Sign up first (your progress is kept) so your "
        "instructor knows who you are."
    )


def class_events_group(classroom_id: int) -> str:
    return f"events.class.{classroom_id}"


def _labs_valid(
    values: Iterable[str], *, user: Any, classroom: Classroom | None = None
) -> tuple[list[str], dict[str, int]]:
    try:
        return labs_parsed(values, user=user, classroom=classroom)
    except ClassLabError as exc:
        raise ClassError(str(exc)) from None


def _name_valid(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ClassError(_("Give the class a name."))
    if len(name) > 120:
        raise ClassError(_("A class name has at most 120 characters."))
    return name


def _unique_code() -> str:
    # 31**12 codes: a collision is astronomically rare, but a unique index decides, not hope.
    for _attempt in range(5):
        code = code_new()
        if not Classroom.objects.filter(join_code=code).exists():
            return code
    raise RuntimeError("could not find a free join code")


def classroom_create(*, owner: Any, name: str, labs: Iterable[str]) -> Classroom:
    """``labs``: catalog slugs, and ``slug@version`` for published versions of labs written
    in the studio (classes.labs)."""
    if not user_is_instructor(user=owner):
        raise ClassError(_("Only instructors can create classes."))
    chosen, versions = _labs_valid(labs, user=owner)
    with transaction.atomic():
        classroom = Classroom.objects.create(
            name=_name_valid(name),
            owner=owner,
            labs=chosen,
            lab_versions=versions,
            join_code=_unique_code(),
        )
        classroom.instructors.add(owner)
    return classroom


def classroom_update(
    *, classroom: Classroom, name: str, labs: Iterable[str], by: Any = None
) -> Classroom:
    """A written lab may be added only by one of its authors (``by``); one the class already
    has may stay, or change version, whoever saves the settings."""
    classroom.name = _name_valid(name)
    classroom.labs, classroom.lab_versions = _labs_valid(
        labs, user=by or classroom.owner, classroom=classroom
    )
    classroom.save(update_fields=["name", "labs", "lab_versions", "updated_at"])
    return classroom


def class_lab_publish(*, classroom: Classroom, slug: str, version: int, by: Any) -> Classroom:
    """Give the class version ``version`` of a written lab (added at the end, or moved from
    the version it had): the studio's "use in a class". Learners' next gradings use it; what
    earlier versions graded stays as it was."""
    values = [v for v in class_lab_values(classroom) if v.partition("@")[0] != slug]
    return classroom_update(
        classroom=classroom, name=classroom.name, labs=[*values, f"{slug}@{version}"], by=by
    )


def join_code_regenerate(*, classroom: Classroom) -> str:
    """A new code; the old one stops working at once (a leaked code is dealt with this way)."""
    classroom.join_code = _unique_code()
    classroom.save(update_fields=["join_code", "updated_at"])
    return classroom.join_code


def join_set_open(*, classroom: Classroom, open: bool) -> None:
    classroom.join_open = open
    classroom.save(update_fields=["join_open", "updated_at"])


@dataclass(frozen=True)
class Joined:
    classroom: Classroom
    created: bool  # False: they were already in it


def classroom_join(*, user: Any, code: str) -> Joined:
    """Enrol `user` with a normalised join code; joining twice is harmless."""
    if not getattr(user, "is_authenticated", False):
        raise ClassError(_("Log in to join a class."))
    if user_is_guest(user=user):
        raise GuestCannotJoin(guest_join_refusal())
    classroom = classroom_by_code(code=code)
    if classroom is None:
        raise ClassError(_("No class has this join code. Check the code with your instructor."))
    if Enrollment.objects.filter(classroom=classroom, student=user).exists():
        return Joined(classroom, created=False)
    if not classroom.join_open:
        raise ClassError(_("This class is not accepting new students; ask your instructor."))
    try:
        with transaction.atomic():
            Enrollment.objects.create(classroom=classroom, student=user)
    except IntegrityError:  # a double click raced us to it
        return Joined(classroom, created=False)
    return Joined(classroom, created=True)


def classroom_enrol(*, classroom: Classroom, user: Any) -> bool:
    """Put a student in the class without a join code (their LMS course says they are in it).
    True if they were not in it before."""
    _, created = Enrollment.objects.get_or_create(classroom=classroom, student=user)
    return created


def instructor_add(*, classroom: Classroom, username: str) -> Any:
    """Make another instructor a co-instructor of the class."""
    user = get_user_model().objects.filter(username=(username or "").strip()).first()
    if user is None or not user_is_instructor(user=user):
        raise ClassError(_("“%(name)s” is not an instructor account.") % {"name": username})
    classroom.instructors.add(user)
    return user


def instructor_remove(*, classroom: Classroom, user_id: int) -> None:
    if user_id == classroom.owner_id:
        raise ClassError(_("The owner of a class cannot be removed from it."))
    classroom.instructors.remove(user_id)
    user_sockets_recheck(user_id=user_id)  # their open gradebook of this class closes


def student_remove(*, classroom: Classroom, user_id: int) -> bool:
    """Take a student out of the class; their attempts (their own progress) stay."""
    deleted, _ = Enrollment.objects.filter(classroom=classroom, student_id=user_id).delete()
    user_sockets_recheck(user_id=user_id)
    watchers_recheck(user_id)  # an instructor watching them through this class stops
    return deleted > 0


# --- Grading the whole class --------------------------------------------------------------


@dataclass(frozen=True)
class GradingStarted:
    run: ClassGradingRun
    created: bool  # False: a run was already in progress and is returned instead


# A batch task's learners. Each task lists every kind in every namespace once, so fewer,
# larger tasks read less: at 250, a class of 1,000 read the cluster four times over and graded
# slower on two worker children than one process did; at 500 each child reads it once.
LEARNERS_PER_TASK = 500


def class_grade_request(
    *, classroom: Classroom, requested_by: Any, from_evidence: bool = False, lab: str = ""
) -> GradingStarted:
    """Grade every enrolled student's every exercise of the class, as batches on the workers.

    ``from_evidence`` regrades instead what each attempt's last grading kept (after a fixed
    spec): no namespace is read, so asleep students are regraded too, and only attempts that
    were graded before are asked for; ``lab`` limits either to one of the class's labs.

    The attempts are asked for at once (labs.batch.attempts_request, trigger `instructor`) and
    graded by batch tasks of LEARNERS_PER_TASK learners each: a task reads each kind once for
    all of them and stores its results in chunks, each chunk one gradebook update and one
    progress event (class_batch_grade). Students without a ready environment are skipped and
    recorded: kubelab does not provision or wake an environment to grade it, because a culled
    one's namespace is gone and a fresh, empty one would grade every exercise as failed (the
    gradebook keeps what they completed before).

    Pressing twice while a run is going returns the running one; the class row lock makes two
    presses at the same moment queue behind each other.
    """
    now = timezone.now()
    with transaction.atomic():
        Classroom.objects.select_for_update().filter(pk=classroom.pk).first()
        running = (
            ClassGradingRun.objects.filter(
                classroom=classroom, finished_at__isnull=True, started_at__gt=now - RUN_STALE_AFTER
            )
            .order_by("-started_at")
            .first()
        )
        if running is not None:
            return GradingStarted(running, created=False)
        exercises = class_exercises(classroom, lab=lab)
        versions = class_versions(classroom)
        students = list(
            get_user_model()
            .objects.filter(enrollments__classroom=classroom, is_active=True)
            .order_by("pk")
        )
        if from_evidence:
            graded, skipped = students, []
            before = _graded_before(students, exercises)
            # A fixed lab is a newer version the class moved to: regrade with that one.
            for slug, version in versions.items():
                Attempt.objects.filter(pk__in=before, lab=slug).update(lab_version=version)
            generations = attempts_rerequest(attempt_ids=before, trigger=Trigger.REGRADE)
        else:
            states = learner_states(user_ids=[s.pk for s in students])
            graded = [s for s in students if states[s.pk].ready]
            skipped = [s.pk for s in students if not states[s.pk].ready]
            generations = attempts_request(
                users=graded, exercises=exercises, trigger=Trigger.INSTRUCTOR, versions=versions
            )
        run = ClassGradingRun.objects.create(
            classroom=classroom,
            requested_by=requested_by,
            requested=len(generations),
            skipped=skipped,
            from_evidence=from_evidence,
            lab=lab,
        )
        ClassGradingRequest.objects.bulk_create(
            ClassGradingRequest(run=run, attempt_id=attempt_id, generation=generation)
            for attempt_id, generation in generations.items()
        )
        if not generations:
            run.finished_at = timezone.now()
            run.save(update_fields=["finished_at"])
        owners = dict(Attempt.objects.filter(pk__in=list(generations)).values_list("pk", "user_id"))
        batches = _batches(sorted(generations), owners)
        event = {
            "type": "classes.grading",
            "checking": [s.pk for s in graded],
            "progress": run_progress(run=run).as_event(),
        }
        group = class_events_group(classroom.pk)
        run_id = run.pk

        def queue() -> None:
            from classes.tasks import class_grade_batch_task

            for attempt_ids in batches:
                class_grade_batch_task.apply_async(
                    (run_id, attempt_ids),
                    kwargs={"from_evidence": from_evidence},
                    queue=grading_queue(),
                )

        transaction.on_commit(queue)
        transaction.on_commit(lambda: group_event_send_now(group=group, event=event), robust=True)
    return GradingStarted(run, created=True)


def _graded_before(students: list[Any], exercises: list[tuple[str, str]]) -> list[int]:
    """The students' attempts at these exercises that a grading has answered (a regrade has
    evidence to start from)."""
    wanted = set(exercises)
    found = Attempt.objects.filter(
        user__in=students,
        lab__in={lab for lab, _ in exercises},
        exercise__in={exercise for _, exercise in exercises},
        last_run__isnull=False,
    ).values_list("pk", "lab", "exercise")
    return [pk for pk, lab, exercise in found if (lab, exercise) in wanted]


def _batches(attempt_ids: list[int], owners: dict[int, int]) -> list[list[int]]:
    """The attempts, LEARNERS_PER_TASK learners' worth per task (a learner never split)."""
    by_learner: dict[int, list[int]] = {}
    for attempt_id in attempt_ids:
        by_learner.setdefault(owners[attempt_id], []).append(attempt_id)
    learners = sorted(by_learner)
    return [
        [a for learner in learners[i : i + LEARNERS_PER_TASK] for a in by_learner[learner]]
        for i in range(0, len(learners), LEARNERS_PER_TASK)
    ]


def class_batch_grade(
    *, run_id: int, attempt_ids: list[int], tries: int, final_try: bool, from_evidence: bool = False
) -> list[int]:
    """One batch task's work: grade the attempts, and after each stored chunk tell the class's
    gradebooks (its cells, and the run's progress) in one message each. Returns the attempts
    that stayed inconclusive, for the task to retry (never for a regrade from evidence: the
    evidence will not change)."""
    run = ClassGradingRun.objects.filter(pk=run_id).select_related("requested_by").first()
    group = class_events_group(run.classroom_id) if run is not None else ""

    def stored(chunk: Stored) -> None:
        if run is None:
            return
        attempts = Attempt.objects.filter(pk__in=list(chunk.attempt_ids))
        cells: Event = {"type": "classes.cells", "cells": [cell_event(attempt=a) for a in attempts]}
        try:
            group_event_send_now(group=group, event=cells)
            group_event_send_now(group=group, event=_run_progress_event(run))
        except Exception:  # a gradebook missing an update resyncs at the run's end
            logger.warning("could not send class %s its grading progress", run.classroom_id)

    generations = (
        dict(
            ClassGradingRequest.objects.filter(
                run_id=run_id, attempt_id__in=attempt_ids
            ).values_list("attempt_id", "generation")
        )
        if from_evidence
        else None
    )
    outcomes = attempts_grade_batch(
        attempt_ids=attempt_ids,
        tries=tries,
        final_try=final_try or from_evidence,
        on_stored=stored,
        from_evidence=from_evidence,
        generations=generations,
    )
    if from_evidence:
        withdrawn = [pk for pk, outcome in outcomes.items() if outcome == "not-regradable"]
        if withdrawn and run is not None:
            stored(Stored(tuple(withdrawn), {}))  # their cells show their last grading again
        return []
    return [pk for pk, outcome in outcomes.items() if outcome == "inconclusive"]


def _run_progress_event(run: ClassGradingRun) -> Event:
    """The run's progress; the first time every request is answered, the run is finished."""
    progress = run_progress(run=run)
    if progress.done >= progress.requested and run.finished_at is None:
        now = timezone.now()
        # Conditional, so concurrent workers finishing the last two requests stamp it once.
        if ClassGradingRun.objects.filter(pk=run.pk, finished_at__isnull=True).update(
            finished_at=now
        ):
            run.finished_at = now
        else:
            run.refresh_from_db(fields=["finished_at"])
        progress = run_progress(run=run)
    return {"type": "classes.grading", "checking": [], "progress": progress.as_event()}


RELAYED = {"labs.result", "labs.checking", "labs.hints"}


def class_event_relay(user_id: int, event: Event) -> list[tuple[str, Event]]:
    """A learner's grading events, as gradebook updates for every class they are in that has
    the exercise's lab, plus the progress of those classes' running gradings; and their
    environment's state (ready, starting, put to sleep) for every class they are in."""
    if event.get("type") == "sandbox.status":
        update: Event = {
            "type": "classes.environment",
            "student": user_id,
            "status": str(event.get("status", "none")),
        }
        enrolled = Enrollment.objects.filter(student_id=user_id).values_list(
            "classroom_id", flat=True
        )
        return [(class_events_group(pk), update) for pk in enrolled]
    if event.get("type") not in RELAYED or "attempt" not in event:
        return []
    lab = str(event.get("exercise", "")).split("/", 1)[0]
    classes = [
        pk
        for pk, labs in Classroom.objects.filter(enrollments__student_id=user_id).values_list(
            "pk", "labs"
        )
        if lab in (labs or [])
    ]
    if not classes:
        return []
    attempt = Attempt.objects.filter(pk=event["attempt"]).first()
    if attempt is None:
        return []
    cell = cell_event(attempt=attempt)
    if event["type"] == "labs.checking":
        cell = {**cell, "status": "passed" if attempt.completed_at else "checking"}
        cell["latest"] = "checking"
    messages = [(class_events_group(pk), cell) for pk in classes]
    if event["type"] == "labs.result":
        running = ClassGradingRun.objects.filter(
            classroom_id__in=classes, finished_at__isnull=True
        ).select_related("requested_by")
        for run in running:
            messages.append((class_events_group(run.classroom_id), _run_progress_event(run)))
    return messages
