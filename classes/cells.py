"""One gradebook cell, opened: what the newest grading of a student's exercise found, check by
check, and the objects it read (the evidence stored with its run), so an instructor can answer
"why did this fail" without the student's namespace. Reached only through a class the caller
teaches (the view gets it from ``classroom_get_for_instructor``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import yaml

from classes.gradebook import Cell
from classes.labs import class_lab_version
from classes.models import Classroom, Enrollment
from labs.models import Attempt, CheckResult
from labs.selectors import ExerciseNotFound, exercise_get, text_for

YAML_SHOWN = 20_000  # characters of one object's YAML; the rest is cut, and says so


class CellNotFound(LookupError):
    """Not a student of this class, or not an exercise of its labs: the view answers 404."""


@dataclass(frozen=True)
class CheckShown:
    id: str
    status: str  # pass / fail / inconclusive
    message: str
    detail: str


@dataclass(frozen=True)
class ObjectShown:
    kind: str
    name: str
    yaml: str


@dataclass(frozen=True)
class ScriptShown:
    check_id: str
    exit_code: int | None
    output: str
    error: str


@dataclass(frozen=True)
class CellShown:
    username: str
    name: str
    lab: str
    exercise: str
    title: str
    shown: str  # what the gradebook cell shows (passed once ever passed)
    latest: str  # the newest grading's own status
    completed_at: datetime | None
    graded_at: datetime | None
    trigger: str
    namespace: str
    checks: tuple[CheckShown, ...]
    objects: tuple[ObjectShown, ...]
    scripts: tuple[ScriptShown, ...]
    unavailable: str


def _yaml(obj: Any) -> str:
    text = yaml.safe_dump(obj, sort_keys=False, allow_unicode=True, default_flow_style=False)
    return text if len(text) <= YAML_SHOWN else text[:YAML_SHOWN] + "\n# … (cut)\n"


def cell_shown(
    *, classroom: Classroom, student_id: int, lab: str, exercise: str, language: str
) -> CellShown:
    """The cell of `student_id` and `lab/exercise` in `classroom`, or CellNotFound."""
    enrolment = (
        Enrollment.objects.filter(classroom=classroom, student_id=student_id)
        .select_related("student")
        .first()
    )
    if enrolment is None or lab not in (classroom.labs or []):
        raise CellNotFound(student_id)
    attempt = (
        Attempt.objects.filter(user_id=student_id, lab=lab, exercise=exercise)
        .select_related("last_run")
        .first()
    )
    # The checks as the newest grading read them: a written lab's version may have moved since.
    version = (
        attempt.last_run.lab_version
        if attempt is not None and attempt.last_run is not None
        else class_lab_version(classroom, lab)
    )
    try:
        found_lab, found = exercise_get(lab_slug=lab, exercise_id=exercise, version=version)
    except ExerciseNotFound:
        raise CellNotFound(exercise) from None
    student = enrolment.student
    run = attempt.last_run if attempt is not None else None
    cell = Cell(
        attempt.status if attempt else "not_checked",
        attempt.completed_at if attempt else None,
        attempt.hints_revealed if attempt else 0,
    )
    checks: tuple[CheckShown, ...] = ()
    objects: tuple[ObjectShown, ...] = ()
    scripts: tuple[ScriptShown, ...] = ()
    evidence: dict[str, Any] = {}
    if run is not None:
        checks = tuple(
            CheckShown(r.check_id, r.status, text_for(r.message, language), r.detail)
            for r in CheckResult.objects.filter(run=run).order_by("position")
        )
        evidence = run.evidence or {}
        objects = tuple(
            ObjectShown(kind, str((o.get("metadata") or {}).get("name", "")), _yaml(o))
            for kind, items in sorted((evidence.get("objects") or {}).items())
            for o in items
        )
        scripts = tuple(
            ScriptShown(check_id, s.get("exit_code"), str(s.get("output") or ""),
                        str(s.get("error") or ""))
            for check_id, s in (evidence.get("scripts") or {}).items()
        )  # fmt: skip
    return CellShown(
        username=student.get_username(),
        name=student.get_full_name(),
        lab=found_lab.slug,
        exercise=found.id,
        title=text_for(found.title, language),
        shown=cell.shown,
        latest=cell.status,
        completed_at=cell.completed_at,
        graded_at=run.finished_at if run is not None else None,
        trigger=run.trigger if run is not None else "",
        namespace=run.namespace if run is not None else "",
        checks=checks,
        objects=objects,
        scripts=scripts,
        unavailable=str(evidence.get("unavailable") or ""),
    )
