"""The real API server dies in the middle of a class grading and comes back (issue 16): every
cell it touched is "could not check, retrying", never a fail counted against the learner, and
the retry after the restart grades each cell as it really is. Killed twice: while the batch
reads the namespaces, and while its script checks run in their jails."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import k8s.objects
import labs.snapshot
from labs.batch import attempts_grade_batch, attempts_request
from labs.models import Attempt, Trigger
from tests.fixtures.cluster import CTL, Cluster
from tests.fixtures.grading import kuard_pod
from tests.fixtures.learners import Learner
from tests.sandbox.pods_live import pod_running

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
PIDFILE = ROOT / "var" / "cluster" / "kwok" / "clusters" / "kubelab" / "pids" / "kube-apiserver.pid"
KUARD = ("pods", "kuard-pod")
# The pods lab's first exercise, with a script check that reads the API server as the learner.
LISTED = {
    "id": "listed",
    "type": "script",
    "timeout": 30,
    "run": "kubectl --request-timeout=5s get pod kuard -o name",
    "message": {"en": "kubectl get pod kuard finds no Pod.", "zh-hant": "kubectl 找不到 kuard。"},
}


def _scripted_catalog(tmp_path: Path) -> str:
    root = tmp_path / "catalog"
    shutil.copytree(ROOT / "labs" / "catalog" / "pods", root / "pods")
    spec = yaml.safe_load((root / "pods" / "lab.yaml").read_text())
    spec["exercises"][0]["checks"].append(LISTED)
    (root / "pods" / "lab.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True))
    return str(root)


def _api_server_kill() -> None:
    """SIGKILL, as a crash or an OOM kill ends it: no graceful shutdown, connections refused."""
    pid = int(PIDFILE.read_text())
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 15
    while Path(f"/proc/{pid}/exe").exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def _api_server_answers(cluster: Cluster) -> bool:
    return cluster.kubectl("get", "--raw", "/readyz", check=False, timeout=10).returncode == 0


def _api_server_restart(cluster: Cluster) -> None:
    started = subprocess.run([str(CTL), "start"], capture_output=True, text=True, timeout=300)
    assert started.returncode == 0, started.stderr[-2000:]
    assert _api_server_answers(cluster)


@pytest.fixture
def restartable(cluster: Cluster) -> Iterator[Callable[[], None]]:
    """Restarts the API server; and whatever happens in the test, leaves it running."""
    if not cluster.embedded or not PIDFILE.is_file():
        pytest.skip("kills the embedded cluster's API server; this run uses another cluster")
    yield lambda: _api_server_restart(cluster)
    if not _api_server_answers(cluster):
        _api_server_restart(cluster)


def _statuses(ids: list[int]) -> dict[int, str]:
    return dict(Attempt.objects.filter(pk__in=ids).values_list("pk", "status"))


def _kill_on_call(patch: pytest.MonkeyPatch, module: Any, name: str, call: int) -> list[int]:
    """Patch module.name so that its ``call``-th call kills the API server first."""
    real = getattr(module, name)
    calls: list[int] = []

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == call:
            _api_server_kill()
        return real(*args, **kwargs)

    patch.setattr(module, name, wrapper)
    return calls


def test_an_api_server_killed_mid_batch_leaves_cells_retrying_and_never_failed(
    cluster: Cluster,
    make_learner: Callable[..., Learner],
    restartable: Callable[[], None],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KUBELAB_LABS_CATALOG", _scripted_catalog(tmp_path))
    solved, near, empty = make_learner(), make_learner(), make_learner()
    assert solved.kubectl("apply", "-f", "-", input=kuard_pod()).returncode == 0
    assert near.kubectl("apply", "-f", "-", input=kuard_pod("green")).returncode == 0
    pod_running(solved, "kuard")
    pod_running(near, "kuard")
    users = [solved.user, near.user, empty.user]
    asked = attempts_request(users=users, exercises=[KUARD], trigger=Trigger.INSTRUCTOR)
    ids = sorted(asked)
    by_user = {a.user_id: a.pk for a in Attempt.objects.filter(pk__in=ids)}

    # 1. Dead while the namespaces are read: the second namespace's LIST is refused.
    with monkeypatch.context() as patch:
        calls = _kill_on_call(patch, k8s.objects, "_list", 2)
        outcomes = attempts_grade_batch(attempt_ids=ids, tries=1, final_try=False)
    assert len(calls) >= 2
    assert not _api_server_answers(cluster)
    assert set(outcomes.values()) == {"inconclusive"}, outcomes
    assert set(_statuses(ids).values()) == {"inconclusive"}
    for attempt in Attempt.objects.filter(pk__in=ids).select_related("last_run"):
        assert attempt.completed_at is None and attempt.graded_generation < asked[attempt.pk]
        assert attempt.last_run is not None and attempt.last_run.status == "inconclusive"

    # 2. Back, and dead again while the scripts run: the object checks were read, so the
    # near miss (wrong image) and the empty namespace fail for real; the solved learner's
    # script could not ask the API server, so that cell is retrying, not failed.
    restartable()
    with monkeypatch.context() as patch:
        calls = _kill_on_call(patch, labs.snapshot, "learner_shell_run", 1)
        outcomes = attempts_grade_batch(attempt_ids=ids, tries=2, final_try=False)
    assert calls == [1], "only the solved learner's object checks pass, so one script ran"
    statuses = _statuses(ids)
    assert statuses[by_user[solved.user.pk]] == "inconclusive", statuses
    assert statuses[by_user[near.user.pk]] == statuses[by_user[empty.user.pk]] == "failed"
    assert outcomes[by_user[solved.user.pk]] == "inconclusive"
    run = Attempt.objects.get(pk=by_user[solved.user.pk]).last_run
    assert run is not None
    script = run.evidence["scripts"]["listed"]
    assert script["exit_code"] is None
    assert "could not be reached while the check ran" in script["error"]

    # 3. The retry after the restart grades what is really there.
    restartable()
    outcomes = attempts_grade_batch(attempt_ids=[by_user[solved.user.pk]], tries=3)
    assert outcomes == {by_user[solved.user.pk]: "passed"}
    solved_attempt = Attempt.objects.get(pk=by_user[solved.user.pk])
    assert solved_attempt.status == "passed" and solved_attempt.completed_at is not None
    assert solved_attempt.graded_generation == asked[solved_attempt.pk]
