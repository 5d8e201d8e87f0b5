"""Pruning guests on the real cluster: an old guest goes with its namespace; a claimed account and
a recent guest stay; an unreachable cluster postpones, and never breaks the worker's task."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

import k8s
from accounts.services import guest_claim, guest_start, guests_prune
from accounts.tasks import guests_prune_task
from labs.models import Attempt
from sandbox.models import LearnerEnvironment
from sandbox.services import sandbox_provision, sandbox_teardown
from tests.fixtures.cluster import Cluster
from tests.sandbox.test_lifecycle import _dead_kubeconfig, _namespace_gone_or_going

pytestmark = [pytest.mark.cluster, pytest.mark.django_db]


def _users_exist(*users: Any) -> list[bool]:
    return [get_user_model().objects.filter(pk=u.pk).exists() for u in users]


def _last_seen(user: Any, days_ago: float) -> None:
    """As if `user` signed in, logged in and last worked `days_ago` days ago."""
    when = timezone.now() - timedelta(days=days_ago)
    get_user_model().objects.filter(pk=user.pk).update(date_joined=when, last_login=when)
    LearnerEnvironment.objects.filter(user=user).update(last_active_at=when)


@pytest.fixture
def guest_with_environment(cluster: Cluster, settings: Any) -> Iterator[Any]:
    """Makes guests (as the button does) whose environment is ready on the real cluster."""
    settings.KUBELAB_KUBECONFIG = str(cluster.kubeconfig)
    made: list[Any] = []

    def make(client_ip: str = "192.0.2.60") -> Any:
        guest = guest_start(client_ip=client_ip)
        env = sandbox_provision(user=guest)
        assert env.status == "ready", env.detail
        made.append(guest)
        return guest

    yield make
    settings.KUBELAB_KUBECONFIG = str(cluster.kubeconfig)
    for user in made:
        with contextlib.suppress(k8s.ClusterError):
            sandbox_teardown(user=user)


def test_old_guests_go_with_their_namespace_claimed_and_recent_ones_stay(
    guest_with_environment: Any, cluster: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    old = guest_with_environment()
    namespace = LearnerEnvironment.objects.get(user=old).namespace
    assert namespace
    Attempt.objects.create(user=old, lab="pods", exercise="kuard-pod", status="passed")
    claimed = guest_with_environment()
    guest_claim(user=claimed, username="kept-lin", password="kube-learner-42")
    recent = guest_with_environment()
    _last_seen(old, days_ago=8)
    _last_seen(claimed, days_ago=30)
    _last_seen(recent, days_ago=6)

    call_command("guests_prune", "--dry-run")
    out = capsys.readouterr().out
    assert "would delete 1 guest(s) unused for 7 days" in out and old.username in out
    assert _users_exist(old, claimed, recent) == [True, True, True]

    call_command("guests_prune")
    assert "deleted 1 guest(s)" in capsys.readouterr().out
    assert _users_exist(old, claimed, recent) == [False, True, True]
    assert not Attempt.objects.filter(user_id=old.pk).exists()
    assert _namespace_gone_or_going(cluster, namespace)
    for kept in (claimed, recent):
        env = LearnerEnvironment.objects.get(user=kept)
        assert env.status == "ready" and env.namespace
        assert not _namespace_gone_or_going(cluster, env.namespace)

    # Idempotent: nothing left to do, nothing breaks.
    assert guests_prune().deleted == []


def test_an_unreachable_cluster_postpones_pruning_and_the_task_does_not_fail(
    guest_with_environment: Any, cluster: Cluster, settings: Any, tmp_path: Path
) -> None:
    old = guest_with_environment()
    namespace = LearnerEnvironment.objects.get(user=old).namespace
    assert namespace
    _last_seen(old, days_ago=10)

    settings.KUBELAB_KUBECONFIG = str(_dead_kubeconfig(cluster, tmp_path))
    assert guests_prune_task() == {"deleted": [], "skipped": [old.username]}
    assert _users_exist(old) == [True]
    env = LearnerEnvironment.objects.get(user=old)
    assert env.namespace == namespace and env.status == "ready"  # nothing half-done

    settings.KUBELAB_KUBECONFIG = str(cluster.kubeconfig)
    assert guests_prune_task() == {"deleted": [old.username], "skipped": []}
    assert _users_exist(old) == [False]
    assert _namespace_gone_or_going(cluster, namespace)
    assert json.dumps(guests_prune_task())  # JSON, as Celery sends it
