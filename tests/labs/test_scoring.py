"""What a grading earns (labs.scoring), on outcomes the real engine produces."""

from __future__ import annotations

from labs.checks import Snapshot, exercise_evaluate
from labs.scoring import points_earned, points_kept
from tests.labs.test_spec import PARTIAL, VALID, parse

KUARD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "kuard", "namespace": "ns"},
    "spec": {"containers": [{"name": "kuard", "image": "gcr.io/kuar-demo/kuard-amd64:blue"}]},
}


def _green() -> dict:
    pod = dict(KUARD)
    pod["spec"] = {"containers": [{"name": "kuard", "image": "gcr.io/kuar-demo/kuard-amd64:green"}]}
    return pod


def test_partial_credit_counts_the_checks_that_passed() -> None:
    exercise = parse(PARTIAL).exercises[0]
    solved = exercise_evaluate(exercise, Snapshot("ns", {"Pod": [KUARD]}))
    near = exercise_evaluate(exercise, Snapshot("ns", {"Pod": [_green()]}))
    empty = exercise_evaluate(exercise, Snapshot("ns", {"Pod": []}))
    down = exercise_evaluate(exercise, Snapshot("ns", unavailable="the cluster is away"))
    assert (solved.status, points_earned(exercise, solved)) == ("passed", 5)
    assert (near.status, near.failing(), points_earned(exercise, near)) == ("failed", ["image"], 2)
    assert points_earned(exercise, empty) == 0
    assert (down.status, points_earned(exercise, down)) == ("inconclusive", 0)


def test_without_points_on_checks_a_near_miss_earns_nothing() -> None:
    exercise = parse(VALID).exercises[0]
    near = exercise_evaluate(exercise, Snapshot("ns", {"Pod": [_green()]}))
    assert near.status == "failed" and points_earned(exercise, near) == 0
    solved = exercise_evaluate(exercise, Snapshot("ns", {"Pod": [KUARD]}))
    assert points_earned(exercise, solved) == 1


def test_the_best_grading_is_kept() -> None:
    assert points_kept(3, 1) == 3 and points_kept(1, 3) == 3
