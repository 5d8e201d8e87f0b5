"""Reads: the catalog, a learner's attempts, the one access check ``attempt_get_for_user``, and
the shapes pages, JSON answers and live events show."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied

from kubelab.env import env_str
from labs.checks import ENVIRONMENT_STARTING_DETAIL
from labs.models import Attempt, AttemptStatus, CheckResult, GradingRun
from labs.spec import CATALOG_DIR, Catalog, Exercise, Lab, catalog_load

User = AbstractBaseUser | AnonymousUser


def catalog_dir() -> Path:
    # Read at call time so a test worker can grade a test catalog (KUBELAB_LABS_CATALOG).
    return Path(env_str("KUBELAB_LABS_CATALOG", str(CATALOG_DIR)))


@lru_cache(maxsize=4)
def _catalog(directory: str) -> Catalog:
    return catalog_load(Path(directory))


def catalog_get() -> Catalog:
    """The validated catalog, loaded once per process (SpecError if a lab is broken)."""
    return _catalog(str(catalog_dir()))


class ExerciseNotFound(LookupError):
    pass


def exercise_get(*, lab_slug: str, exercise_id: str) -> tuple[Lab, Exercise]:
    try:
        lab = catalog_get().lab(lab_slug)
        return lab, lab.exercise(exercise_id)
    except KeyError:
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


@dataclass
class LabChecklist:
    slug: str
    title: str
    exercises: list[ExerciseRow]

    @property
    def completed(self) -> int:
        return sum(1 for e in self.exercises if e.completed)


def _render_markdown(text: str, language: str) -> str:
    from tutorials.rendering import markdown_render

    return markdown_render(text, language=language).html


def lab_checklists(*, user: User, exercise_ids: Iterable[str], language: str) -> list[LabChecklist]:
    """Checklists for the labs these exercise ids belong to (every exercise of each lab)."""
    catalog = catalog_get()
    slugs: list[str] = []
    for exercise_id in exercise_ids:
        slug = str(exercise_id).split("/", 1)[0]
        if slug in catalog.labs and slug not in slugs:
            slugs.append(slug)
    attempts = attempts_for_labs(user=user, lab_slugs=slugs)
    checklists = []
    for slug in slugs:
        lab = catalog.lab(slug)
        rows = []
        for exercise in lab.exercises:
            attempt = attempts.get(f"{slug}/{exercise.id}")
            rows.append(_exercise_row(lab, exercise, attempt, language))
        checklists.append(LabChecklist(slug, text_for(lab.title, language), rows))
    return checklists


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
    )
