"""Grading many attempts in one pass (a whole class): each kind the exercises read is listed once
for every namespace, every (learner, exercise) is evaluated in memory by the pure engine, and the
results are stored a chunk of attempts per transaction, one event per learner per chunk.

The Check button and the namespace watcher keep ``labs.services.attempt_grade`` (one learner,
one namespace read): at class scale its cost is per grading (a task, a LIST per kind, a
transaction, an event), which is what this path pays once. Both write the same rows and the
pages cannot tell which path graded a cell; tests hold them to identical results.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

import k8s
from kubelab.events import user_events_send
from labs.checks import (
    ENVIRONMENT_STARTING,
    ENVIRONMENT_STARTING_DETAIL,
    CheckOutcome,
    Snapshot,
    exercise_evaluate,
    exercise_needs,
)
from labs.evidence import evidence_missing, snapshot_from_evidence
from labs.learners import LearnerEnvironment, learner_environments
from labs.models import Attempt, AttemptStatus, CheckResult, GradingRun, Trigger
from labs.rows import rows_copy, rows_insert, rows_with_ids
from labs.scoring import points_earned, points_kept
from labs.selectors import ExerciseNotFound, attempt_payload, exercise_get
from labs.services import Graded, GradeOutcome, runs_prune, still_starting
from labs.signals import attempts_graded_send
from labs.snapshot import read_failure, snapshot_evidence, snapshot_scripts_run
from labs.spec import Exercise, Lab
from labs.translation import check_message

logger = logging.getLogger(__name__)

CHUNK = 500  # attempts stored per transaction: row locks held briefly, few round trips
SCRIPT_WORKERS = 4  # script checks at once, each in its own jail (they wait on kubectl)
FEW_NAMESPACES = 5  # up to this many, each namespace is listed on its own


@dataclass(frozen=True)
class _Item:
    attempt: Attempt
    generation: int
    lab: Lab
    exercise: Exercise
    environment: LearnerEnvironment | None


@dataclass(frozen=True)
class Stored:
    """One chunk written: which attempts, and how each came out (for a class's progress)."""

    attempt_ids: tuple[int, ...]
    outcomes: dict[int, GradeOutcome]


def _items(
    attempts: Sequence[Attempt],
    outcomes: dict[int, GradeOutcome],
    *,
    from_evidence: bool,
    generations: dict[int, int] | None,
) -> list[_Item]:
    environments = (
        {}
        if from_evidence
        else learner_environments(users={a.user_id: a.user for a in attempts}.values())
    )
    items = []
    for attempt in attempts:
        if attempt.graded_generation >= attempt.requested_generation:
            outcomes[attempt.pk] = "up-to-date"
            continue
        if generations is not None and attempt.requested_generation != generations.get(attempt.pk):
            # A newer request (the learner's own change) came in: that one is graded live.
            outcomes[attempt.pk] = "up-to-date"
            continue
        try:
            lab, exercise = exercise_get(
                lab_slug=attempt.lab, exercise_id=attempt.exercise, version=attempt.lab_version
            )
        except ExerciseNotFound:
            logger.warning("attempt %s names an exercise no longer in the catalog", attempt.pk)
            outcomes[attempt.pk] = "unknown-exercise"
            continue
        if from_evidence:
            run = attempt.last_run
            if run is None or evidence_missing(exercise, run.evidence):
                outcomes[attempt.pk] = "not-regradable"
                continue
        items.append(
            _Item(attempt, attempt.requested_generation, lab, exercise,
                  environments.get(attempt.user_id))
        )  # fmt: skip
    return items


def _cluster_read(
    items: Iterable[_Item],
) -> tuple[dict[str, dict[str, list[dict[str, Any]]]], list[dict[str, Any]] | None, str | None]:
    """Every object of every kind the items need, by namespace, and the nodes if any need
    them: one paginated LIST per kind for all of them."""
    items = list(items)
    kinds: set[str] = set()
    nodes_needed = False
    for item in items:
        if item.environment is not None:
            needs = exercise_needs(item.exercise)
            kinds |= needs.kinds
            nodes_needed = nodes_needed or needs.nodes
    namespaces = {i.environment.namespace for i in items if i.environment is not None}
    try:
        if not kinds:
            grouped: dict[str, dict[str, list[dict[str, Any]]]] = {}
        elif len(namespaces) <= FEW_NAMESPACES:
            # A handful of learners: their own namespaces are cheaper than every namespace.
            grouped = {ns: k8s.objects_list(namespace=ns, kinds=kinds) for ns in namespaces}
        else:
            grouped = k8s.objects_list_by_namespace(kinds=kinds)
        nodes = k8s.nodes_list() if nodes_needed else None
    except k8s.ClusterError as exc:
        return {}, None, read_failure(exc, where="every learner namespace")
    return grouped, nodes, None


def _snapshot(
    item: _Item,
    grouped: dict[str, dict[str, list[dict[str, Any]]]],
    nodes: list[dict[str, Any]] | None,
    unavailable: str | None,
) -> Snapshot:
    """Exactly what labs.snapshot.snapshot_take would have read for this item alone."""
    environment = item.environment
    if environment is None:
        return Snapshot(
            namespace="",
            unavailable=ENVIRONMENT_STARTING_DETAIL,
            unavailable_reason=ENVIRONMENT_STARTING,
        )
    needs = exercise_needs(item.exercise)
    if unavailable is not None:
        objects: dict[str, list[dict[str, Any]]] = {}
        seen = None
    else:
        found = grouped.get(environment.namespace, {})
        objects = {kind: found.get(kind, []) for kind in sorted(needs.kinds)}
        seen = nodes if needs.nodes else None
    snapshot = Snapshot(environment.namespace, objects, seen, unavailable=unavailable)
    if not needs.scripts:
        return snapshot
    try:
        return snapshot_scripts_run(
            lab=item.lab, exercise=item.exercise, snapshot=snapshot,
            kubeconfig=environment.kubeconfig,
        )  # fmt: skip
    finally:
        connection.close()  # a pool thread's own connection (credentials touch the database)


def _graded_all(items: list[_Item], *, from_evidence: bool) -> list[tuple[_Item, Graded]]:
    started = time.monotonic()
    snapshots: dict[int, Snapshot] = {}
    if from_evidence:
        # No cluster at all: each attempt's last grading's evidence, as the spec reads it now.
        grouped: dict[str, dict[str, list[dict[str, Any]]]] = {}
        nodes: list[dict[str, Any]] | None = None
        unavailable: str | None = None
        for item in items:
            run = item.attempt.last_run
            evidence = run.evidence if run is not None else {"unavailable": "never graded"}
            snapshots[item.attempt.pk] = snapshot_from_evidence(item.exercise, evidence)
    else:
        grouped, nodes, unavailable = _cluster_read(items)
    read_ms = (time.monotonic() - started) * 1000
    scripted = [
        i
        for i in items
        if not from_evidence and i.environment is not None and exercise_needs(i.exercise).scripts
    ]
    if scripted:
        with ThreadPoolExecutor(max_workers=SCRIPT_WORKERS) as pool:
            runs = pool.map(lambda i: _snapshot(i, grouped, nodes, unavailable), scripted)
            snapshots = {i.attempt.pk: s for i, s in zip(scripted, runs, strict=True)}
    graded = []
    for item in items:
        began = time.monotonic()
        snapshot = snapshots.get(item.attempt.pk) or _snapshot(item, grouped, nodes, unavailable)
        settling = item.environment is not None and item.environment.settling
        if snapshot.unavailable and settling and not from_evidence:
            snapshot = still_starting(snapshot)
        outcome = exercise_evaluate(item.exercise, snapshot)
        # Each grading's share of the one read, plus its own evaluation.
        duration = int(read_ms / max(1, len(items)) + (time.monotonic() - began) * 1000)
        points = points_earned(item.exercise, outcome)
        graded.append(
            (
                item,
                Graded(
                    item.generation, outcome, snapshot, duration, points, item.attempt.lab_version
                ),
            )
        )
    return graded


def _attempts_write(
    fresh: list[tuple[Attempt, Graded]], runs: Sequence[GradingRun], now: datetime
) -> None:
    """The chunk's attempts in one UPDATE ... FROM (VALUES ...): Django's bulk_update builds a
    CASE per field and row, which took most of a class grading's time. The same rules as
    _grading_store: graded_generation only for a conclusive result, completed_at only once."""
    table = Attempt._meta.db_table
    rows = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(fresh))  # SQLite's VALUES
    params: list[Any] = []
    for run, (attempt, graded) in zip(runs, fresh, strict=True):
        status = graded.outcome.status
        # best_points was worked out by the caller, on the rows it holds locked.
        params += [attempt.pk, run.pk, status, graded.generation, status != "inconclusive",
                   status == "passed", attempt.best_points]  # fmt: skip
    # VALUES columns are column1..column7 in PostgreSQL and SQLite alike. Only the model's
    # table name and placeholders are formatted in; every value is a parameter.
    sets = (
        "last_run_id = v.column2, status = v.column3, updated_at = %s, best_points = v.column7, "
        "graded_generation = CASE WHEN v.column5 THEN v.column4 ELSE a.graded_generation END, "
        "completed_at = CASE WHEN v.column6 AND a.completed_at IS NULL THEN %s "
        "ELSE a.completed_at END"
    )
    if connection.vendor == "postgresql":
        # One array per column: a query psycopg parses once (cached), not 3,500 placeholders
        # parsed in Python per chunk.
        columns = [params[i::7] for i in range(7)]
        types = ("bigint", "bigint", "text", "bigint", "boolean", "boolean", "integer")
        arrays = ", ".join(f"%s::{t}[]" for t in types)
        names = ", ".join(f"column{i}" for i in range(1, 8))
        source, params = f"unnest({arrays}) AS v({names})", columns
    else:
        source = f"(VALUES {rows}) AS v"
    sql = f"UPDATE {table} AS a SET {sets} FROM {source} WHERE a.id = v.column1"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [now, now, *params])


@dataclass(frozen=True)
class _Result:
    """A check result as the learner's event tells it, without a CheckResult model behind it."""

    check_id: str
    status: str
    message: dict[str, str]
    detail: str


_RESULT_FIELDS = ("run", "check_id", "position", "status", "message", "detail", "evidence")


class _Sentences:
    """check_message, remembered: a class's learners fail the same checks in the same words,
    and rendering each in every language was a third of a class grading's writing time."""

    def __init__(self) -> None:
        self._said: dict[Any, dict[str, str]] = {}

    def __call__(self, check: CheckOutcome) -> dict[str, str]:
        key = (check.problem, check.found, tuple(sorted(check.message.items())))
        try:
            return self._said[key]
        except KeyError:
            self._said[key] = check_message(check)
            return self._said[key]
        except TypeError:  # a parameter that cannot be a key: render it afresh
            return check_message(check)


def _chunk_store(
    chunk: list[tuple[_Item, Graded]], *, tries: int, final_try: bool, said: _Sentences
) -> dict[int, GradeOutcome]:
    """Write a chunk's runs, results and attempts in one transaction, as _grading_store does
    for one: a generation already graded (a duplicate task) is left alone; an inconclusive
    earlier try of the same generation is replaced."""
    outcomes: dict[int, GradeOutcome] = {}
    now = timezone.now()
    with transaction.atomic():
        ids = [item.attempt.pk for item, _ in chunk]
        locked = {a.pk: a for a in rows_with_ids(Attempt.objects.select_for_update(), ids)}
        fresh = []
        for item, graded in chunk:
            attempt = locked.get(item.attempt.pk)
            if attempt is None:
                outcomes[item.attempt.pk] = "gone"
            elif attempt.graded_generation >= graded.generation:
                outcomes[attempt.pk] = "duplicate"
            else:
                fresh.append((attempt, graded))
        if not fresh:
            return outcomes
        wanted = {(a.pk, g.generation) for a, g in fresh}
        runs_of_chunk = rows_with_ids(
            GradingRun.objects.all(), [a.pk for a, _ in fresh], column="attempt_id"
        )
        earlier: list[tuple[int, int, int]] = list(
            runs_of_chunk.filter(generation__in={g.generation for _, g in fresh}).values_list(
                "pk", "attempt_id", "generation"
            )
        )
        GradingRun.objects.filter(pk__in=[pk for pk, a, g in earlier if (a, g) in wanted]).delete()
        runs = rows_insert(
            [
                GradingRun(
                    attempt=attempt,
                    generation=graded.generation,
                    trigger=attempt.last_trigger or Trigger.BUTTON,
                    status=graded.outcome.status,
                    tries=tries,
                    namespace=graded.snapshot.namespace,
                    evidence=snapshot_evidence(graded.snapshot),
                    requested_at=attempt.requested_at,
                    duration_ms=graded.duration_ms,
                    points=graded.points,
                    lab_version=graded.lab_version,
                )
                for attempt, graded in fresh
            ],
            with_ids=True,
        )
        no_evidence: list[Any] = []  # one empty list for every check that cites nothing
        by_run: dict[int, list[_Result]] = defaultdict(list)
        rows = []
        for run, (_, graded) in zip(runs, fresh, strict=True):
            for position, check in enumerate(graded.outcome.checks):
                result = _Result(check.check_id, check.status, said(check), check.detail[:4000])
                by_run[run.pk].append(result)
                evidence = list(check.evidence) if check.evidence else no_evidence
                rows.append((run.pk, result.check_id, position, result.status, result.message,
                             result.detail, evidence))  # fmt: skip
        rows_copy(CheckResult, _RESULT_FIELDS, rows)
        events: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for run, (attempt, graded) in zip(runs, fresh, strict=True):
            status = graded.outcome.status
            conclusive = status != "inconclusive"
            attempt.last_run = run
            attempt.status = status
            attempt.updated_at = now
            if conclusive:
                attempt.graded_generation = graded.generation
                attempt.best_points = points_kept(attempt.best_points, graded.points)
            if status == "passed" and attempt.completed_at is None:
                attempt.completed_at = now
            outcomes[attempt.pk] = status
            events[attempt.user_id].append(
                attempt_payload(
                    attempt=attempt, run=run, results=by_run[run.pk],
                    retrying=not conclusive and not final_try,
                )
            )  # fmt: skip
        _attempts_write(fresh, runs, now)
        attempts_graded_send(
            attempt.pk for attempt, graded in fresh if graded.outcome.status != "inconclusive"
        )
        for attempt, graded in fresh:
            if graded.generation % 10 == 0:
                runs_prune(attempt)
        # One event per learner and chunk (their open pages apply each result in it), all sent
        # in one trip after commit.
        user_events_send(
            events=[(u, {"type": "labs.results", "results": p}) for u, p in events.items()]
        )
    return outcomes


def _requests_withdraw(attempts: Sequence[Attempt]) -> None:
    """Answer requests there is nothing to grade for (a regrade whose evidence is short): the
    generation counts as graded and the attempt shows its last grading's status again, so no
    cell waits on "checking" for a grading that will never come."""
    for attempt in attempts:
        status = attempt.last_run.status if attempt.last_run else AttemptStatus.NOT_CHECKED
        Attempt.objects.filter(
            pk=attempt.pk, requested_generation=attempt.requested_generation
        ).update(graded_generation=attempt.requested_generation, status=status)


def attempts_request(
    *,
    users: Sequence[Any],
    exercises: Sequence[tuple[str, str]],
    trigger: str,
    versions: Mapping[str, int] | None = None,
) -> dict[int, int]:
    """Ask for a grading of every (user, lab, exercise) at once: the attempts are made where
    missing and their generations bumped in two statements, not one request per cell as
    attempt_check_request does. ``versions`` names the version of each authored lab to grade
    against (a class's choice; labs.library), set on the attempts first. Returns {attempt id:
    the generation that answers it}; the caller queues the grading after commit."""
    if not users or not exercises:
        return {}
    versions = versions or {}
    Attempt.objects.bulk_create(
        [Attempt(user=user, lab=lab, exercise=exercise, lab_version=versions.get(lab, 0))
         for user in users for lab, exercise in exercises],
        ignore_conflicts=True,
    )  # fmt: skip
    wanted = set(exercises)
    mine = Attempt.objects.filter(
        user__in=list(users),
        lab__in={lab for lab, _ in exercises},
        exercise__in={exercise for _, exercise in exercises},
    )
    for lab, version in versions.items():
        mine.filter(lab=lab).exclude(lab_version=version).update(lab_version=version)
    ids = [pk for pk, lab, ex in mine.values_list("pk", "lab", "exercise") if (lab, ex) in wanted]
    return attempts_rerequest(attempt_ids=ids, trigger=trigger)


def attempts_rerequest(*, attempt_ids: Sequence[int], trigger: str) -> dict[int, int]:
    """Ask again for a grading of these attempts (a regrade), in one statement."""
    now = timezone.now()
    asked = Attempt.objects.filter(pk__in=list(attempt_ids))
    asked.update(
        requested_generation=F("requested_generation") + 1,
        status=AttemptStatus.CHECKING,
        last_trigger=trigger,
        requested_at=now,
        updated_at=now,
    )
    return dict(asked.values_list("pk", "requested_generation"))


def attempts_grade_batch(
    *,
    attempt_ids: Sequence[int],
    tries: int = 1,
    final_try: bool = True,
    on_stored: Callable[[Stored], None] | None = None,
    from_evidence: bool = False,
    generations: dict[int, int] | None = None,
) -> dict[int, GradeOutcome]:
    """Grade each attempt's newest requested generation, all at once. Safe to run twice and
    concurrently with the single-learner path, for the same reasons attempt_grade is (row locks,
    generations); ``on_stored`` is called after each chunk commits.

    ``from_evidence``: regrade each attempt's last grading from its kept evidence (labs.evidence)
    instead of reading the cluster, and only where the newest request is still the one in
    ``generations`` (a learner's newer change is graded live, not from old evidence)."""
    outcomes: dict[int, GradeOutcome] = {pk: "gone" for pk in attempt_ids}
    related = ("user", "last_run") if from_evidence else ("user",)
    attempts = list(
        rows_with_ids(Attempt.objects.select_related(*related), attempt_ids).order_by("pk")
    )
    items = _items(attempts, outcomes, from_evidence=from_evidence, generations=generations)
    _requests_withdraw([a for a in attempts if outcomes[a.pk] == "not-regradable"])
    graded = _graded_all(items, from_evidence=from_evidence)
    said = _Sentences()
    for start in range(0, len(graded), CHUNK):
        chunk = graded[start : start + CHUNK]
        stored = _chunk_store(chunk, tries=tries, final_try=final_try, said=said)
        outcomes.update(stored)
        if on_stored is not None:
            on_stored(Stored(tuple(item.attempt.pk for item, _ in chunk), stored))
    return outcomes
