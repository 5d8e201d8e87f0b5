"""Grading a whole class through the real path: learners with real namespaces on the cluster,
the instructor's button, a real Celery worker on Redis, the gradebook and its live socket."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from accounts.roles import Role
from classes.models import ClassGradingRun
from classes.selectors import gradebook_get
from classes.services import classroom_create, classroom_join
from labs.models import Attempt, GradingRun
from tests.fixtures.classes import PODS_EXERCISES, ClassSocket, client_for, person
from tests.fixtures.grading import kuard_pod
from tests.fixtures.learners import Learner
from tests.fixtures.processes import WebServer, WorkerProcess
from tests.sandbox.pods_live import pod_running

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
]

KUARD = "pods/kuard-pod"


def test_grade_the_class_grades_everyone_on_the_worker_and_the_gradebook_follows(
    make_learner: Callable[..., Learner],
    celery_worker_process: WorkerProcess,
    web_server: WebServer,
) -> None:
    teacher = person("teacher", role=Role.INSTRUCTOR)
    classroom = classroom_create(owner=teacher, name="Integration", labs=["pods"])
    ada, bob, cy = make_learner(), make_learner(), make_learner()
    idle = person("idle")  # joined, never opened a lesson: no environment
    for user in (ada.user, bob.user, cy.user, idle):
        classroom_join(user=user, code=classroom.join_code)
    applied = ada.kubectl("apply", "-f", "-", input=kuard_pod())
    assert applied.returncode == 0, applied.stderr
    pod_running(ada, "kuard")

    sock = ClassSocket(web_server, teacher, classroom.pk)
    try:
        response = client_for(teacher).post(f"/classes/{classroom.pk}/grade/")
        assert response.status_code == 302
        run = ClassGradingRun.objects.get(classroom=classroom)
        assert run.requested == 3 * PODS_EXERCISES and run.skipped == [idle.pk]

        started = sock.wait_for(
            lambda e: e["type"] == "classes.grading" and e["progress"]["done"] == 0,
            timeout=10, what="grading started",
        )  # fmt: skip
        assert sorted(started["checking"]) == sorted(u.user.pk for u in (ada, bob, cy))
        # A class grading sends its cells a chunk at a time, many in one message.
        chunk = sock.wait_for(
            lambda e: e["type"] == "classes.cells" and any(
                c["student"] == ada.user.pk and c["exercise"] == KUARD
                and c["status"] == "passed" for c in e["cells"]),
            timeout=60, what="ada's kuard cell turning green",
        )  # fmt: skip
        (passed,) = [c for c in chunk["cells"] if c["student"] == ada.user.pk
                     and c["exercise"] == KUARD]  # fmt: skip
        assert passed["completed_at"]
        finished = sock.wait_for(
            lambda e: e["type"] == "classes.grading" and e["progress"]["finished_at"],
            timeout=120, what="the run finishing",
        )  # fmt: skip
        assert (
            finished["progress"]["done"] == finished["progress"]["requested"] == 3 * PODS_EXERCISES
        )
    finally:
        sock.close()

    run.refresh_from_db()
    assert run.finished_at is not None and run.finished_at >= run.started_at
    cells = {
        (c["student"], c["exercise"]): c["status"]
        for e in sock.received
        if e["type"] == "classes.cells"
        for c in e["cells"]
    }
    assert len(cells) == 3 * PODS_EXERCISES  # every cell of the run came in a chunk
    assert cells[(bob.user.pk, KUARD)] == "failed" and cells[(cy.user.pk, KUARD)] == "failed"

    book = gradebook_get(classroom=classroom)
    rows = {s.id: s for s in book.students}
    assert rows[ada.user.pk].cell(KUARD).shown == "passed"
    assert rows[bob.user.pk].cell(KUARD).shown == "failed"
    assert rows[cy.user.pk].cell(KUARD).shown == "failed"
    assert rows[idle.pk].environment == "none" and rows[idle.pk].cells == {}
    assert book.pass_rate(KUARD) == pytest.approx(1 / 4)
    assert book.progress is not None and not book.progress.running
    # Graded by the instructor's trigger, through the same pipeline and records as any check.
    attempt = Attempt.objects.get(user=ada.user, lab="pods", exercise="kuard-pod")
    assert attempt.last_run_id is not None
    last = GradingRun.objects.get(pk=attempt.last_run_id)
    assert last.trigger == "instructor" and last.namespace == ada.namespace
    assert not Attempt.objects.filter(user=idle).exists()
