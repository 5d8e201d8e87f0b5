"""What a grading is worth (pure): all the exercise's points when it passed; with partial credit
(points on checks), the points of the checks that passed; nothing when the cluster could not
say (inconclusive never counts for or against a learner)."""

from __future__ import annotations

from labs.checks.outcomes import ExerciseOutcome
from labs.spec import Exercise


def points_earned(exercise: Exercise, outcome: ExerciseOutcome) -> int:
    if outcome.status == "passed":
        return exercise.points
    if outcome.status == "inconclusive" or not exercise.partial_credit:
        return 0
    passed = {check.check_id for check in outcome.checks if check.passed}
    return sum(check.points or 0 for check in exercise.checks if check.id in passed)


def points_kept(best: int, earned: int) -> int:
    """A learner keeps the most any grading earned them, as a completed exercise stays done."""
    return max(best, earned)
