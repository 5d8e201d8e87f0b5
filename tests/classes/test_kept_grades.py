"""Grades an instructor can use, against the real cluster (issue 16): partial credit from points
on checks, grades taken when a deadline passes (kept, never pruned), a regrade from the kept
evidence after a fixed spec (with the namespace changed or gone), and a script check that
fails because the API server is away being inconclusive, never failed."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.test import Client
from django.utils import timezone

from accounts.roles import Role
from classes.deadline_grades import due_moments
from classes.models import ClassGradingRequest, ClassGradingRun, Deadline, DeadlineGrade
from classes.selectors import gradebook_get
from classes.services import class_batch_grade, classroom_create, classroom_join
from classes.tasks import deadline_grade_task, deadlines_take_task
from labs.batch import attempts_grade_batch, attempts_request
from labs.checks import Snapshot, exercise_evaluate
from labs.models import Attempt, GradingRun, Trigger
from labs.selectors import catalog_get, exercise_get
from labs.services import runs_prune
from labs.snapshot import snapshot_scripts_run
from sandbox.models import LearnerEnvironment as EnvironmentRow
from tests.fixtures.classes import person
from tests.fixtures.grading import kuard_pod
from tests.fixtures.learners import Learner
from tests.fixtures.processes import free_port
from tests.sandbox.pods_live import pod_running

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]

CATALOG = Path(__file__).resolve().parents[2] / "labs" / "catalog"


def one_lab_catalog(tmp_path: Path, name: str, edit: Callable[[dict[str, Any]], None]) -> str:
    """The catalog's pods lab alone, its lab.yaml changed by ``edit``."""
    root = tmp_path / name
    shutil.copytree(CATALOG / "pods", root / "pods")
    spec = yaml.safe_load((root / "pods" / "lab.yaml").read_text())
    edit(spec["exercises"][0])  # kuard-pod
    (root / "pods" / "lab.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True))
    return str(root)


def _check(exercise: dict[str, Any], check_id: str) -> dict[str, Any]:
    return next(c for c in exercise["checks"] if c["id"] == check_id)


def _points(exercise: dict[str, Any]) -> None:
    for check in exercise["checks"]:  # exists, image, port, running
        check["points"] = {"exists": 1, "image": 2, "running": 2}.get(check["id"], 0)


def _wrong_image(exercise: dict[str, Any]) -> None:
    _check(exercise, "image")["equals"] = "gcr.io/kuar-demo/kuard-amd64:purple"  # a broken spec


def test_points_on_checks_give_a_near_miss_partial_credit_that_is_kept(
    make_learner: Callable[..., Learner], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBELAB_LABS_CATALOG", one_lab_catalog(tmp_path, "points", _points))
    exercise = exercise_get(lab_slug="pods", exercise_id="kuard-pod")[1]
    assert exercise.partial_credit and exercise.points == 5
    near = make_learner()
    assert near.kubectl("apply", "-f", "-", input=kuard_pod("green")).returncode == 0
    pod_running(near, "kuard")
    teacher = person("teacher", role=Role.INSTRUCTOR)
    classroom = classroom_create(owner=teacher, name="Points", labs=["pods"])
    classroom_join(user=near.user, code=classroom.join_code)

    asked = attempts_request(
        users=[near.user], exercises=[("pods", "kuard-pod")], trigger=Trigger.INSTRUCTOR
    )
    attempts_grade_batch(attempt_ids=list(asked))
    attempt = Attempt.objects.get(pk=next(iter(asked)))
    run = attempt.last_run
    assert run is not None and run.status == "failed"
    failing = set(run.results.filter(status="fail").values_list("check_id", flat=True))
    assert failing == {"image"}
    earned = 1 + 2  # exists and running; the port check passes too but is worth nothing
    assert run.points == attempt.best_points == earned
    book = gradebook_get(classroom=classroom)
    row = book.rows()[0]
    assert row.points == earned and book.points_possible(["pods/kuard-pod"]) == 5

    # Deleting the pod fails everything now; the best partial credit is kept.
    assert near.kubectl("delete", "pod", "kuard", "--wait=false").returncode == 0
    near.kubectl("wait", "--for=delete", "pod/kuard", "--timeout=30s")
    attempts_request(users=[near.user], exercises=[("pods", "kuard-pod")], trigger=Trigger.BUTTON)
    attempts_grade_batch(attempt_ids=list(asked))
    attempt.refresh_from_db()
    assert attempt.last_run is not None
    assert attempt.last_run.points == 0 and attempt.best_points == earned
    assert gradebook_get(classroom=classroom).rows()[0].points == earned


def test_a_regrade_from_kept_evidence_applies_a_fixed_spec_without_the_namespace(
    make_learner: Callable[..., Learner],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An instructor's spec wrongly wanted a purple image; the class was graded with it, then
    the spec is fixed. The learner has since deleted the pod (and another learner's environment
    is asleep): the regrade reads only what the first grading kept."""
    monkeypatch.setenv("KUBELAB_LABS_CATALOG", one_lab_catalog(tmp_path, "broken", _wrong_image))
    solved, sleeper = make_learner(), make_learner()
    for learner in (solved, sleeper):
        assert learner.kubectl("apply", "-f", "-", input=kuard_pod()).returncode == 0
        pod_running(learner, "kuard")
    teacher = person("teacher", role=Role.INSTRUCTOR)
    classroom = classroom_create(owner=teacher, name="Regrade", labs=["pods"])
    for learner in (solved, sleeper):
        classroom_join(user=learner.user, code=classroom.join_code)
    users = [solved.user, sleeper.user]
    asked = attempts_request(users=users, exercises=[("pods", "kuard-pod")], trigger="instructor")
    attempts_grade_batch(attempt_ids=list(asked))
    assert set(Attempt.objects.filter(pk__in=asked).values_list("status", flat=True)) == {"failed"}
    before = {a.pk: a.last_run_id for a in Attempt.objects.filter(pk__in=asked)}

    assert solved.kubectl("delete", "pod", "kuard", "--wait=false").returncode == 0
    EnvironmentRow.objects.filter(user=sleeper.user).update(status="suspended")
    monkeypatch.setenv("KUBELAB_LABS_CATALOG", str(CATALOG))  # the fixed spec

    queued: list[tuple[Any, ...]] = []
    monkeypatch.setattr(
        "classes.tasks.class_grade_batch_task.apply_async",
        lambda args, kwargs=None, queue=None: queued.append((args, kwargs)),
    )
    client = Client()
    client.force_login(teacher)
    # Only the class's own labs may be named.
    refused = client.post(f"/classes/{classroom.pk}/regrade/", {"lab": "jobs"}, follow=True)
    assert "is not one of this class" in refused.content.decode()
    assert not ClassGradingRun.objects.filter(classroom=classroom).exists()
    response = client.post(f"/classes/{classroom.pk}/regrade/", {"lab": "pods"}, follow=True)
    assert "Regrading 2 exercises from kept evidence" in response.content.decode()
    run = ClassGradingRun.objects.get(classroom=classroom)
    assert run.from_evidence and run.lab == "pods" and run.requested == 2 and run.skipped == []
    assert len(queued) == 1 and queued[0][1] == {"from_evidence": True}
    (run_id, attempt_ids), task_kwargs = queued[0]
    left = class_batch_grade(
        run_id=run_id, attempt_ids=attempt_ids, tries=1, final_try=False, **task_kwargs
    )
    assert left == []

    for attempt in Attempt.objects.filter(pk__in=asked).select_related("last_run"):
        assert attempt.status == "passed" and attempt.completed_at is not None, attempt
        assert attempt.last_run_id != before[attempt.pk] and attempt.last_run is not None
        assert attempt.last_run.trigger == Trigger.REGRADE
        names = [o["metadata"]["name"] for o in attempt.last_run.evidence["objects"]["Pod"]]
        assert names == ["kuard"]  # the pod as it was when first graded, not as it is now
    assert ClassGradingRequest.objects.filter(run=run).count() == 2
    # The live namespace really has changed: grading it now fails.
    attempts_request(users=[solved.user], exercises=[("pods", "kuard-pod")], trigger="button")
    solved.kubectl("wait", "--for=delete", "pod/kuard", "--timeout=30s")
    attempts_grade_batch(attempt_ids=[a for a in asked if a in attempt_ids][:1])
    live = Attempt.objects.get(user=solved.user, lab="pods", exercise="kuard-pod").last_run
    assert live is not None
    assert live.status == "failed" and live.evidence["objects"]["Pod"] == []


def test_a_regrade_whose_evidence_lacks_what_the_spec_reads_now_changes_nothing(
    make_learner: Callable[..., Learner], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    learner = make_learner()
    assert learner.kubectl("apply", "-f", "-", input=kuard_pod()).returncode == 0
    pod_running(learner, "kuard")
    asked = attempts_request(
        users=[learner.user], exercises=[("pods", "kuard-pod")], trigger="instructor"
    )
    attempts_grade_batch(attempt_ids=list(asked))
    attempt = Attempt.objects.get(pk=next(iter(asked)))
    assert attempt.status == "passed"
    last = attempt.last_run_id

    def reads_services(exercise: dict[str, Any]) -> None:
        exercise["checks"].append(
            {"id": "svc", "type": "exists", "kind": "Service", "name": "kuard"}
        )

    monkeypatch.setenv("KUBELAB_LABS_CATALOG", one_lab_catalog(tmp_path, "svc", reads_services))
    from labs.batch import attempts_rerequest

    generations = attempts_rerequest(attempt_ids=list(asked), trigger=Trigger.REGRADE)
    outcomes = attempts_grade_batch(
        attempt_ids=list(asked), from_evidence=True, generations=generations
    )
    assert set(outcomes.values()) == {"not-regradable"}
    attempt.refresh_from_db()
    # No new run, the last grading's status back, and the request answered (not "checking").
    assert attempt.last_run_id == last and attempt.status == "passed"
    assert attempt.graded_generation == attempt.requested_generation


def test_the_deadline_grades_each_student_then_and_keeps_that_grading(
    make_learner: Callable[..., Learner], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ada's pod is right at the deadline and nobody pressed Check; Bob's is wrong at it and
    fixed later (late); Cleo has an extension still ahead, so nothing is taken for her yet."""
    ada, bob, cleo = make_learner(), make_learner(), make_learner()
    assert ada.kubectl("apply", "-f", "-", input=kuard_pod()).returncode == 0
    assert bob.kubectl("apply", "-f", "-", input=kuard_pod("green")).returncode == 0
    pod_running(ada, "kuard")
    pod_running(bob, "kuard")
    teacher = person("teacher", role=Role.INSTRUCTOR)
    classroom = classroom_create(owner=teacher, name="Due", labs=["pods"])
    for learner in (ada, bob, cleo):
        classroom_join(user=learner.user, code=classroom.join_code)
    due = timezone.now() - timedelta(seconds=5)
    Deadline.objects.create(classroom=classroom, lab="pods", due_at=due)
    from classes.deadlines import extension_grant

    extension_grant(
        classroom=classroom, student_id=cleo.user.pk, lab="pods", due_at=due + timedelta(days=1)
    )
    moments = due_moments()
    assert [(m.lab, set(m.student_ids)) for m in moments] == [("pods", {ada.user.pk, bob.user.pk})]

    queued: list[list[int]] = []
    monkeypatch.setattr(
        deadline_grade_task, "apply_async", lambda args, queue=None: queued.append(args[0])
    )
    exercises = len(catalog_get().lab("pods").exercises)
    assert deadlines_take_task() == 2 * exercises
    assert due_moments() == []  # taken: the next beat asks for nothing more
    assert deadlines_take_task() == 0
    for grade_ids in queued:
        deadline_grade_task.apply(args=(grade_ids,)).get()

    grades = DeadlineGrade.objects.filter(classroom=classroom, exercise="kuard-pod")
    by_student = {g.student_id: g for g in grades}
    assert set(by_student) == {ada.user.pk, bob.user.pk}
    assert by_student[ada.user.pk].status == "passed" and by_student[ada.user.pk].points == 1
    assert by_student[bob.user.pk].status == "failed"
    for grade in grades:
        assert grade.run is not None
        assert grade.settled_at is not None and grade.run.kept and grade.due_at == due
        assert grade.run.trigger == Trigger.DEADLINE and grade.run.evidence["objects"]["Pod"]
    assert DeadlineGrade.objects.filter(classroom=classroom, settled_at__isnull=True).count() == 0

    # Bob fixes his pod after the deadline: it counts, as late, not by the deadline.
    assert bob.kubectl("delete", "pod", "kuard").returncode == 0
    assert bob.kubectl("apply", "-f", "-", input=kuard_pod()).returncode == 0
    pod_running(bob, "kuard")
    again = attempts_request(users=[bob.user], exercises=[("pods", "kuard-pod")], trigger="button")
    attempts_grade_batch(attempt_ids=list(again))
    book = gradebook_get(classroom=classroom)
    rows = {r.student.id: r for r in book.rows()}
    key = "pods/kuard-pod"
    ada_row, bob_row = rows[ada.user.pk], rows[bob.user.pk]
    # Ada's completion was stamped a moment after the deadline by the deadline's own grading.
    assert key not in ada_row.late and key in ada_row.passed_at_deadline
    assert ada_row.on_time_cells[key] == 1
    assert key in bob_row.late and bob_row.on_time_cells[key] == 0 and bob_row.points >= 1
    assert rows[cleo.user.pk].on_time_cells[key] == 0  # nothing done, deadline ahead

    # The kept run outlives pruning, however many gradings follow.
    bob_attempt = Attempt.objects.get(user=bob.user, lab="pods", exercise="kuard-pod")
    kept = by_student[bob.user.pk].run_id
    assert kept is not None
    GradingRun.objects.filter(attempt=bob_attempt).exclude(pk=kept).update(kept=False)
    for _ in range(25):
        attempts_request(users=[bob.user], exercises=[("pods", "kuard-pod")], trigger="watch")
        attempts_grade_batch(attempt_ids=[bob_attempt.pk])
    runs_prune(bob_attempt)
    assert GradingRun.objects.filter(pk=kept).exists()
    assert GradingRun.objects.filter(attempt=bob_attempt).count() <= 22


def test_a_script_that_fails_because_the_api_server_is_away_is_inconclusive(
    make_learner: Callable[..., Learner], tmp_path: Path
) -> None:
    """The jail runs the author's script with the learner's kubeconfig; pointed at a closed
    port (the API server restarting), kubectl fails: the check could not say, it did not fail.
    The same script against the real API server fails for what it checks."""
    learner = make_learner()
    lab = catalog_get().lab("pods")
    exercise = lab.exercise("kuard-pod")
    script = {
        "id": "probe",
        "type": "script",
        "timeout": 30,
        "run": "kubectl --request-timeout=2s get pod nope",
    }
    from labs.spec import Exercise

    scripted = Exercise.model_validate(
        {**exercise.model_dump(), "checks": [script], "near_misses": [
            {"id": "none", "description": "n", "commands": ["true"], "fails": ["probe"]}
        ]}
    )  # fmt: skip
    real = learner.kubeconfig.read_text()
    config = yaml.safe_load(real)
    config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{free_port()}"
    away = yaml.safe_dump(config)
    base = Snapshot(learner.namespace, {}, None)

    cut = snapshot_scripts_run(lab=lab, exercise=scripted, snapshot=base, kubeconfig=lambda: away)
    assert cut.scripts["probe"].exit_code is None
    assert "could not be reached while the check ran" in cut.scripts["probe"].error
    assert exercise_evaluate(scripted, cut).status == "inconclusive"

    there = snapshot_scripts_run(lab=lab, exercise=scripted, snapshot=base, kubeconfig=lambda: real)
    assert there.scripts["probe"].exit_code not in (0, None)
    assert exercise_evaluate(scripted, there).status == "failed"
