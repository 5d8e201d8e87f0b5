"""Holding a learner's environment: one holder at a time, no database lock while the cluster
answers, a dead holder overtaken, a busy environment reported rather than waited on forever."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

import k8s
from sandbox import services
from sandbox.models import LearnerEnvironment
from sandbox.services import holds, lifecycle, sandbox_provision, sandbox_teardown
from tests.fixtures.learners import Learner


def _environment(name: str) -> LearnerEnvironment:
    user = get_user_model().objects.create_user(username=name, password="x" * 12)
    return LearnerEnvironment.objects.create(user=user, environment_id=name[:12])


@pytest.mark.django_db
def test_one_holder_at_a_time_and_only_the_holder_gives_it_back() -> None:
    env = _environment("hold-one")
    first = holds.hold_take(env.pk)
    assert first is not None
    assert holds.hold_take(env.pk, wait_seconds=0) is None
    holds.hold_give(env.pk, "not-the-token")  # someone else's give changes nothing
    assert holds.hold_take(env.pk, wait_seconds=0) is None
    holds.hold_give(env.pk, first)
    second = holds.hold_take(env.pk, wait_seconds=0)
    assert second is not None and second != first
    env.refresh_from_db()
    assert env.held_by == second and env.held_until is not None


@pytest.mark.django_db
def test_a_dead_holder_is_overtaken_once_its_hold_runs_out() -> None:
    env = _environment("hold-dead")
    LearnerEnvironment.objects.filter(pk=env.pk).update(
        held_by="gone", held_until=timezone.now() - timedelta(seconds=1)
    )
    assert holds.hold_take(env.pk, wait_seconds=0) is not None


@pytest.mark.django_db
def test_the_hold_is_given_back_when_the_work_fails() -> None:
    env = _environment("hold-fail")
    with pytest.raises(RuntimeError), holds.environment_held(env.pk):
        raise RuntimeError("the work failed")
    env.refresh_from_db()
    assert env.held_until is None and env.held_by == ""


@pytest.mark.django_db
def test_a_busy_environment_is_reported_not_waited_on_forever(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(holds, "HOLD_WAIT_SECONDS", 0.3)
    env = _environment("hold-busy")
    assert holds.hold_take(env.pk) is not None
    started = time.monotonic()
    with pytest.raises(services.EnvironmentBusy), holds.environment_held(env.pk):
        pass
    assert time.monotonic() - started < 5
    # EnvironmentBusy is cluster-like trouble: callers that handle an unreachable cluster
    # handle it too.
    assert issubclass(services.EnvironmentBusy, k8s.ClusterUnavailable)


@pytest.mark.cluster
@pytest.mark.django_db(transaction=True)
def test_a_learner_provisioned_from_many_places_at_once_gets_one_namespace(
    cluster: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page load, a terminal and a retry task provisioning one learner at the same moment."""
    monkeypatch.setattr(lifecycle, "_pool_refill_soon", lambda: None)
    user = get_user_model().objects.create_user(username="hold-many", password="x" * 12)
    start = threading.Barrier(4)
    results: list[Any] = []

    def provision() -> None:
        try:
            start.wait()
            results.append(sandbox_provision(user=user))
        finally:
            connection.close()

    threads = [threading.Thread(target=provision) for _ in range(4)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        env = LearnerEnvironment.objects.get(user=user)
        assert env.status == "ready" and env.provisionings == 1
        assert {r.namespace for r in results if r.status == "ready"} == {env.namespace}
        assert env.held_until is None
        assert cluster.kubectl("get", "namespace", env.namespace, check=False).returncode == 0
    finally:
        sandbox_teardown(user=user)


@pytest.mark.cluster
@pytest.mark.django_db(transaction=True)
def test_no_database_lock_is_held_while_the_cluster_answers(
    make_learner: Callable[..., Learner], monkeypatch: pytest.MonkeyPatch
) -> None:
    """While one learner's reset waits on a slow cluster, another learner's write goes through
    at once (on SQLite a held write transaction would make it wait for the whole reset)."""
    learner = make_learner("hold-slow")
    other = _environment("hold-other")
    wiping = threading.Event()
    release = threading.Event()
    real_wipe = lifecycle._namespace_wipe

    def slow_wipe(namespace: str) -> None:
        wiping.set()
        release.wait(30)
        real_wipe(namespace)

    monkeypatch.setattr(lifecycle, "_namespace_wipe", slow_wipe)
    failures: list[BaseException] = []

    def reset() -> None:
        try:
            services.sandbox_reset(user=learner.user)
        except BaseException as exc:  # reported below
            failures.append(exc)
        finally:
            connection.close()

    resetting = threading.Thread(target=reset)
    resetting.start()
    try:
        assert wiping.wait(30), "the reset never reached the cluster"
        started = time.monotonic()
        LearnerEnvironment.objects.filter(pk=other.pk).update(last_active_at=timezone.now())
        services.sandbox_touch(user=learner.user)
        took = time.monotonic() - started
        assert took < 2, f"a write waited {took:.1f} s behind the reset"
    finally:
        release.set()
        resetting.join(60)
    assert not failures
    env = LearnerEnvironment.objects.get(user=learner.user)
    assert env.resets == 1 and env.held_until is None
