"""Writes: attempts, check requests from the button and the namespace watcher, hints, and the
grading itself (snapshot -> pure engine -> stored results -> live event after commit)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Literal

from django.db import transaction
from django.db.models import F
from django.utils import timezone

import k8s
from kubelab.env import env_str
from kubelab.events import user_event_send
from labs.checks import (
    ENVIRONMENT_STARTING,
    ENVIRONMENT_STARTING_DETAIL,
    ExerciseOutcome,
    Snapshot,
    exercise_evaluate,
    exercise_needs,
)
from labs.learners import learner_environment, learner_namespaces
from labs.library import DRAFT, lab_resolve
from labs.models import Attempt, AttemptStatus, CheckResult, GradingRun, Trigger
from labs.scoring import points_earned, points_kept
from labs.selectors import ExerciseNotFound, attempt_payload, exercise_get
from labs.signals import attempts_graded_send
from labs.snapshot import snapshot_cached, snapshot_evidence, snapshot_take
from labs.spec import Exercise
from labs.tasks import attempt_grade_task
from labs.translation import check_message

logger = logging.getLogger(__name__)

AUTO_CHECK_MINUTES = 120

GradeOutcome = Literal[
    "passed",
    "failed",
    "inconclusive",
    "up-to-date",
    "duplicate",
    "gone",
    "unknown-exercise",
    "not-regradable",
]


def grading_queue() -> str:
    """The Celery queue grading tasks go to: the default one unless KUBELAB_LABS_QUEUE names
    another (give grading its own workers; tests use it to pick a worker they can kill)."""
    return env_str("KUBELAB_LABS_QUEUE", "celery")


def attempt_get_or_create(
    *, user: Any, lab_slug: str, exercise_id: str, version: int = DRAFT
) -> Attempt:
    """The learner's attempt at an exercise (ExerciseNotFound otherwise), following ``version``
    of the lab from now on (labs.library.lab_version_for says which is the learner's)."""
    exercise_get(lab_slug=lab_slug, exercise_id=exercise_id, version=version)
    attempt, created = Attempt.objects.get_or_create(
        user=user, lab=lab_slug, exercise=exercise_id, defaults={"lab_version": version}
    )
    if not created and attempt.lab_version != version:
        Attempt.objects.filter(pk=attempt.pk).update(lab_version=version)
        attempt.lab_version = version
    return attempt


def attempt_check_request(*, attempt: Attempt, trigger: str, queued: bool = True) -> int:
    """Ask for a grading of the namespace as it is now; returns the generation to expect.

    The task is queued after commit and takes only the attempt id: if several requests pile up,
    the first task grades the newest generation and the rest find nothing left to do.
    ``queued=False`` leaves the grading to the caller (the watcher grades from its cache).
    """
    now = timezone.now()
    updates: dict[str, Any] = {
        "requested_generation": F("requested_generation") + 1,
        "status": AttemptStatus.CHECKING,
        "last_trigger": trigger,
        "requested_at": now,
        "updated_at": now,
    }
    if trigger == Trigger.BUTTON:
        updates["checks_requested"] = F("checks_requested") + 1
        updates["auto_check_until"] = now + timedelta(minutes=AUTO_CHECK_MINUTES)
    with transaction.atomic():
        Attempt.objects.filter(pk=attempt.pk).update(**updates)
        attempt.refresh_from_db(
            fields=["requested_generation", "status", "checks_requested", "auto_check_until"]
        )
        generation = attempt.requested_generation
        if trigger == Trigger.BUTTON:
            user_event_send(
                user_id=attempt.user_id,
                event={
                    "type": "labs.checking",
                    "attempt": attempt.pk,
                    "exercise": attempt.exercise_key,
                    "generation": generation,
                },
            )
        if queued:
            attempt_grade_queue(attempt.pk)
    return generation


def attempt_grade_queue(attempt_id: int) -> None:
    """Queue the grading task once the current transaction commits (at once outside one)."""
    transaction.on_commit(
        lambda: attempt_grade_task.apply_async((attempt_id,), queue=grading_queue())
    )


def lab_auto_check_enable(*, user: Any, lab_slug: str, version: int = DRAFT) -> list[Attempt]:
    """The learner opened a lab: keep its unfinished exercises graded on every namespace change
    for the next two hours, and grade them once now so the page shows the current state."""
    lab = lab_resolve(slug=lab_slug, version=version)
    until = timezone.now() + timedelta(minutes=AUTO_CHECK_MINUTES)
    attempts = []
    for exercise in lab.exercises:
        attempt = attempt_get_or_create(
            user=user, lab_slug=lab.slug, exercise_id=exercise.id, version=version
        )
        if exercise.auto_check and attempt.completed_at is None:
            Attempt.objects.filter(pk=attempt.pk).update(auto_check_until=until)
            attempt_check_request(attempt=attempt, trigger=Trigger.PAGE)
        attempts.append(attempt)
    return attempts


def attempt_hint_reveal(*, attempt: Attempt) -> int:
    """Reveal the next hint (one at a time); returns how many are revealed now."""
    _, exercise = exercise_get(
        lab_slug=attempt.lab, exercise_id=attempt.exercise, version=attempt.lab_version
    )
    with transaction.atomic():
        revealed = Attempt.objects.filter(
            pk=attempt.pk, hints_revealed__lt=len(exercise.hints)
        ).update(hints_revealed=F("hints_revealed") + 1)
        attempt.refresh_from_db(fields=["hints_revealed"])
        if revealed:
            # The learner's other tabs ignore it; their instructors' gradebooks show the count.
            user_event_send(
                user_id=attempt.user_id,
                event={
                    "type": "labs.hints",
                    "attempt": attempt.pk,
                    "exercise": attempt.exercise_key,
                    "hints_revealed": attempt.hints_revealed,
                },
            )
    return attempt.hints_revealed


def namespace_changed(
    *,
    namespace: str,
    user_id: int,
    kinds: frozenset[str] | None = None,
    cache: k8s.ObjectCache | None = None,
) -> int:
    """Something changed in a learner's namespace: grade their open, unfinished exercises, or
    with ``kinds`` (what the watcher saw change) only those whose checks read one of them.

    With the watcher's ``cache``, an exercise the cache can answer (no script check, every kind
    it reads cached) is graded here and now from it: no task, no queue, no LIST. The rest, and
    any grading that comes out inconclusive (it is retried), go to the grading workers."""
    attempts = Attempt.objects.filter(
        user_id=user_id, auto_check_until__gt=timezone.now(), completed_at__isnull=True
    )
    requested = 0
    for attempt in attempts:
        try:
            _, exercise = exercise_get(
                lab_slug=attempt.lab, exercise_id=attempt.exercise, version=attempt.lab_version
            )
        except ExerciseNotFound:
            continue
        if not exercise.auto_check or (kinds is not None and not _reads_changed(exercise, kinds)):
            continue
        requested += 1
        if cache is None or not cache_answers(cache, exercise):
            attempt_check_request(attempt=attempt, trigger=Trigger.WATCH)
            continue
        attempt_check_request(attempt=attempt, trigger=Trigger.WATCH, queued=False)
        if attempt_grade(attempt_id=attempt.pk, final_try=False, cache=cache) == "inconclusive":
            attempt_grade_queue(attempt.pk)
    return requested


def cache_answers(cache: k8s.ObjectCache, exercise: Exercise) -> bool:
    """Whether the watcher's cache holds everything the exercise reads (it may still be
    unsynced at grading time; then the grading reads the cluster itself)."""
    needs = exercise_needs(exercise)
    wanted = needs.kinds | ({"Node"} if needs.nodes else set())
    return not needs.scripts and wanted <= cache.kinds


def _reads_changed(exercise: Exercise, kinds: frozenset[str]) -> bool:
    """Whether a change to ``kinds`` can change the exercise's grading: its checks read one of
    them, or it has a script check (which may read anything), or it reads a kind no watch
    follows (then any change is the only cue there is)."""
    needs = exercise_needs(exercise)
    return bool(needs.scripts) or not needs.kinds <= _WATCHED or bool(needs.kinds & kinds)


_WATCHED = frozenset(k8s.kinds.WATCHED)


def learner_namespaces_get() -> dict[str, int]:
    return learner_namespaces()


@dataclass(frozen=True)
class Graded:
    """One grading, before it is stored: the generation it answers and what it found."""

    generation: int
    outcome: ExerciseOutcome
    snapshot: Snapshot
    duration_ms: int
    points: int = 0  # labs.scoring.points_earned
    lab_version: int = 0  # the lab version it graded against (labs.library)


def attempt_grade(
    *,
    attempt_id: int,
    tries: int = 1,
    final_try: bool = True,
    cache: k8s.ObjectCache | None = None,
) -> GradeOutcome:
    """Grade the attempt's newest requested generation, once (read from ``cache`` where it can
    answer, else from the cluster).

    Safe to run twice and concurrently: results are written under a row lock only if no run
    has already recorded this (or a newer) generation, and the unique (attempt, generation)
    constraint backs that up. Inconclusive results are stored (the learner sees "could not
    check, retrying") but do not mark the generation graded, so a retry grades it again.
    """
    attempt = Attempt.objects.select_related("user").filter(pk=attempt_id).first()
    if attempt is None:
        return "gone"
    generation = attempt.requested_generation
    if attempt.graded_generation >= generation:
        return "up-to-date"
    try:
        lab, exercise = exercise_get(
            lab_slug=attempt.lab, exercise_id=attempt.exercise, version=attempt.lab_version
        )
    except ExerciseNotFound:
        logger.warning("attempt %s names an exercise no longer in the catalog", attempt_id)
        return "unknown-exercise"

    started = time.monotonic()
    try:
        environment = learner_environment(user=attempt.user)
    except k8s.ClusterError as exc:
        snapshot = Snapshot(namespace="", unavailable=f"your environment is unavailable: {exc}")
    else:
        if environment is None:
            snapshot = Snapshot(
                namespace="",
                unavailable=ENVIRONMENT_STARTING_DETAIL,
                unavailable_reason=ENVIRONMENT_STARTING,
            )
        else:
            namespace = environment.namespace
            cached = (
                None
                if cache is None
                else snapshot_cached(cache=cache, exercise=exercise, namespace=namespace)
            )
            snapshot = cached or snapshot_take(
                lab=lab,
                exercise=exercise,
                namespace=environment.namespace,
                kubeconfig=environment.kubeconfig,
            )
            if snapshot.unavailable and environment.settling:
                snapshot = still_starting(snapshot)
    outcome = exercise_evaluate(exercise, snapshot)
    duration_ms = int((time.monotonic() - started) * 1000)
    graded = Graded(
        generation,
        outcome,
        snapshot,
        duration_ms,
        points_earned(exercise, outcome),
        attempt.lab_version,
    )
    return _grading_store(attempt_id, graded, tries=tries, final_try=final_try)


def still_starting(snapshot: Snapshot) -> Snapshot:
    """A brand-new environment the cluster did not answer for: the learner reads "starting"
    (and it is graded again), not the amber "could not check"."""
    logger.info("grading %s while it settles: %s", snapshot.namespace, snapshot.unavailable)
    return replace(
        snapshot,
        unavailable=ENVIRONMENT_STARTING_DETAIL,
        unavailable_reason=ENVIRONMENT_STARTING,
    )


RUNS_KEPT = 20


def runs_prune(attempt: Attempt) -> None:
    """Keep the newest runs and the first pass; a namespace watched for hours would otherwise
    pile up one run (with its evidence) per change."""
    runs = GradingRun.objects.filter(attempt=attempt)
    keep = list(runs.order_by("-generation").values_list("pk", flat=True)[:RUNS_KEPT])
    first_pass = runs.filter(status="passed").order_by("generation").values_list("pk", flat=True)
    keep += list(first_pass[:1])
    runs.exclude(pk__in=keep).exclude(kept=True).delete()


def _grading_store(attempt_id: int, graded: Graded, *, tries: int, final_try: bool) -> GradeOutcome:
    outcome = graded.outcome
    conclusive = outcome.status != "inconclusive"
    with transaction.atomic():
        attempt = Attempt.objects.select_for_update().get(pk=attempt_id)
        if attempt.graded_generation >= graded.generation:
            return "duplicate"
        run, created = GradingRun.objects.get_or_create(
            attempt=attempt,
            generation=graded.generation,
            defaults={
                "trigger": attempt.last_trigger or Trigger.BUTTON,
                "status": outcome.status,
                "tries": tries,
                "namespace": graded.snapshot.namespace,
                "evidence": snapshot_evidence(graded.snapshot),
                "requested_at": attempt.requested_at,
                "duration_ms": graded.duration_ms,
                "points": graded.points,
                "lab_version": graded.lab_version,
            },
        )
        if not created:
            # A retry of an inconclusive grading of the same generation: replace its results.
            run.status = outcome.status
            run.tries = max(run.tries, tries)
            run.namespace = graded.snapshot.namespace
            run.evidence = snapshot_evidence(graded.snapshot)
            run.duration_ms = graded.duration_ms
            run.points = graded.points
            run.lab_version = graded.lab_version
            run.save(
                update_fields=[
                    "lab_version",
                    "status",
                    "tries",
                    "namespace",
                    "evidence",
                    "duration_ms",
                    "points",
                    "finished_at",
                ]
            )
            run.results.all().delete()
        results = CheckResult.objects.bulk_create(
            CheckResult(
                run=run,
                check_id=check.check_id,
                position=position,
                status=check.status,
                message=check_message(check),
                detail=check.detail[:4000],
                evidence=list(check.evidence),
            )
            for position, check in enumerate(outcome.checks)
        )
        if created and graded.generation % 10 == 0:
            runs_prune(attempt)
        fields = ["last_run", "status", "updated_at"]
        attempt.last_run = run
        attempt.status = outcome.status
        if conclusive:
            attempt.graded_generation = graded.generation
            attempt.best_points = points_kept(attempt.best_points, graded.points)
            fields += ["graded_generation", "best_points"]
            attempts_graded_send([attempt.pk])
        if outcome.status == "passed" and attempt.completed_at is None:
            attempt.completed_at = timezone.now()
            fields.append("completed_at")
        attempt.save(update_fields=fields)
        user_event_send(
            user_id=attempt.user_id,
            event=attempt_payload(
                attempt=attempt, run=run, results=results, retrying=not conclusive and not final_try
            ),
        )
    return outcome.status
