"""The grading pipeline end to end with real processes: a learner's kubectl, a Celery worker on
real Redis, the test database, the web server's ws/events/ socket, and the namespace watcher."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from labs.models import Attempt, CheckResult, GradingRun, Trigger
from labs.services import attempt_check_request, attempt_get_or_create, lab_auto_check_enable
from tests.fixtures.grading import EventSocket, Process, kuard_pod, result_for
from tests.fixtures.learners import Learner
from tests.fixtures.processes import WorkerProcess

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
]

KUARD = "pods/kuard-pod"


def test_check_button_grades_on_a_real_worker_and_pushes_the_result(
    make_learner: Callable[..., Learner],
    celery_worker_process: WorkerProcess,
    event_socket: Callable[[Any], EventSocket],
) -> None:
    learner = make_learner()
    sock = event_socket(learner.user)
    attempt = attempt_get_or_create(user=learner.user, lab_slug="pods", exercise_id="kuard-pod")

    # Nothing applied yet: the button grades a failure, with the specific reason.
    attempt_check_request(attempt=attempt, trigger=Trigger.BUTTON)
    sock.wait_for(lambda e: e.get("type") == "labs.checking", what="checking")
    failed = sock.wait_for(result_for(KUARD), what="first result")
    assert failed["status"] == "failed"
    exists = next(c for c in failed["checks"] if c["id"] == "exists")
    assert exists["status"] == "fail"
    assert "no Pod named kuard" in exists["message"]["en"]

    applied = learner.kubectl("apply", "-f", "-", input=kuard_pod())
    assert applied.returncode == 0, applied.stderr
    deadline = time.monotonic() + 30
    while True:
        generation = attempt_check_request(attempt=attempt, trigger=Trigger.BUTTON)

        def this_grading(e: dict[str, Any], g: int = generation) -> bool:
            return result_for(KUARD)(e) and e["generation"] >= g

        event = sock.wait_for(this_grading, what="result")
        if event["status"] == "passed" or time.monotonic() > deadline:
            break
        time.sleep(0.3)  # kwok marks the Pod Running a moment after it is created
    assert event["status"] == "passed", event
    assert event["completed"] is True

    attempt.refresh_from_db()
    assert attempt.completed_at is not None
    assert attempt.graded_generation == attempt.requested_generation
    run = GradingRun.objects.get(attempt=attempt, generation=attempt.graded_generation)
    assert run.status == "passed" and run.trigger == "button"
    assert run.namespace == learner.namespace
    pods = run.evidence["objects"]["Pod"]
    assert [p["metadata"]["name"] for p in pods] == ["kuard"]
    assert "managedFields" not in pods[0]["metadata"]
    results = {r.check_id: r for r in CheckResult.objects.filter(run=run)}
    assert set(results) == {"exists", "image", "port", "running"}
    assert results["image"].evidence == [
        {"kind": "Pod", "name": "kuard", "resourceVersion": pods[0]["metadata"]["resourceVersion"]}
    ]


def test_a_wrong_manifest_shows_the_specific_failing_check(
    make_learner: Callable[..., Learner],
    celery_worker_process: WorkerProcess,
    event_socket: Callable[[Any], EventSocket],
) -> None:
    learner = make_learner()
    sock = event_socket(learner.user)
    assert learner.kubectl("apply", "-f", "-", input=kuard_pod("green")).returncode == 0
    attempt = attempt_get_or_create(user=learner.user, lab_slug="pods", exercise_id="kuard-pod")
    attempt_check_request(attempt=attempt, trigger=Trigger.BUTTON)
    event = sock.wait_for(result_for(KUARD, "failed", "passed"), what="result")
    assert event["status"] == "failed"
    failing = {c["id"]: c for c in event["checks"] if c["status"] == "fail"}
    assert set(failing) == {"image"}
    assert "gcr.io/kuar-demo/kuard-amd64:blue" in failing["image"]["message"]["en"]
    assert "kuard-amd64:green" in failing["image"]["detail"]
    assert Attempt.objects.get(pk=attempt.pk).completed_at is None


def test_the_watcher_turns_the_exercise_green_without_a_click(
    make_learner: Callable[..., Learner],
    celery_worker_process: WorkerProcess,
    labs_watcher: Process,
    event_socket: Callable[[Any], EventSocket],
) -> None:
    learner = make_learner()
    sock = event_socket(learner.user)
    # The lesson page opens: auto-checking starts, and every exercise is graded once.
    lab_auto_check_enable(user=learner.user, lab_slug="pods")
    sock.wait_for(result_for(KUARD), what="initial grading")
    sock.drain(1.0)

    started = time.monotonic()
    assert learner.kubectl("apply", "-f", "-", input=kuard_pod()).returncode == 0
    event = sock.wait_for(result_for(KUARD, "passed"), timeout=20, what="watch-driven pass")
    elapsed = time.monotonic() - started
    assert event["trigger"] == "watch"
    assert event["completed"] is True
    # Generous bound for a loaded CI machine; bench/check_latency measures the real numbers.
    assert elapsed < 5, f"green after {elapsed:.2f}s"

    # Exercises that stay open are graded too, and a later mistake shows up by itself.
    grading = Attempt.objects.get(user=learner.user, lab="pods", exercise="resources-and-probes")
    before = grading.requested_generation
    assert learner.kubectl("label", "pods", "kuard", "touched=yes").returncode == 0
    event = sock.wait_for(
        result_for("pods/resources-and-probes"), timeout=20, what="grading after a change"
    )
    assert event["status"] == "failed"
    # The event may come from the trailing run of the earlier burst; the label change itself must
    # still lead to a new grading request.
    deadline = time.monotonic() + 20
    while Attempt.objects.get(pk=grading.pk).requested_generation <= before:
        assert time.monotonic() < deadline, "the label change was never graded"
        time.sleep(0.1)
    # A finished exercise is no longer graded on every change.
    kuard = Attempt.objects.get(user=learner.user, lab="pods", exercise="kuard-pod")
    assert (
        GradingRun.objects.filter(
            attempt=kuard, trigger="watch", generation__gt=kuard.graded_generation
        ).count()
        == 0
    )


def test_a_learner_only_ever_receives_their_own_results(
    make_learner: Callable[..., Learner],
    celery_worker_process: WorkerProcess,
    event_socket: Callable[[Any], EventSocket],
) -> None:
    alice, bob = make_learner(), make_learner()
    bob_socket = event_socket(bob.user)
    attempt = attempt_get_or_create(user=alice.user, lab_slug="pods", exercise_id="kuard-pod")
    attempt_check_request(attempt=attempt, trigger=Trigger.BUTTON)
    deadline = time.monotonic() + 10
    while Attempt.objects.get(pk=attempt.pk).graded_generation == 0:
        assert time.monotonic() < deadline, "alice's attempt was never graded"
        time.sleep(0.1)
    assert bob_socket.drain(0.5) == []
