"""The watcher's shared cache against the real cluster (issue 16): a grading read from it comes out
exactly as one that lists the namespace, cell by cell, without asking the API server; and the
running watcher grades a learner's change itself, with no grading worker at all."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import k8s
from labs import snapshot as snapshot_module
from labs import watcher as watcher_module
from labs.batch import attempts_request
from labs.checks import exercise_needs
from labs.models import Attempt, Trigger
from labs.selectors import exercise_get
from labs.services import attempt_grade, cache_answers, lab_auto_check_enable
from tests.fixtures.grading import EventSocket, Process, kuard_pod, result_for
from tests.fixtures.learners import Learner
from tests.labs.test_batch import REPLICASET, cells, exercises
from tests.sandbox.pods_live import pod_running

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def cache_only_watcher(monkeypatch: pytest.MonkeyPatch) -> Iterator[watcher_module.Watcher]:
    """The watcher's list-and-watch threads feeding its cache, and nothing that grades (they
    would touch the test database from threads of their own)."""
    monkeypatch.setattr(watcher_module, "WATCH_SECONDS", 3)  # threads notice the stop quickly
    watcher = watcher_module.Watcher(debounce=0.1, graders=1)
    assert watcher.cache is not None
    kinds = (*watcher_module.WATCHED_KINDS, *watcher_module.CACHED_ONLY_KINDS)
    threads = [
        threading.Thread(target=watcher.watch_kind, args=(kind, None, lambda ns: None), daemon=True)
        for kind in kinds
    ]
    for thread in threads:
        thread.start()
    yield watcher
    watcher.stop.set()
    for thread in threads:
        thread.join(timeout=10)


def caught_up(cache: k8s.ObjectCache, namespaces: list[str], kinds: frozenset[str]) -> None:
    """Wait until the cache holds what a LIST of each namespace returns, version for version."""

    def versions(objects: dict[str, list[dict[str, Any]]] | None) -> Any:
        if objects is None:
            return None
        return {
            kind: [(o["metadata"]["name"], o["metadata"]["resourceVersion"]) for o in items]
            for kind, items in objects.items()
        }

    deadline = time.monotonic() + 30
    for namespace in namespaces:
        while versions(cache.read(namespace, kinds)) != versions(
            k8s.objects_list(namespace=namespace, kinds=kinds)
        ):
            assert time.monotonic() < deadline, f"the cache never caught up with {namespace}"
            time.sleep(0.05)


def test_a_grading_from_the_cache_is_the_grading_a_live_read_gives(
    make_learner: Callable[..., Learner],
    cache_only_watcher: watcher_module.Watcher,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache = cache_only_watcher.cache
    assert cache is not None
    solved, near, empty = (make_learner() for _ in range(3))
    assert solved.kubectl("apply", "-f", "-", input=kuard_pod()).returncode == 0
    assert solved.kubectl("apply", "-f", "-", input=REPLICASET).returncode == 0
    assert near.kubectl("apply", "-f", "-", input=kuard_pod("green")).returncode == 0
    assert near.kubectl("label", "pod", "kuard", "app=kuard", "env=dev").returncode == 0
    pod_running(solved, "kuard")
    pod_running(near, "kuard")
    learners = [solved, near, empty]
    read = frozenset().union(
        *(exercise_needs(exercise_get(lab_slug=s, exercise_id=e)[1]).kinds for s, e in exercises())
    )
    caught_up(cache, [learner.namespace for learner in learners], read)

    listed: list[str] = []
    real_list = k8s.objects_list

    def counted(*, namespace: str, kinds: Any) -> Any:
        listed.append(namespace)
        return real_list(namespace=namespace, kinds=kinds)

    monkeypatch.setattr(snapshot_module.k8s, "objects_list", counted)
    users = [learner.user for learner in learners]
    ids = sorted(attempts_request(users=users, exercises=exercises(), trigger=Trigger.INSTRUCTOR))
    for attempt_id in ids:
        attempt_grade(attempt_id=attempt_id, cache=cache)
    from_cache = cells(ids)
    # Only the exercises the cache cannot answer (script checks) read the cluster.
    live_reads = sum(
        not cache_answers(cache, exercise_get(lab_slug=s, exercise_id=e)[1]) for s, e in exercises()
    )
    assert 0 < live_reads < len(exercises())
    assert len(listed) == live_reads * len(learners)

    attempts_request(users=users, exercises=exercises(), trigger=Trigger.INSTRUCTOR)
    for attempt_id in ids:
        attempt_grade(attempt_id=attempt_id)
    live = cells(ids)

    assert from_cache == live
    statuses = {key: cell[0] for key, cell in from_cache.items()}
    assert statuses[(solved.user.pk, "pods/kuard-pod")] == "passed"
    assert statuses[(near.user.pk, "pods/kuard-pod")] == "failed"
    assert statuses[(empty.user.pk, "pods/kuard-pod")] == "failed"


def test_an_unsynced_cache_sends_the_grading_to_the_cluster(
    make_learner: Callable[..., Learner],
    cache_only_watcher: watcher_module.Watcher,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache = cache_only_watcher.cache
    assert cache is not None
    learner = make_learner()
    assert learner.kubectl("apply", "-f", "-", input=kuard_pod()).returncode == 0
    pod_running(learner, "kuard")
    caught_up(cache, [learner.namespace], frozenset({"Pod"}))
    # A watch that broke: its last picture may be missing changes, so it answers nothing.
    cache.replace("Pod", [], "1")
    cache.unsync("Pod")
    (attempt_id,) = attempts_request(
        users=[learner.user], exercises=[("pods", "kuard-pod")], trigger=Trigger.INSTRUCTOR
    )
    assert attempt_grade(attempt_id=attempt_id, cache=cache) == "passed"


@pytest.mark.worker
def test_the_watcher_grades_a_change_from_its_cache_with_no_worker_running(
    make_learner: Callable[..., Learner],
    grading_queue: str,
    labs_watcher: Process,
    event_socket: Callable[[Any], EventSocket],
) -> None:
    # grading_queue is a queue no worker consumes: only the watcher itself can grade.
    learner = make_learner()
    sock = event_socket(learner.user)
    lab_auto_check_enable(user=learner.user, lab_slug="pods")
    started = time.monotonic()
    assert learner.kubectl("apply", "-f", "-", input=kuard_pod()).returncode == 0
    event = sock.wait_for(result_for("pods/kuard-pod", "passed"), timeout=20, what="a pass")
    assert event["trigger"] == "watch"
    assert time.monotonic() - started < 10
    attempt = Attempt.objects.get(user=learner.user, lab="pods", exercise="kuard-pod")
    assert attempt.completed_at is not None
    # The liveness exercise has script checks: those still wait for a grading worker.
    scripted = Attempt.objects.get(user=learner.user, lab="pods", exercise="liveness-restart")
    assert scripted.graded_generation == 0
    assert "grading from a shared cache" in labs_watcher.text()
