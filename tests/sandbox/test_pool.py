"""The warm pool: ready namespaces, claimed atomically by new learners, refilled afterwards."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from sandbox import manifests as m
from sandbox import services
from sandbox.models import LearnerEnvironment, PoolNamespace
from sandbox.services import lifecycle, pool_drain, pool_refill, sandbox_provision
from tests.fixtures.learners import Learner

pytestmark = [pytest.mark.cluster]


@pytest.mark.django_db
def test_new_learners_claim_pool_namespaces_and_the_pool_refills(
    make_learner: Callable[..., Learner], cluster: Any, settings: Any
) -> None:
    settings.KUBELAB_SANDBOX_POOL_SIZE = 2
    assert pool_refill() == 2
    assert pool_refill() == 0  # idempotent: the slots are full
    pooled: list[str] = []
    for name in PoolNamespace.objects.values_list("namespace", flat=True):
        assert name is not None  # a slot the refill filled has its namespace
        pooled.append(name)
    pooled.sort()
    for name in pooled:
        labels = cluster.get_json("namespace", name)["metadata"]["labels"]
        assert labels["kubelab.dev/pool"] == "true" and "kubelab.dev/learner" not in labels

    learner = make_learner("pool-first")

    env = LearnerEnvironment.objects.get(user=learner.user)
    assert env.source == "pool" and learner.namespace in pooled
    labels = cluster.get_json("namespace", learner.namespace)["metadata"]["labels"]
    assert labels["kubelab.dev/learner"] == str(learner.user.pk)
    assert "kubelab.dev/pool" not in labels
    assert PoolNamespace.objects.count() == 1
    # A pool namespace is a complete environment: the learner's token works at once.
    assert learner.kubectl("run", "hi", "--image=nginx").returncode == 0
    assert learner.kubectl("get", "pods", "-n", "kube-system").returncode == 0
    denied = learner.kubectl("get", "pods", "-n", next(n for n in pooled if n != learner.namespace))
    assert "forbidden" in denied.stderr.lower()

    assert pool_refill() == 1
    assert PoolNamespace.objects.filter(status="ready").count() == 2

    # A pool namespace deleted behind our back is skipped, not handed out.
    spare = PoolNamespace.objects.order_by("id").first()
    assert spare is not None and spare.namespace
    cluster.kubectl("delete", "namespace", spare.namespace, "--wait=false")
    second = make_learner("pool-second")
    assert second.namespace != spare.namespace
    assert second.kubectl("get", "pods").returncode == 0

    settings.KUBELAB_SANDBOX_POOL_SIZE = 0
    pool_refill()  # shrinking deletes the surplus
    assert PoolNamespace.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_never_share_a_namespace(
    make_learner: Callable[..., Learner], settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lifecycle, "_pool_refill_soon", lambda: None)
    settings.KUBELAB_SANDBOX_POOL_SIZE = 4
    assert pool_refill() == 4
    users = [
        get_user_model().objects.create_user(username=f"pool-race-{i}", password="x" * 12)
        for i in range(4)
    ]
    start = threading.Barrier(len(users))
    results: dict[int, Any] = {}

    def claim(user: Any) -> None:
        try:
            start.wait()
            results[user.pk] = sandbox_provision(user=user)
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(user,)) for user in users]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        namespaces = [env.namespace for env in results.values()]
        assert len(namespaces) == 4 and len(set(namespaces)) == 4
        assert all(env.status == "ready" and env.source == "pool" for env in results.values())
        assert PoolNamespace.objects.count() == 0
    finally:
        for user in users:
            services.sandbox_teardown(user=user)
        pool_drain()


def test_pool_labels_are_data() -> None:
    env = m.Environment(namespace="kl-p1-x", install="i", environment_id="e", pool=True)
    assert m.namespace(env)["metadata"]["labels"]["kubelab.dev/pool"] == "true"
