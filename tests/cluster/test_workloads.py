"""Workloads behave as on a real cluster: pods run, scale, get endpoints, complete, get adopted."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.cluster.kube import (
    PAUSE_IMAGE,
    exactly_running,
    node_names,
    pods,
    running_pods,
    schedulable_nodes,
)
from tests.fixtures.cluster import Cluster, wait_until

pytestmark = pytest.mark.cluster


def apply(cluster: Cluster, namespace: str, manifest: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(manifest))


def pod_template(labels: dict[str, str], **spec: Any) -> dict[str, Any]:
    container = {"name": "main", "image": PAUSE_IMAGE}
    container.update(spec.pop("container", {}))
    return {"metadata": {"labels": labels}, "spec": {"containers": [container], **spec}}


def test_deployment_runs_and_scales(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl(
        "create", "deployment", "web", f"--image={PAUSE_IMAGE}", "--replicas=3", "-n", namespace
    )
    three = wait_until(lambda: exactly_running(cluster, namespace, "app=web", 3), what="3 pods")
    tainted = {n["metadata"]["name"] for n in cluster.get_json("nodes")["items"]} - {
        n["metadata"]["name"] for n in schedulable_nodes(cluster)
    }
    assert not set(node_names(three)) & tainted, "a pod without tolerations on a tainted node"

    cluster.kubectl("scale", "deployment/web", "--replicas=5", "-n", namespace)
    wait_until(lambda: exactly_running(cluster, namespace, "app=web", 5), what="5 pods")

    cluster.kubectl("scale", "deployment/web", "--replicas=0", "-n", namespace)
    wait_until(lambda: not pods(cluster, namespace, "app=web"), what="all pods deleted")


def test_exposed_service_lists_ready_pods(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl(
        "create", "deployment", "api", f"--image={PAUSE_IMAGE}", "--replicas=3", "-n", namespace
    )
    ready = wait_until(lambda: exactly_running(cluster, namespace, "app=api", 3), what="3 pods")
    cluster.kubectl("expose", "deployment/api", "--port=80", "--target-port=8080", "-n", namespace)
    pod_ips = sorted(pod["status"]["podIP"] for pod in ready)
    assert all(pod_ips)

    def endpoint_ips() -> list[str]:
        endpoints = cluster.get_json("endpoints", "api", "-n", namespace)
        return sorted(
            address["ip"]
            for subset in endpoints.get("subsets") or []
            for address in subset.get("addresses") or []
        )

    def slice_ips() -> list[str]:
        slices = cluster.get_json(
            "endpointslices", "-n", namespace, "-l", "kubernetes.io/service-name=api"
        )["items"]
        return sorted(
            address
            for s in slices
            for endpoint in s.get("endpoints") or []
            if endpoint["conditions"].get("ready")
            for address in endpoint["addresses"]
        )

    wait_until(lambda: endpoint_ips() == pod_ips, what=f"Endpoints {pod_ips}")
    wait_until(lambda: slice_ips() == pod_ips, what=f"EndpointSlices {pod_ips}")


def daemonset(name: str, **spec: Any) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": labels}, "template": pod_template(labels, **spec)},
    }


def test_daemonset_lands_once_on_every_worker(cluster: Cluster, namespace: str) -> None:
    expected = sorted(n["metadata"]["name"] for n in schedulable_nodes(cluster))
    apply(cluster, namespace, daemonset("agent"))
    placed = wait_until(
        lambda: exactly_running(cluster, namespace, "app=agent", len(expected)),
        what=f"one agent on each of {expected}",
    )
    assert node_names(placed) == expected


def test_daemonset_node_selector_picks_the_ssd_nodes(embedded: Cluster, namespace: str) -> None:
    apply(embedded, namespace, daemonset("ssd-agent", nodeSelector={"ssd": "true"}))
    placed = wait_until(
        lambda: exactly_running(embedded, namespace, "app=ssd-agent", 2), what="2 ssd agents"
    )
    assert node_names(placed) == ["worker-1", "worker-2"]


def test_job_completes(cluster: Cluster, namespace: str) -> None:
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "batch"},
        "spec": {
            "completions": 5,
            "parallelism": 2,
            "template": pod_template({"app": "batch"}, restartPolicy="Never"),
        },
    }
    apply(cluster, namespace, job)

    def complete() -> bool:
        status = cluster.get_json("job", "batch", "-n", namespace)["status"]
        done = any(
            c["type"] == "Complete" and c["status"] == "True" for c in status.get("conditions", [])
        )
        return done and status.get("succeeded") == 5

    wait_until(complete, what="job batch: 5 succeeded")
    phases = [pod["status"]["phase"] for pod in pods(cluster, namespace, "app=batch")]
    assert phases == ["Succeeded"] * 5


def test_orphaned_pods_are_adopted_by_a_new_replicaset(cluster: Cluster, namespace: str) -> None:
    labels = {"app": "cache"}
    replicaset = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "cache"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": labels},
            "template": pod_template(labels),
        },
    }
    apply(cluster, namespace, replicaset)
    before = wait_until(lambda: exactly_running(cluster, namespace, "app=cache", 3), what="3 pods")
    uids = sorted(pod["metadata"]["uid"] for pod in before)

    cluster.kubectl("delete", "replicaset", "cache", "--cascade=orphan", "-n", namespace)

    def orphaned() -> list[dict[str, Any]]:
        owner = cluster.kubectl("get", "replicaset", "cache", "-n", namespace, check=False)
        left = pods(cluster, namespace, "app=cache")
        owned = any(p["metadata"].get("ownerReferences") for p in left)
        return left if owner.returncode != 0 and not owned else []

    orphans = wait_until(orphaned, what="replicaset gone, its pods left without an owner")
    assert sorted(pod["metadata"]["uid"] for pod in orphans) == uids

    apply(cluster, namespace, replicaset)
    owner = cluster.get_json("replicaset", "cache", "-n", namespace)["metadata"]["uid"]

    def adopted() -> list[dict[str, Any]]:
        current = pods(cluster, namespace, "app=cache")
        owned = [
            p
            for p in current
            if [o["uid"] for o in p["metadata"].get("ownerReferences", [])] == [owner]
        ]
        return owned if len(owned) == len(current) == 3 else []

    assert sorted(pod["metadata"]["uid"] for pod in wait_until(adopted, what="adoption")) == uids


def test_scheduler_honours_cpu_requests(embedded: Cluster, namespace: str) -> None:
    # Each worker has 4 CPUs, so pods asking for 3 cannot share one: four run, the fifth waits.
    big = {"resources": {"requests": {"cpu": "3"}}}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "big"},
        "spec": {
            "replicas": 5,
            "selector": {"matchLabels": {"app": "big"}},
            "template": pod_template({"app": "big"}, container=big),
        },
    }
    apply(embedded, namespace, deployment)

    def four_running_one_pending() -> list[dict[str, Any]]:
        every = pods(embedded, namespace, "app=big")
        running = running_pods(embedded, namespace, "app=big")
        pending = [p for p in every if p["status"].get("phase") == "Pending"]
        unschedulable = [
            p
            for p in pending
            if any(
                c["type"] == "PodScheduled" and c.get("reason") == "Unschedulable"
                for c in p["status"].get("conditions", [])
            )
        ]
        return running if (len(every), len(running), len(unschedulable)) == (5, 4, 1) else []

    running = wait_until(four_running_one_pending, what="4 big pods running, 1 unschedulable")
    assert node_names(running) == ["worker-1", "worker-2", "worker-3", "worker-4"]


def test_toleration_and_node_selector_reach_the_control_plane(
    embedded: Cluster, namespace: str
) -> None:
    spec = {
        "nodeSelector": {"node-role.kubernetes.io/control-plane": ""},
        "tolerations": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}],
    }
    pod = {"apiVersion": "v1", "kind": "Pod", **pod_template({"app": "admin"}, **spec)}
    pod["metadata"]["name"] = "admin"
    apply(embedded, namespace, pod)
    placed = wait_until(lambda: exactly_running(embedded, namespace, "app=admin", 1), what="pod")
    assert node_names(placed) == ["control-plane"]


def test_pod_marked_not_ready_becomes_ready_again(embedded: Cluster, namespace: str) -> None:
    # What the node lifecycle controller does to every pod of a node that went silent.
    embedded.kubectl("run", "lone", f"--image={PAUSE_IMAGE}", "-n", namespace)
    wait_until(lambda: exactly_running(embedded, namespace, "run=lone", 1), what="pod lone")
    not_ready = {"type": "Ready", "status": "False", "reason": "NodeNotReady"}
    patch = json.dumps({"status": {"conditions": [not_ready]}})
    embedded.kubectl("patch", "pod", "lone", "-n", namespace, "--subresource=status", "-p", patch)
    wait_until(lambda: exactly_running(embedded, namespace, "run=lone", 1), what="ready again")
