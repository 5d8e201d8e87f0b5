"""Reads: the one access check ``classroom_get_for_instructor``, class lists, the gradebook (a
fixed number of queries however large the class) and a grading run's progress."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, F, Q
from django.utils import timezone

from accounts.roles import Role, user_has_role
from classes.gradebook import (
    AtDeadline,
    Cell,
    Deadlines,
    ExerciseColumn,
    Gradebook,
    GradingProgress,
    LabColumn,
    StudentRow,
)
from classes.labs import class_lab
from classes.models import (
    ClassGradingRequest,
    ClassGradingRun,
    Classroom,
    Deadline,
    DeadlineGrade,
    Enrollment,
    Extension,
)
from labs.learners import learner_states
from labs.models import Attempt, AttemptStatus, Trigger
from labs.selectors import text_for
from labs.tasks import MAX_RETRIES


class ClassroomNotFound(LookupError):
    """No such class, or not one this user teaches: callers answer 404 either way, so a class's
    existence never leaks to someone who may not see it."""


def user_is_instructor(*, user: Any) -> bool:
    return user_has_role(user=user, role=Role.INSTRUCTOR)


def classroom_get_for_instructor(*, user: Any, classroom_id: int) -> Classroom:
    """The class, if `user` holds the instructor role (superusers do) and teaches it.

    Every view, export, command and socket of a class reaches it through here.
    """
    if not user_is_instructor(user=user):
        raise ClassroomNotFound(classroom_id)
    found = Classroom.objects.filter(pk=classroom_id, instructors=user).first()
    if found is None:
        raise ClassroomNotFound(classroom_id)
    return found


def classrooms_taught(*, user: Any) -> list[Classroom]:
    if not user_is_instructor(user=user):
        return []
    return list(Classroom.objects.filter(instructors=user).annotate(students=Count("enrollments")))


def classrooms_joined(*, user: Any) -> list[Classroom]:
    if not getattr(user, "is_authenticated", False):
        return []
    return list(Classroom.objects.filter(enrollments__student=user).select_related("owner"))


def classroom_by_code(*, code: str) -> Classroom | None:
    """The class a normalised join code names (open or closed), or None."""
    return Classroom.objects.filter(join_code=code).first()


def _columns(
    classroom: Classroom, language: str
) -> tuple[list[LabColumn], list[ExerciseColumn], list[str]]:
    lab_columns, exercises, missing = [], [], []
    for slug in classroom.labs or []:
        lab = class_lab(classroom, slug)
        if lab is None:
            missing.append(slug)
            continue
        keys = []
        for exercise in lab.exercises:
            key = f"{slug}/{exercise.id}"
            keys.append(key)
            exercises.append(
                ExerciseColumn(
                    key, slug, exercise.id, text_for(exercise.title, language), exercise.points
                )
            )
        lab_columns.append(LabColumn(slug, text_for(lab.title, language), tuple(keys)))
    return lab_columns, exercises, missing


def _done_filter() -> Q:
    """A request is answered once its generation (or a newer one) is graded conclusively, or a
    grading of it stayed inconclusive through the last retry (infrastructure trouble, shown as
    "could not check", never counted against the learner)."""
    graded = Q(attempt__graded_generation__gte=F("generation"))
    gave_up = Q(
        attempt__status=AttemptStatus.INCONCLUSIVE,
        attempt__last_run__generation__gte=F("generation"),
        attempt__last_run__tries__gt=MAX_RETRIES,
    )
    return graded | gave_up


def deadlines_get(*, classroom: Classroom) -> Deadlines:
    """The class's deadlines and extensions, in two queries whatever the class size."""
    due = dict(Deadline.objects.filter(classroom=classroom).values_list("lab", "due_at"))
    extended = {
        (student_id, lab): due_at
        for student_id, lab, due_at in Extension.objects.filter(classroom=classroom).values_list(
            "student_id", "lab", "due_at"
        )
    }
    return Deadlines(due, extended, now=timezone.now())


def deadline_rows(*, classroom: Classroom, language: str) -> list[tuple[str, str, Any]]:
    """(lab slug, title, due or None) for each lab of the class, for its settings page."""
    due = deadlines_get(classroom=classroom).due
    rows = []
    for slug in classroom.labs or []:
        lab = class_lab(classroom, slug)
        title = text_for(lab.title, language) if lab is not None else slug
        rows.append((slug, title, due.get(slug)))
    return rows


def run_progress(*, run: ClassGradingRun) -> GradingProgress:
    """How far a run is (one query), as the page and the live event show it."""
    done = ClassGradingRequest.objects.filter(run=run).filter(_done_filter()).count()
    by = run.requested_by.get_username() if run.requested_by else ""
    return GradingProgress(
        run_id=run.pk,
        started_at=run.started_at,
        finished_at=run.finished_at,
        requested=run.requested,
        done=done,
        skipped=tuple(int(i) for i in run.skipped),
        requested_by=by,
    )


def run_latest(*, classroom_id: int) -> ClassGradingRun | None:
    return (
        ClassGradingRun.objects.filter(classroom_id=classroom_id)
        .select_related("requested_by")
        .order_by("-started_at", "-pk")
        .first()
    )


def _last_activity(state_at: Any, attempts: list[Attempt]) -> Any:
    # The learner's own requests count (button, watcher, page), an instructor's grading does not.
    times = [
        a.requested_at for a in attempts if a.requested_at and a.last_trigger != Trigger.INSTRUCTOR
    ]
    if state_at:
        times.append(state_at)
    return max(times, default=None)


def _at_deadline(classroom: Classroom, deadlines: Deadlines) -> dict[tuple[int, str], AtDeadline]:
    """(student, "lab/exercise") -> the grading taken at the student's current deadline."""
    found = {}
    for student_id, lab, exercise, due_at, status, points in DeadlineGrade.objects.filter(
        classroom=classroom, settled_at__isnull=False
    ).values_list("student_id", "lab", "exercise", "due_at", "status", "points"):
        if due_at == deadlines.due_for(student_id, lab):
            found[(student_id, f"{lab}/{exercise}")] = AtDeadline(due_at, status, points)
    return found


def gradebook_get(*, classroom: Classroom, language: str = "en") -> Gradebook:
    """Every enrolled student by every exercise of the class's labs, in eight queries whatever
    the class size: enrolments, attempts, environments, the latest run, its progress, the
    deadlines, the extensions and the grades taken at the deadlines."""
    lab_columns, exercises, missing = _columns(classroom, language)
    enrolments = list(
        Enrollment.objects.filter(classroom=classroom)
        .select_related("student")
        .order_by("student__username")
    )
    student_ids = [e.student_id for e in enrolments]
    attempts = Attempt.objects.filter(
        user_id__in=Enrollment.objects.filter(classroom=classroom).values("student_id"),
        lab__in=[lab.slug for lab in lab_columns],
    ).only(
        "user_id", "lab", "exercise", "status", "completed_at", "hints_revealed",
        "requested_at", "last_trigger", "best_points",
    )  # fmt: skip
    by_student: dict[int, list[Attempt]] = {}
    for attempt in attempts:
        by_student.setdefault(attempt.user_id, []).append(attempt)
    states = learner_states(user_ids=student_ids)
    deadlines = deadlines_get(classroom=classroom)
    marks = _at_deadline(classroom, deadlines) if deadlines.due else {}
    students = []
    for enrolment in enrolments:
        user = enrolment.student
        mine = by_student.get(user.pk, [])
        state = states[user.pk]
        students.append(
            StudentRow(
                id=user.pk,
                username=user.get_username(),
                name=user.get_full_name(),
                email=user.email,
                environment=state.status,
                last_activity=_last_activity(state.last_active_at, mine),
                cells={
                    a.exercise_key: Cell(
                        a.status,
                        a.completed_at,
                        a.hints_revealed,
                        a.best_points,
                        marks.get((user.pk, a.exercise_key)),
                    )
                    for a in mine
                },
            )
        )
    run = run_latest(classroom_id=classroom.pk)
    return Gradebook(
        classroom_id=classroom.pk,
        name=classroom.name,
        labs=lab_columns,
        exercises=exercises,
        students=students,
        missing_labs=missing,
        progress=run_progress(run=run) if run is not None else None,
        deadlines=deadlines,
    )


def cell_event(*, attempt: Attempt) -> dict[str, Any]:
    """The live update of one gradebook cell."""
    cell = Cell(attempt.status, attempt.completed_at, attempt.hints_revealed, attempt.best_points)
    return {
        "type": "classes.cell",
        "student": attempt.user_id,
        "exercise": attempt.exercise_key,
        "status": cell.shown,
        "latest": cell.status,
        "completed_at": cell.completed_at.isoformat() if cell.completed_at else None,
        "hints_revealed": cell.hints_revealed,
        "best_points": cell.best_points,
    }
