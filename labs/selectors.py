"""Reads: the catalog, a learner's attempts, the one access check ``attempt_get_for_user``, and
the shapes pages, JSON answers and live events show."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied

from labs.checks import ENVIRONMENT_STARTING_DETAIL
from labs.library import (
    DRAFT,
    LabNotFound,
    catalog_dir,
    catalog_get,
    is_catalog_lab,
    lab_resolve,
    lab_version_for,
)
from labs.models import Attempt, AttemptStatus, CheckResult, GradingRun
from labs.spec import Exercise, Lab

__all__ = ["catalog_dir", "catalog_get"]  # re-exported: callers read the catalog from here

User = AbstractBaseUser | AnonymousUser


class ExerciseNotFound(LookupError):
    pass


def exercise_get(*, lab_slug: str, exercise_id: str, version: int = DRAFT) -> tuple[Lab, Exercise]:
    """An exercise of the catalog or of an authored lab's draft (0) or version (labs.library)."""
    try:
        lab = lab_resolve(slug=lab_slug, version=version)
        return lab, lab.exercise(exercise_id)
    except (KeyError, LabNotFound):
        raise ExerciseNotFound(f"{lab_slug}/{exercise_id}") from None


def attempt_get_for_user(*, user: User, attempt_id: int) -> Attempt:
    """The only way views, consumers and APIs reach an attempt: its learner, or staff, may.

    Raises ``Attempt.DoesNotExist`` for a missing attempt and ``PermissionDenied`` for someone
    else's, so views answer 404 and 403 without deciding anything themselves.
    """
    if not getattr(user, "is_authenticated", False):
        raise PermissionDenied("log in to see your attempts")
    attempt = Attempt.objects.select_related("last_run").get(pk=attempt_id)
    if attempt.user_id != user.pk and not getattr(user, "is_staff", False):
        raise PermissionDenied("this attempt belongs to another learner")
    return attempt


def attempts_for_labs(*, user: User, lab_slugs: Iterable[str]) -> dict[str, Attempt]:
    """The learner's attempts in these labs, keyed ``lab/exercise``."""
    if not getattr(user, "is_authenticated", False):
        return {}
    attempts = Attempt.objects.filter(
        user_id=int(user.pk or 0), lab__in=list(lab_slugs)
    ).select_related("last_run")
    return {a.exercise_key: a for a in attempts}


def text_for(text: dict[str, str] | None, language: str) -> str:
    if not text:
        return ""
    return text.get(language) or text.get("en") or next(iter(text.values()), "")


def solution_visible(*, lab: Lab, exercise: Exercise, attempt: Attempt | None) -> bool:
    policy = lab.policy_for(exercise)
    if policy.show == "always":
        return True
    if policy.show == "never" or attempt is None:
        return False
    if policy.show == "after-pass":
        return attempt.completed_at is not None
    return attempt.completed_at is not None or attempt.checks_requested >= policy.checks


class ResultLike(Protocol):
    """What an attempt's state reads of a check's result: a stored CheckResult, or the row a
    class grading has just copied in without making a model of it (labs.batch)."""

    @property
    def check_id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def message(self) -> dict[str, str]: ...
    @property
    def detail(self) -> str: ...


def environment_starting(*, status: str, results: Sequence[ResultLike]) -> bool:
    """Whether the newest grading only found that the learner's environment is not there yet
    (a new guest's first seconds): "starting", not "could not check"."""
    return (
        status == "inconclusive"
        and bool(results)
        and all(r.detail == ENVIRONMENT_STARTING_DETAIL for r in results)
    )


def _said_once(rows: list[CheckRow]) -> list[CheckRow]:
    """Each failing sentence once: with no Pod kuard, its checks all say "there is no Pod
    kuard" (the engine gives them the first one's words)."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for row in rows:
        key = (row.status, row.message)
        if row.status == "pass" or not row.message or key not in seen:
            kept.append(row)
            seen.add(key)
    return kept


def run_results(run: GradingRun | None) -> list[CheckResult]:
    return list(run.results.all()) if run is not None else []


def attempt_payload(
    *,
    attempt: Attempt,
    run: GradingRun | None,
    results: Sequence[ResultLike] | None = None,
    retrying: bool = False,
) -> dict[str, Any]:
    """The JSON shape of an attempt's state: the live event, and GET /labs/attempts/<id>/."""
    results = list(results) if results is not None else run_results(run)
    return {
        "type": "labs.result",
        "attempt": attempt.pk,
        "exercise": attempt.exercise_key,
        "lab": attempt.lab,
        "lab_version": run.lab_version if run is not None else attempt.lab_version,
        "status": attempt.status,
        "completed": attempt.completed_at is not None,
        "generation": run.generation if run is not None else 0,
        "trigger": run.trigger if run is not None else "",
        "retrying": retrying,
        "hints_revealed": attempt.hints_revealed,
        "starting": environment_starting(status=attempt.status, results=results),
        "checks": [
            {"id": r.check_id, "status": r.status, "message": r.message, "detail": r.detail}
            for r in results
        ],
    }


@dataclass
class CheckRow:
    id: str
    status: str
    message: str
    detail: str


@dataclass
class ExerciseRow:
    key: str
    lab: str
    id: str
    title: str
    instructions_html: str
    status: str
    completed: bool
    attempt_id: int | None
    hints: list[str]
    hints_total: int
    checks: list[CheckRow]
    solution_visible: bool
    solution_policy: str
    solution_checks: int
    solution_files: list[tuple[str, str]] = field(default_factory=list)
    solution_commands: list[str] = field(default_factory=list)
    checks_requested: int = 0
    starting: bool = False
    # For an authored lab: the version the newest grading graded against (None: catalog, or
    # never graded), so a learner sees that an earlier result was for an earlier version; and
    # the version they work on now.
    graded_version: int | None = None
    version: int | None = None
    # An imported scenario's exercise: the learner may run its setup (labs.learner_setup).
    setup_available: bool = False
    # Text to read that follows this exercise in the lab (labs.spec.Reading).
    readings_after: list[ReadingRow] = field(default_factory=list)


@dataclass
class ReadingRow:
    id: str
    title: str
    html: str
    why: str = ""


@dataclass
class LabChecklist:
    slug: str
    title: str
    exercises: list[ExerciseRow]
    # An authored lab's version (0: the author's draft); None for the catalog's labs.
    version: int | None = None
    # The lab's readings before its first exercise.
    readings_before: list[ReadingRow] = field(default_factory=list)

    @property
    def completed(self) -> int:
        return sum(1 for e in self.exercises if e.completed)


def _render_markdown(text: str, language: str) -> str:
    from tutorials.rendering import markdown_render

    return markdown_render(text, language=language).html


def lab_checklists(
    *,
    user: User,
    exercise_ids: Iterable[str],
    language: str,
    authored: Iterable[tuple[str, int]] = (),
) -> list[LabChecklist]:
    """Checklists for the labs these exercise ids belong to (every exercise of each lab), and
    for ``authored`` labs at the version given, (slug, version), after them. A lab of an id that
    this user may not see (labs.library.lab_version_for) is left out."""
    wanted: list[tuple[str, int]] = []
    for exercise_id in exercise_ids:
        slug = str(exercise_id).split("/", 1)[0]
        if any(slug == known for known, _ in wanted):
            continue
        version = lab_version_for(user=user, slug=slug)
        if version is not None:
            wanted.append((slug, version))
    wanted += [(slug, v) for slug, v in authored if all(slug != known for known, _ in wanted)]
    attempts = attempts_for_labs(user=user, lab_slugs=[slug for slug, _ in wanted])
    checklists = []
    for slug, version in wanted:
        try:
            lab = lab_resolve(slug=slug, version=version)
        except LabNotFound:
            continue
        rows = []
        written = not is_catalog_lab(slug)
        for exercise in lab.exercises:
            attempt = attempts.get(f"{slug}/{exercise.id}")
            row = _exercise_row(lab, exercise, attempt, language)
            row.version = version if written else None
            row.readings_after = _reading_rows(lab, exercise.id, language)
            rows.append(row)
        checklists.append(
            LabChecklist(
                slug,
                text_for(lab.title, language),
                rows,
                version=version if written else None,
                readings_before=_reading_rows(lab, None, language),
            )
        )
    return checklists


def _reading_rows(lab: Lab, after: str | None, language: str) -> list[ReadingRow]:
    return [
        ReadingRow(
            reading.id,
            text_for(reading.title, language),
            _render_markdown(text_for(reading.text, language), language),
            text_for(reading.why, language) if reading.why else "",
        )
        for reading in lab.readings_after(after)
    ]


def exercise_preview(*, lab: Lab, exercise: Exercise, language: str) -> ExerciseRow:
    """The exercise as a learner meets it (before a first Check), with every hint shown and the
    solution open: what the studio's preview shows an author."""
    row = _exercise_row(lab, exercise, None, language)
    row.hints = [_render_markdown(text_for(h, language), language) for h in exercise.hints]
    row.solution_visible = True
    row.solution_files = [(n, lab.files.get(n, "")) for n in exercise.solution.files]
    row.solution_commands = list(exercise.solution.commands)
    return row


def _exercise_row(
    lab: Lab, exercise: Exercise, attempt: Attempt | None, language: str
) -> ExerciseRow:
    results = run_results(attempt.last_run) if attempt is not None else []
    status = attempt.status if attempt is not None else AttemptStatus.NOT_CHECKED
    visible = solution_visible(lab=lab, exercise=exercise, attempt=attempt)
    policy = lab.policy_for(exercise)
    revealed = min(attempt.hints_revealed if attempt else 0, len(exercise.hints))
    return ExerciseRow(
        key=f"{lab.slug}/{exercise.id}",
        lab=lab.slug,
        id=exercise.id,
        title=text_for(exercise.title, language),
        instructions_html=_render_markdown(text_for(exercise.instructions, language), language),
        status=str(status),
        starting=environment_starting(status=str(status), results=results),
        completed=bool(attempt and attempt.completed_at),
        attempt_id=attempt.pk if attempt else None,
        hints=[
            _render_markdown(text_for(h, language), language) for h in exercise.hints[:revealed]
        ],
        hints_total=len(exercise.hints),
        checks=_said_once(
            [
                CheckRow(r.check_id, r.status, text_for(r.message, language), r.detail)
                for r in results
            ]
        ),
        solution_visible=visible,
        solution_policy=policy.show,
        solution_checks=policy.checks,
        solution_files=[(n, lab.files.get(n, "")) for n in exercise.solution.files]
        if visible
        else [],
        solution_commands=list(exercise.solution.commands) if visible else [],
        checks_requested=attempt.checks_requested if attempt else 0,
        setup_available=lab.learner_setup(exercise) is not None,
        graded_version=(
            attempt.last_run.lab_version
            if attempt is not None and attempt.last_run is not None and not is_catalog_lab(lab.slug)
            else None
        ),
    )
