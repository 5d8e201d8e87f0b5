"""The check engine: a pure function from an exercise and a snapshot of the learner's namespace to
pass / fail(reason) / inconclusive for every check.

Pure: no Django, no ``kubernetes``, no I/O. ``labs.snapshot`` fetches the objects (and runs
script checks) and hands them in as a ``Snapshot``; ``exercise_evaluate`` never raises for odd
objects, because learners create odd objects. A snapshot that could not be taken makes every
check inconclusive, and inconclusive never counts against the learner.

The package, one job per module (names with a leading underscore are private to it)::

    inputs.py        Snapshot and ScriptRun: what the engine reads
    outcomes.py      CheckOutcome and ExerciseOutcome: what it returns
    objects.py       reading odd objects defensively; comparing and showing values
    evaluation.py    what every evaluator shares: targets, outcomes, the per-object shape
    declared.py      exists, absent, field, label, annotation, count
    observed.py      ready, owner, job, service_selects, pods_on_nodes, script
    engine.py        exercise_needs, check_evaluate, declarative_fails, exercise_evaluate
"""

from labs.checks.engine import (
    Needs,
    check_evaluate,
    declarative_fails,
    exercise_evaluate,
    exercise_needs,
)
from labs.checks.inputs import (
    ENVIRONMENT_STARTING,
    ENVIRONMENT_STARTING_DETAIL,
    EVIDENCE_SHORT,
    ScriptRun,
    Snapshot,
)
from labs.checks.outcomes import CheckOutcome, ExerciseOutcome

# What modules outside the package import from labs.checks, and what the single module's
# __all__ listed (Needs), so `from labs.checks import X` works as it did.
__all__ = [
    "ENVIRONMENT_STARTING",
    "ENVIRONMENT_STARTING_DETAIL",
    "EVIDENCE_SHORT",
    "CheckOutcome",
    "ExerciseOutcome",
    "Needs",
    "ScriptRun",
    "Snapshot",
    "check_evaluate",
    "declarative_fails",
    "exercise_evaluate",
    "exercise_needs",
]
