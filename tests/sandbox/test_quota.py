"""One learner scaling to 1000 is capped by their quota; the cluster and other learners carry on.
Resizing a running pod in place stays inside the same limits and the learner's own namespace."""

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


def _pod(name: str, cpu: str) -> str:
    return (
        f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n  containers:\n"
        f"  - name: c\n    image: nginx\n"
        f"    resources: {{requests: {{cpu: {cpu}}}, limits: {{cpu: '1'}}}}\n"
    )


def _resize(learner: Learner, pod: str, resources: dict[str, Any], *namespace: str) -> Any:
    patch = {"spec": {"containers": [{"name": "c", "resources": resources}]}}
    return learner.kubectl(
        "patch", "pod", pod, *namespace, "--subresource", "resize", "-p", json.dumps(patch)
    )


def test_resize_stays_inside_the_learners_limits_and_namespace(
    make_learner: Callable[..., Learner], cluster: Any
) -> None:
    """pods/resize lets a learner change the CPU and memory of their own running pods, and no
    more than a new pod could have: the LimitRange's maximum and the quota still apply, and
    another learner's pods are out of reach."""
    me = make_learner("resize-alice")
    other = make_learner("resize-bob")
    pods = ((me, "small", "100m"), (me, "big", "900m"), (other, "theirs", "100m"))
    for learner, name, cpu in pods:
        made = learner.kubectl("apply", "-f", "-", input=_pod(name, cpu))
        assert made.returncode == 0, made.stderr
    for learner, name, _ in pods:
        done = learner.kubectl("wait", "--for=condition=Ready", f"pod/{name}", "--timeout=60s")
        assert done.returncode == 0, done.stderr
    uid = cluster.get_json("pod", "small", "-n", me.namespace)["metadata"]["uid"]

    # Allowed: the same pod, resized in place.
    grown = _resize(me, "small", {"requests": {"cpu": "200m"}})
    assert grown.returncode == 0, grown.stderr
    small = cluster.get_json("pod", "small", "-n", me.namespace)
    assert small["metadata"]["uid"] == uid
    assert small["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "200m"

    # Not past the LimitRange's maximum of one CPU per container.
    too_big = _resize(me, "small", {"requests": {"cpu": "2"}, "limits": {"cpu": "2"}})
    assert too_big.returncode != 0
    assert "maximum cpu usage per Container is 1" in too_big.stderr, too_big.stderr

    # Not past the quota: with 200m + 900m + 800m requested, small at 500m would make 2.2 CPUs,
    # more than the namespace's 2.
    made = me.kubectl("apply", "-f", "-", input=_pod("bigger", "800m"))
    assert made.returncode == 0, made.stderr
    over = _resize(me, "small", {"requests": {"cpu": "500m"}})
    assert over.returncode != 0
    assert "exceeded quota" in over.stderr, over.stderr
    small = cluster.get_json("pod", "small", "-n", me.namespace)
    assert small["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "200m"

    # Not another learner's pod.
    theirs = _resize(me, "theirs", {"requests": {"cpu": "500m"}}, "-n", other.namespace)
    assert theirs.returncode != 0 and "forbidden" in theirs.stderr.lower(), theirs.stderr
    pod = cluster.get_json("pod", "theirs", "-n", other.namespace)
    assert pod["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "100m"
