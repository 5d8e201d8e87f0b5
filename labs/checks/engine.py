"""The engine's entry points: ``exercise_needs`` (the kinds, nodes and scripts a snapshot must
hold), ``check_evaluate`` (one check, dispatched on its type, never raising for odd objects),
``declarative_fails`` (whether an exercise's script checks may be skipped) and
``exercise_evaluate`` (every check, summed up as passed, failed or inconclusive)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from labs.checks.declared import _absent, _count, _exists, _field, _metadata
from labs.checks.evaluation import _Evaluation, _outcome
from labs.checks.inputs import CLUSTER_DID_NOT_ANSWER, Snapshot
from labs.checks.objects import _scope
from labs.checks.observed import _job, _owner, _pods_on_nodes, _ready, _script, _service_selects
from labs.checks.outcomes import CheckOutcome, ExerciseOutcome, ExerciseStatus
from labs.messages import Msg, verbatim
from labs.messages import gettext_noop as _
from labs.spec import (
    AbsentCheck,
    AnnotationCheck,
    Check,
    CountCheck,
    Exercise,
    ExistsCheck,
    FieldCheck,
    JobCheck,
    LabelCheck,
    OwnerCheck,
    PodsOnNodesCheck,
    ReadyCheck,
    ScriptCheck,
    ServiceSelectsCheck,
)


@dataclass(frozen=True)
class Needs:
    kinds: frozenset[str]
    nodes: bool
    scripts: tuple[ScriptCheck, ...]


_OWNER_CHAIN = {"Deployment": ("ReplicaSet",), "CronJob": ("Job",)}


def exercise_needs(exercise: Exercise) -> Needs:
    """What a snapshot for this exercise must contain."""
    kinds: set[str] = set()
    nodes = False
    scripts: list[ScriptCheck] = []
    for check in exercise.checks:
        if isinstance(check, ScriptCheck):
            scripts.append(check)
        elif isinstance(check, JobCheck):
            kinds.add("Job")
        elif isinstance(check, ServiceSelectsCheck):
            kinds.update(("Service", "Pod"))
        elif isinstance(check, PodsOnNodesCheck):
            kinds.add("Pod")
            nodes = True
        else:
            kinds.add(check.kind)
            if isinstance(check, OwnerCheck) and check.owner is not None:
                kinds.add(check.owner.kind)
                kinds.update(_OWNER_CHAIN.get(check.owner.kind, ()))
    return Needs(frozenset(kinds), nodes, tuple(scripts))


def _label_of(check: Check) -> Msg:
    if isinstance(check, ExistsCheck | AbsentCheck | FieldCheck | LabelCheck | AnnotationCheck):
        if check.name:
            return verbatim(f"{check.kind} {check.name}")
        return _scope(check.kind, str(check.selector))
    return verbatim(check.id)


_EVALUATORS: dict[type, Callable[[_Evaluation, Any], CheckOutcome]] = {
    ExistsCheck: _exists,
    AbsentCheck: _absent,
    FieldCheck: _field,
    LabelCheck: _metadata,
    AnnotationCheck: _metadata,
    CountCheck: _count,
    ReadyCheck: _ready,
    OwnerCheck: _owner,
    JobCheck: _job,
    ServiceSelectsCheck: _service_selects,
    PodsOnNodesCheck: _pods_on_nodes,
    ScriptCheck: _script,
}


def check_evaluate(check: Check, snapshot: Snapshot) -> CheckOutcome:
    # A script check has its own reason when its script could not run; one never tried (no
    # namespace yet) shares the snapshot's, so a new guest's page says "starting" throughout.
    ran = isinstance(check, ScriptCheck) and check.id in snapshot.scripts
    if snapshot.unavailable is not None and not ran:
        reason = snapshot.unavailable_reason or CLUSTER_DID_NOT_ANSWER
        return CheckOutcome(check.id, "inconclusive", {}, snapshot.unavailable, problem=reason)
    evaluation = _Evaluation(snapshot)
    try:
        return _EVALUATORS[type(check)](evaluation, check)
    except (TypeError, ValueError, KeyError, AttributeError, RecursionError) as exc:
        # A malformed object must not take the grader down; say so instead of guessing.
        problem = Msg.of(_("{target} could not be read."), target=_label_of(check))
        return _outcome(
            check, False, problem, f"could not evaluate: {exc.__class__.__name__}: {exc}"
        )


def declarative_fails(exercise: Exercise, snapshot: Snapshot) -> bool:
    """Whether a check that reads objects already fails: the exercise cannot pass, so its script
    checks need not run. They cost a jail and a token each, and the namespace watcher grades
    every auto-checked exercise on every change, so a script left to run on every change
    delays every other exercise's result."""
    return any(
        check_evaluate(check, snapshot).status == "fail"
        for check in exercise.checks
        if not isinstance(check, ScriptCheck)
    )


def _missing_said_once(outcomes: tuple[CheckOutcome, ...]) -> tuple[CheckOutcome, ...]:
    """With no Pod kuard, the image, port and readiness checks on it all fail for that one
    reason: each later one says what the first said (the checklist shows a sentence once)."""
    first: dict[str, CheckOutcome] = {}
    said: list[CheckOutcome] = []
    for outcome in outcomes:
        target = outcome.missing_target if outcome.status == "fail" else ""
        if target and target in first:
            earlier = first[target]
            outcome = replace(outcome, message=earlier.message, problem=earlier.problem, found=None)
        elif target:
            first[target] = outcome
        said.append(outcome)
    return tuple(said)


def exercise_evaluate(exercise: Exercise, snapshot: Snapshot) -> ExerciseOutcome:
    outcomes = _missing_said_once(
        tuple(check_evaluate(check, snapshot) for check in exercise.checks)
    )
    if all(o.status == "pass" for o in outcomes):
        status: ExerciseStatus = "passed"
    elif any(o.status == "fail" for o in outcomes):
        status = "failed"
    else:
        status = "inconclusive"
    return ExerciseOutcome(status, outcomes)
