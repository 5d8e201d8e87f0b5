"""Grading survives its infrastructure: a worker killed mid-task loses no result and makes no
duplicate; an API server that stops answering gives "inconclusive, retrying", then the right
result once it is back."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from labs.models import Attempt, CheckResult, GradingRun, Trigger
from labs.services import attempt_check_request, attempt_get_or_create
from labs.tasks import attempt_grade_task
from tests.fixtures.grading import (
    EventSocket,
    grading_worker_start,
    kill_group,
    kuard_pod,
    result_for,
)
from tests.fixtures.learners import Learner
from tests.fixtures.processes import WorkerProcess, free_port, stop_process

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
]

SLOW_CATALOG = Path(__file__).parent / "catalog"


@pytest.fixture
def slow_catalog(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("KUBELAB_LABS_CATALOG", str(SLOW_CATALOG))
    return str(SLOW_CATALOG)


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for process in started:
        if process.proc.poll() is None:
            stop_process(process.proc)


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return value


def pool_child_pid(process: WorkerProcess) -> int:
    children = Path(f"/proc/{process.proc.pid}/task/{process.proc.pid}/children").read_text()
    return int(children.split()[0])


def test_worker_killed_mid_task_loses_nothing_and_duplicates_nothing(
    make_learner: Callable[..., Learner],
    grading_queue: str,
    slow_catalog: str,
    workers: list[WorkerProcess],
    event_socket: Callable[[Any], EventSocket],
) -> None:
    learner = make_learner()
    assert learner.kubectl("apply", "-f", "-", input=kuard_pod()).returncode == 0
    sock = event_socket(learner.user)
    env = {"KUBELAB_LABS_CATALOG": slow_catalog, "KUBELAB_CELERY_VISIBILITY_TIMEOUT": "3"}
    doomed = grading_worker_start("doomed", grading_queue, **env)
    workers.append(doomed)

    attempt = attempt_get_or_create(user=learner.user, lab_slug="slow", exercise_id="slow-pod")
    generation = attempt_check_request(attempt=attempt, trigger=Trigger.BUTTON)
    wait_for(lambda: "labs.attempt_grade" in doomed.text(), 30, "the task to reach the worker")
    time.sleep(1.5)  # inside the 4-second script check: the task is half done
    kill_group(doomed)  # SIGKILL to the main process and its pool child: nothing acks
    assert Attempt.objects.get(pk=attempt.pk).graded_generation == 0
    assert not GradingRun.objects.filter(attempt=attempt).exists()

    # Another worker picks the unacknowledged task up once its visibility timeout has passed.
    rescuer = grading_worker_start("rescuer", grading_queue, **env)
    workers.append(rescuer)
    event = sock.wait_for(result_for("slow/slow-pod", "passed"), timeout=60, what="rescued result")
    assert event["generation"] == generation
    attempt.refresh_from_db()
    assert attempt.graded_generation == generation and attempt.completed_at is not None
    runs = GradingRun.objects.filter(attempt=attempt)
    assert runs.count() == 1
    assert CheckResult.objects.filter(run=runs.get()).count() == 2

    # The same task delivered again (as after a crash between commit and ack) changes nothing.
    assert attempt_grade_task.apply_async((attempt.pk,), queue=grading_queue).get(timeout=60) == (
        "up-to-date"
    )
    assert GradingRun.objects.filter(attempt=attempt).count() == 1
    assert [e for e in sock.drain(1.0) if e.get("type") == "labs.result"] == []


def test_pool_child_killed_mid_task_is_redelivered_at_once(
    make_learner: Callable[..., Learner],
    grading_queue: str,
    slow_catalog: str,
    workers: list[WorkerProcess],
    event_socket: Callable[[Any], EventSocket],
) -> None:
    learner = make_learner()
    assert learner.kubectl("apply", "-f", "-", input=kuard_pod()).returncode == 0
    sock = event_socket(learner.user)
    worker = grading_worker_start("survivor", grading_queue, KUBELAB_LABS_CATALOG=slow_catalog)
    workers.append(worker)
    attempt = attempt_get_or_create(user=learner.user, lab_slug="slow", exercise_id="slow-pod")
    attempt_check_request(attempt=attempt, trigger=Trigger.BUTTON)
    wait_for(lambda: "labs.attempt_grade" in worker.text(), 30, "the task to reach the worker")
    time.sleep(1.5)
    os.kill(pool_child_pid(worker), 9)  # the OOM killer's way: only the child running the task
    event = sock.wait_for(result_for("slow/slow-pod", "passed"), timeout=60, what="result")
    assert "WorkerLostError" in worker.text() or "Process" in worker.text()
    assert event["status"] == "passed"
    assert GradingRun.objects.filter(attempt=attempt).count() == 1


def _point_at(kubeconfig: Path, server: str) -> None:
    document = yaml.safe_load(kubeconfig.read_text())
    for cluster in document["clusters"]:
        cluster["cluster"]["server"] = server
    kubeconfig.write_text(yaml.safe_dump(document))


def test_unreachable_api_server_is_inconclusive_then_the_right_result(
    make_learner: Callable[..., Learner],
    cluster: Any,
    grading_queue: str,
    workers: list[WorkerProcess],
    event_socket: Callable[[Any], EventSocket],
    tmp_path: Path,
) -> None:
    learner = make_learner()
    assert learner.kubectl("apply", "-f", "-", input=kuard_pod()).returncode == 0
    wait_for(
        lambda: "Running" in learner.kubectl("get", "pod", "kuard").stdout, 30, "kuard running"
    )
    sock = event_socket(learner.user)
    # The worker's own copy of the platform kubeconfig, so the shared cluster keeps serving
    # everyone else while this worker's API server "goes away" (a closed loopback port).
    kubeconfig = tmp_path / "platform.kubeconfig"
    kubeconfig.write_text(Path(cluster.kubeconfig).read_text())
    real_server = yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
    _point_at(kubeconfig, f"https://127.0.0.1:{free_port()}")
    worker = grading_worker_start("cut-off", grading_queue, KUBELAB_KUBECONFIG=str(kubeconfig))
    workers.append(worker)

    attempt = attempt_get_or_create(user=learner.user, lab_slug="pods", exercise_id="kuard-pod")
    generation = attempt_check_request(attempt=attempt, trigger=Trigger.BUTTON)
    retrying = sock.wait_for(result_for("pods/kuard-pod"), timeout=30, what="first result")
    assert retrying["status"] == "inconclusive" and retrying["retrying"] is True
    assert {c["status"] for c in retrying["checks"]} == {"inconclusive"}
    attempt.refresh_from_db()
    assert attempt.completed_at is None and attempt.graded_generation == 0
    assert attempt.status == "inconclusive"  # never "failed": it does not count against them

    _point_at(kubeconfig, real_server)  # the API server is back
    final = sock.wait_for(
        result_for("pods/kuard-pod", "passed", "failed"), timeout=60, what="result after recovery"
    )
    assert final["status"] == "passed" and final["generation"] == generation
    run = GradingRun.objects.get(attempt=attempt)  # the same run, retried, not a second one
    assert run.status == "passed" and run.tries >= 2
    attempt.refresh_from_db()
    assert attempt.graded_generation == generation and attempt.completed_at is not None


def test_a_class_grading_worker_killed_mid_batch_loses_nothing_and_duplicates_nothing(
    make_learner: Callable[..., Learner],
    grading_queue: str,
    slow_catalog: str,
    workers: list[WorkerProcess],
) -> None:
    """Issue 16: the batch task is acked late, so a worker killed while its scripts run gives
    the whole batch to another worker, which grades every cell once."""
    from accounts.roles import Role
    from classes.models import ClassGradingRun
    from classes.services import class_grade_request, classroom_create, classroom_join
    from tests.fixtures.classes import person

    learners = [make_learner(), make_learner()]
    for learner in learners:
        assert learner.kubectl("apply", "-f", "-", input=kuard_pod()).returncode == 0
    teacher = person("teacher", role=Role.INSTRUCTOR)
    classroom = classroom_create(owner=teacher, name="Slow class", labs=["slow"])
    for learner in learners:
        classroom_join(user=learner.user, code=classroom.join_code)
    env = {"KUBELAB_LABS_CATALOG": slow_catalog, "KUBELAB_CELERY_VISIBILITY_TIMEOUT": "3"}
    doomed = grading_worker_start("doomed-batch", grading_queue, **env)
    workers.append(doomed)

    run = class_grade_request(classroom=classroom, requested_by=teacher).run
    wait_for(lambda: "classes.grade_batch" in doomed.text(), 30, "the batch to reach the worker")
    time.sleep(1.5)  # inside the 4-second script checks: nothing of the batch is stored yet
    kill_group(doomed)
    attempts = Attempt.objects.filter(user__in=[x.user for x in learners], lab="slow")
    assert not GradingRun.objects.filter(attempt__in=attempts).exists()

    rescuer = grading_worker_start("rescuer-batch", grading_queue, **env)
    workers.append(rescuer)
    wait_for(
        lambda: ClassGradingRun.objects.filter(pk=run.pk, finished_at__isnull=False).exists(),
        90, "the class run to finish on the rescuing worker",
    )  # fmt: skip
    for attempt in attempts:
        assert attempt.status == "passed" and attempt.completed_at is not None, attempt
        runs = GradingRun.objects.filter(attempt=attempt)
        assert runs.count() == 1  # graded once, by the rescuer
        assert CheckResult.objects.filter(run=runs.get()).count() == 2
