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
    schedulable_nodes,
)
from tests.fixtures.cluster import Cluster, wait_until

pytestmark = pytest.mark.cluster

WORKERS = ["worker-1", "worker-2", "worker-3", "worker-4"]


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


def cpu_requested(cluster: Cluster, node: str) -> float:
    """CPUs requested by the pods on NODE that still hold their requests."""
    total = 0.0
    selector = f"spec.nodeName={node},status.phase!=Succeeded,status.phase!=Failed"
    for pod in cluster.get_json("pods", "-A", "--field-selector", selector)["items"]:
        for container in pod["spec"]["containers"]:
            cpu = container.get("resources", {}).get("requests", {}).get("cpu", "0")
            total += float(cpu[:-1]) / 1000 if cpu.endswith("m") else float(cpu)
    return total


def unschedulable_because(cluster: Cluster, namespace: str, name: str) -> str:
    """The scheduler's message once pod NAME is Unschedulable, else ''."""
    pod = cluster.get_json("pod", name, "-n", namespace)
    for condition in pod["status"].get("conditions", []):
        if condition["type"] == "PodScheduled" and condition.get("reason") == "Unschedulable":
            return str(condition.get("message", ""))
    return ""


def test_scheduler_honours_cpu_requests(embedded: Cluster, namespace: str) -> None:
    # Other tests may hold requests on the workers, so reason only about what must follow.
    def pod(name: str, cpu: str, **spec: Any) -> dict[str, Any]:
        template = pod_template({"app": name}, container={"resources": {"requests": {"cpu": cpu}}})
        template["metadata"]["name"] = name
        template["spec"].update(spec)
        return {"apiVersion": "v1", "kind": "Pod", **template}

    # Bigger than any node: Pending, although the workers have 16 CPUs between them.
    apply(embedded, namespace, pod("huge", "5"))
    message = wait_until(
        lambda: unschedulable_because(embedded, namespace, "huge"), what="huge unschedulable"
    )
    assert "Insufficient cpu" in message

    # Two pods of 2.1 CPUs on one 4-CPU worker: the first runs, the second cannot fit.
    worker = min(WORKERS, key=lambda name: cpu_requested(embedded, name))
    on_worker = {"nodeSelector": {"kubernetes.io/hostname": worker}}
    apply(embedded, namespace, pod("first", "2100m", **on_worker))
    wait_until(lambda: exactly_running(embedded, namespace, "app=first", 1), what="first")
    apply(embedded, namespace, pod("second", "2100m", **on_worker))
    message = wait_until(
        lambda: unschedulable_because(embedded, namespace, "second"), what="second unschedulable"
    )
    assert "Insufficient cpu" in message


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


def test_running_pod_is_resized_in_place(embedded: Cluster, namespace: str) -> None:
    # stages.yaml: running containers report their resources, without which the API server
    # refuses a resize, and pod-resize makes the status follow the spec, with no restart.
    resources = {
        "requests": {"cpu": "100m", "memory": "64Mi"},
        "limits": {"cpu": "500m", "memory": "128Mi"},
    }
    template = pod_template({"app": "resized"}, container={"resources": resources})
    template["metadata"]["name"] = "resized"
    apply(embedded, namespace, {"apiVersion": "v1", "kind": "Pod", **template})
    (before,) = wait_until(
        lambda: exactly_running(embedded, namespace, "app=resized", 1), what="pod resized"
    )
    assert before["status"]["containerStatuses"][0]["resources"] == resources

    patch = {"spec": {"containers": [{"name": "main", "resources": {"requests": {"cpu": "200m"}}}]}}
    resize = ("patch", "pod", "resized", "-n", namespace, "--subresource", "resize")
    embedded.kubectl(*resize, "-p", json.dumps(patch))

    def applied() -> dict[str, Any]:
        pod: dict[str, Any] = embedded.get_json("pod", "resized", "-n", namespace)
        given = pod["status"]["containerStatuses"][0].get("resources", {})
        return pod if given.get("requests", {}).get("cpu") == "200m" else {}

    after = wait_until(applied, what="the new size in the pod's status")
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert after["metadata"]["generation"] == 2
    assert after["status"]["containerStatuses"][0]["restartCount"] == 0
