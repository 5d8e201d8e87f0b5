"""Class grading in one pass (labs.batch) against the real cluster: every cell comes out exactly
as the per-learner path grades it, for solved, failed, near-miss, empty, asleep and unreachable
learners, and a batch delivered twice writes nothing twice (issue 16)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

import k8s
from labs import batch
from labs.batch import attempts_grade_batch, attempts_request
from labs.models import Attempt, CheckResult, GradingRun, Trigger
from labs.selectors import catalog_get
from labs.services import attempt_grade
from sandbox.models import LearnerEnvironment as EnvironmentRow
from tests.fixtures.grading import kuard_pod
from tests.fixtures.learners import Learner
from tests.fixtures.processes import free_port
from tests.sandbox.pods_live import pod_running

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]

LABS = ("pods", "replicasets", "labels-annotations", "verify-cluster")
REPLICASET = """\
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: kuard, labels: {app: kuard}}
spec:
  replicas: 2
  selector: {matchLabels: {app: kuard}}
  template:
    metadata: {labels: {app: kuard}}
    spec: {containers: [{name: kuard, image: "gcr.io/kuar-demo/kuard-amd64:blue"}]}
"""


def exercises() -> list[tuple[str, str]]:
    catalog = catalog_get()
    return [(slug, e.id) for slug in LABS for e in catalog.lab(slug).exercises]


def cells(attempt_ids: list[int]) -> dict[tuple[int, str], tuple[Any, ...]]:
    """What a gradebook and a learner see of each attempt's newest run, check by check."""
    seen = {}
    for attempt in Attempt.objects.filter(pk__in=attempt_ids).select_related("last_run"):
        run = attempt.last_run
        assert run is not None, attempt
        # An inconclusive check's detail names the first request that failed, which differs
        # (the batch lists every kind the class needs): what the learner reads does not.
        checks = tuple(
            (r.check_id, r.status, r.message.get("en"), r.message.get("zh-hant"),
             "" if r.status == "inconclusive" else r.detail)
            for r in CheckResult.objects.filter(run=run).order_by("position")
        )  # fmt: skip
        objects = {kind: sorted(o["metadata"]["name"] for o in items)
                   for kind, items in (run.evidence.get("objects") or {}).items()}  # fmt: skip
        seen[(attempt.user_id, attempt.exercise_key)] = (
            attempt.status, attempt.completed_at is not None, run.status, run.namespace,
            objects, checks,
        )  # fmt: skip
    return seen


def both_paths(users: list[Any]) -> tuple[dict[Any, Any], dict[Any, Any], list[int]]:
    """Grade every (user, exercise) by the batch, then again one by one."""
    asked = attempts_request(users=users, exercises=exercises(), trigger=Trigger.INSTRUCTOR)
    ids = sorted(asked)
    outcomes = attempts_grade_batch(attempt_ids=ids)
    assert set(outcomes) == set(ids)
    batched = cells(ids)
    attempts_request(users=users, exercises=exercises(), trigger=Trigger.INSTRUCTOR)
    for attempt_id in ids:
        attempt_grade(attempt_id=attempt_id)
    return batched, cells(ids), ids


@pytest.mark.parametrize("read", ["every namespace at once", "namespace by namespace"])
def test_the_batch_grades_every_cell_as_the_per_learner_path_does(
    make_learner: Callable[..., Learner], monkeypatch: pytest.MonkeyPatch, read: str
) -> None:
    # Four learners are "few": the cluster-wide LIST a class of hundreds takes is forced too.
    monkeypatch.setattr(batch, "FEW_NAMESPACES", 0 if read == "every namespace at once" else 5)
    listed: list[frozenset[str]] = []
    real = k8s.objects_list_by_namespace

    def counted(kinds: frozenset[str]) -> dict[str, Any]:
        listed.append(frozenset(kinds))
        return real(kinds=kinds)

    monkeypatch.setattr(batch.k8s, "objects_list_by_namespace", counted)
    solved, near, empty, asleep = (make_learner() for _ in range(4))
    assert solved.kubectl("apply", "-f", "-", input=kuard_pod()).returncode == 0
    assert solved.kubectl("apply", "-f", "-", input=REPLICASET).returncode == 0
    assert near.kubectl("apply", "-f", "-", input=kuard_pod("green")).returncode == 0
    assert near.kubectl("label", "pod", "kuard", "app=kuard", "env=dev").returncode == 0
    pod_running(solved, "kuard")
    pod_running(near, "kuard")
    EnvironmentRow.objects.filter(user=asleep.user).update(status="suspended")
    users = [solved.user, near.user, empty.user, asleep.user]

    batched, one_by_one, ids = both_paths(users)

    assert len(batched) == len(one_by_one) == len(users) * len(exercises())
    assert batched == one_by_one
    # Every kind was read once for the whole class, or not at all that way.
    assert len(listed) == (1 if read == "every namespace at once" else 0)
    statuses = {key: cell[0] for key, cell in batched.items()}
    assert statuses[(solved.user.pk, "pods/kuard-pod")] == "passed"
    assert statuses[(near.user.pk, "pods/kuard-pod")] == "failed"
    near_miss = batched[(near.user.pk, "pods/kuard-pod")][5]
    assert any("kuard-amd64:blue" in (en or "") and "Found" in (en or "")
               for _, status, en, _, _ in near_miss if status == "fail")  # fmt: skip
    assert statuses[(empty.user.pk, "pods/kuard-pod")] == "failed"
    # An asleep learner's namespace is gone: "starting", never a failed exercise.
    asleep_cells = [cell for (user, _), cell in batched.items() if user == asleep.user.pk]
    assert {cell[0] for cell in asleep_cells} == {"inconclusive"}
    assert "passed" in statuses.values() and "failed" in statuses.values()
    # Two gradings per attempt, one run each: nothing lost, nothing written twice.
    assert GradingRun.objects.filter(attempt_id__in=ids).count() == 2 * len(ids)


def test_a_batch_delivered_twice_writes_nothing_twice(
    make_learner: Callable[..., Learner],
) -> None:
    learners = [make_learner() for _ in range(2)]
    asked = attempts_request(
        users=[learner.user for learner in learners], exercises=exercises(),
        trigger=Trigger.INSTRUCTOR,
    )  # fmt: skip
    ids = sorted(asked)
    first = attempts_grade_batch(attempt_ids=ids)
    runs = GradingRun.objects.filter(attempt_id__in=ids).count()
    assert runs == len(ids) and set(first.values()) <= {"passed", "failed"}
    again = attempts_grade_batch(attempt_ids=ids)  # a redelivered task, after its commit
    assert set(again.values()) == {"up-to-date"}
    assert GradingRun.objects.filter(attempt_id__in=ids).count() == runs


def test_an_unreachable_api_server_leaves_every_cell_inconclusive_never_failed(
    make_learner: Callable[..., Learner], cluster: Any, settings: Any, tmp_path: Path
) -> None:
    learner = make_learner()
    kubeconfig = tmp_path / "platform.kubeconfig"
    document = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    for entry in document["clusters"]:
        entry["cluster"]["server"] = f"https://127.0.0.1:{free_port()}"  # a closed port
    kubeconfig.write_text(yaml.safe_dump(document))
    settings.KUBELAB_KUBECONFIG = str(kubeconfig)

    batched, one_by_one, ids = both_paths([learner.user])

    assert batched == one_by_one
    assert {cell[0] for cell in batched.values()} == {"inconclusive"}
    attempts = Attempt.objects.filter(pk__in=ids)
    assert not attempts.filter(graded_generation__gt=0).exists()  # graded again once back
    assert not attempts.filter(completed_at__isnull=False).exists()
