"""Grading services without a cluster: idempotent storage, inconclusive handling, pruning."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from labs import services
from labs.checks import CheckOutcome, ExerciseOutcome, Snapshot
from labs.checks.outcomes import CheckStatus, ExerciseStatus
from labs.models import Attempt, GradingRun, Trigger

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    monkeypatch.setattr(services, "user_event_send", lambda *, user_id, event: events.append(event))
    return events


def attempt_at(generation: int) -> Attempt:
    user = get_user_model().objects.create_user(username=f"u{generation}", password="x" * 12)
    return Attempt.objects.create(
        user=user, lab="pods", exercise="kuard-pod", requested_generation=generation,
        last_trigger=Trigger.WATCH,
    )  # fmt: skip


CHECK_STATUS: dict[ExerciseStatus, CheckStatus] = {
    "passed": "pass",
    "failed": "fail",
    "inconclusive": "inconclusive",
}


def graded(generation: int, status: ExerciseStatus) -> services.Graded:
    check_status = CHECK_STATUS[status]
    outcome = ExerciseOutcome(
        status,
        (CheckOutcome("exists", check_status, {"en": "x"} if status == "failed" else {}, "d"),),
    )
    return services.Graded(generation, outcome, Snapshot("ns", objects={"Pod": []}), 5)


def test_a_generation_is_stored_once(sent: list[dict[str, Any]]) -> None:
    attempt = attempt_at(3)
    assert (
        services._grading_store(attempt.pk, graded(3, "failed"), tries=1, final_try=True)
        == "failed"
    )
    assert (
        services._grading_store(attempt.pk, graded(3, "passed"), tries=1, final_try=True)
        == "duplicate"
    )
    assert (
        services._grading_store(attempt.pk, graded(2, "passed"), tries=1, final_try=True)
        == "duplicate"
    )
    attempt.refresh_from_db()
    assert attempt.graded_generation == 3 and attempt.status == "failed"
    assert GradingRun.objects.filter(attempt=attempt).count() == 1
    assert len(sent) == 1 and sent[0]["trigger"] == "watch"


def test_inconclusive_is_stored_but_not_graded_and_its_retry_completes_the_same_run(
    sent: list[dict[str, Any]],
) -> None:
    attempt = attempt_at(1)
    assert services._grading_store(
        attempt.pk, graded(1, "inconclusive"), tries=1, final_try=False
    ) == ("inconclusive")
    attempt.refresh_from_db()
    assert attempt.graded_generation == 0 and attempt.status == "inconclusive"
    assert sent[-1]["retrying"] is True
    assert (
        services._grading_store(attempt.pk, graded(1, "passed"), tries=2, final_try=False)
        == "passed"
    )
    run = GradingRun.objects.get(attempt=attempt)
    assert run.status == "passed" and run.tries == 2
    assert run.results.count() == 1
    attempt.refresh_from_db()
    assert attempt.completed_at is not None and attempt.graded_generation == 1


def test_no_environment_is_inconclusive_never_failed(sent: list[dict[str, Any]]) -> None:
    attempt = attempt_at(1)
    assert services.attempt_grade(attempt_id=attempt.pk, final_try=True) == "inconclusive"
    assert sent[-1]["retrying"] is False
    assert {c["status"] for c in sent[-1]["checks"]} == {"inconclusive"}
    assert "not ready yet" in sent[-1]["checks"][0]["detail"]
    # The learner is told their environment is starting, not that the cluster is down.
    message = sent[-1]["checks"][0]["message"]
    assert message["en"].startswith("Your environment is still starting")
    assert message["zh-hant"].startswith("你的環境還在啟動中")
    # ...and the page says "starting" rather than the amber "could not check" (issue 24).
    assert sent[-1]["status"] == "inconclusive" and sent[-1]["starting"] is True
    assert services.attempt_grade(attempt_id=999_999) == "gone"


def test_an_exercise_with_script_checks_is_starting_too(sent: list[dict[str, Any]]) -> None:
    """The liveness exercise's script checks never ran without a namespace: they must not
    turn a new guest's "starting" amber (the red CI's guest test)."""
    user = get_user_model().objects.create_user(username="scripted", password="x" * 12)
    attempt = Attempt.objects.create(
        user=user, lab="pods", exercise="liveness-restart", requested_generation=1
    )
    assert services.attempt_grade(attempt_id=attempt.pk, final_try=False) == "inconclusive"
    assert len(sent[-1]["checks"]) == 3  # a field check and two script checks
    assert {c["detail"] for c in sent[-1]["checks"]} == {"your environment is not ready yet"}
    assert sent[-1]["starting"] is True


def test_a_cluster_that_did_not_answer_is_not_called_starting(
    sent: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from labs.checks import Snapshot
    from labs.learners import LearnerEnvironment

    attempt = attempt_at(1)
    monkeypatch.setattr(
        services,
        "learner_environment",
        lambda user: LearnerEnvironment(namespace="kl-x", kubeconfig=lambda: None),
    )

    def unreachable(**kwargs: Any) -> Snapshot:
        return Snapshot(kwargs["namespace"], unavailable="list pods: connection refused")

    monkeypatch.setattr(services, "snapshot_take", unreachable)
    assert services.attempt_grade(attempt_id=attempt.pk, final_try=True) == "inconclusive"
    assert sent[-1]["status"] == "inconclusive"
    assert sent[-1]["starting"] is False


@pytest.mark.parametrize("settling", [True, False])
def test_a_brand_new_environment_the_cluster_did_not_answer_for_is_starting(
    sent: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, settling: bool
) -> None:
    """In a new guest's first seconds the API server is busy making their namespace; a read
    that times out then is "starting" (issue 24), later it is the amber "could not check"."""
    from labs.checks import Snapshot
    from labs.learners import LearnerEnvironment

    attempt = attempt_at(1)
    monkeypatch.setattr(
        services,
        "learner_environment",
        lambda user: LearnerEnvironment(
            namespace="kl-x", kubeconfig=lambda: None, settling=settling
        ),
    )
    monkeypatch.setattr(
        services,
        "snapshot_take",
        lambda **kwargs: Snapshot(kwargs["namespace"], unavailable="list pods: timed out"),
    )
    assert services.attempt_grade(attempt_id=attempt.pk, final_try=False) == "inconclusive"
    assert sent[-1]["starting"] is settling
    assert sent[-1]["retrying"] is True  # either way it is graded again


def test_old_runs_are_pruned_but_the_first_pass_is_kept(sent: list[dict[str, Any]]) -> None:
    attempt = attempt_at(0)
    for generation in range(1, 41):
        Attempt.objects.filter(pk=attempt.pk).update(requested_generation=generation)
        status: ExerciseStatus = "passed" if generation == 5 else "failed"
        services._grading_store(attempt.pk, graded(generation, status), tries=1, final_try=True)
    kept = sorted(GradingRun.objects.filter(attempt=attempt).values_list("generation", flat=True))
    assert kept[0] == 5 and kept[-1] == 40
    assert len(kept) <= services.RUNS_KEPT + 1 + 9


def test_requests_coalesce(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    queued: list[int] = []
    from labs.tasks import attempt_grade_task

    monkeypatch.setattr(
        attempt_grade_task, "apply_async", lambda args, queue=None: queued.append(args[0])
    )
    attempt = attempt_at(0)
    with django_capture_on_commit_callbacks(execute=True):
        generations = [
            services.attempt_check_request(attempt=attempt, trigger=Trigger.WATCH) for _ in range(3)
        ]
    assert generations == [1, 2, 3]
    assert queued == [attempt.pk] * 3
    attempt.refresh_from_db()
    assert attempt.checks_requested == 0  # only the button counts towards the solution policy
