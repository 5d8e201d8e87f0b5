"""One learner scaling to 1000 is capped by their quota; the cluster and other learners carry on."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from sandbox.explain import explain_denial
from sandbox.selectors import sandbox_denials, sandbox_get_for_user
from tests.fixtures.cluster import wait_until
from tests.fixtures.learners import Learner

pytestmark = [pytest.mark.cluster, pytest.mark.django_db]


def _pods(learner: Learner) -> list[dict[str, Any]]:
    done = learner.kubectl("get", "pods", "-o", "json")
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout)["items"])


def test_scaling_to_1000_is_capped_and_explained(
    make_learner: Callable[..., Learner], cluster: Any
) -> None:
    greedy = make_learner("quota-greedy")
    neighbour = make_learner("quota-neighbour")

    assert greedy.kubectl("create", "deployment", "x", "--image=nginx").returncode == 0
    scaled = greedy.kubectl("scale", "deploy", "x", "--replicas=1000")
    assert scaled.returncode == 0, scaled.stderr  # the API accepts the wish; the quota caps pods

    wait_until(lambda: len(_pods(greedy)) >= 20, timeout=60, what="20 pods in the greedy namespace")
    environment = sandbox_get_for_user(user=greedy.user)
    denials = wait_until(
        lambda: sandbox_denials(environment=environment), timeout=30, what="a FailedCreate event"
    )
    print("\ndenials shown to the greedy learner:", json.dumps(denials, indent=2))
    (denial,) = denials
    assert denial["object"] == "deployment/x"
    assert denial["kind"] == "quota"
    assert denial["explanation"].startswith("Your environment allows 20 pods; you asked for 1000.")

    # The cap holds: never more than 20 pods, however long the ReplicaSet keeps trying.
    assert len(_pods(greedy)) == 20
    quota = cluster.get_json("resourcequota", "kubelab-quota", "-n", greedy.namespace)
    assert quota["status"]["used"]["pods"] == "20"

    # One more pod by hand is refused with a message the explainer knows.
    extra = greedy.kubectl("run", "extra", "--image=nginx")
    assert extra.returncode != 0
    explained = explain_denial(extra.stderr)
    assert explained is not None and explained.kind == "quota", extra.stderr
    print("kubectl run refused:", extra.stderr.strip(), "->", explained.sentence)

    # The neighbour is unaffected: their pods schedule and run as usual.
    assert (
        neighbour.kubectl("create", "deployment", "web", "--image=nginx", "--replicas=3").returncode
        == 0
    )

    def neighbour_running() -> bool:
        pods = _pods(neighbour)
        return len(pods) == 3 and all(p["status"].get("phase") == "Running" for p in pods)

    wait_until(neighbour_running, timeout=60, what="the neighbour's 3 pods Running")
    neighbour_quota = cluster.get_json("resourcequota", "kubelab-quota", "-n", neighbour.namespace)
    assert neighbour_quota["status"]["used"]["pods"] == "3"

    # And the cluster: every node still Ready, nothing outside the greedy namespace touched.
    nodes = cluster.get_json("nodes")["items"]
    assert nodes and all(
        any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])
        for n in nodes
    )
    greedy_pods = cluster.get_json("pods", "-A", "-l", "app=x")["items"]
    assert {p["metadata"]["namespace"] for p in greedy_pods} == {greedy.namespace}
    assert len(greedy_pods) == 20
