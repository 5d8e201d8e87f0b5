"""Small readers over `kubectl get -o json` shared by the cluster tests."""

from __future__ import annotations

from typing import Any

from tests.fixtures.cluster import Cluster

PAUSE_IMAGE = "registry.k8s.io/pause:3.10"


def pods(cluster: Cluster, namespace: str, selector: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = cluster.get_json("pods", "-n", namespace, "-l", selector)["items"]
    return items


def running_pods(cluster: Cluster, namespace: str, selector: str) -> list[dict[str, Any]]:
    """Pods that are Running and Ready and not being deleted."""
    return [
        pod
        for pod in pods(cluster, namespace, selector)
        if pod["status"].get("phase") == "Running"
        and "deletionTimestamp" not in pod["metadata"]
        and any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in pod["status"].get("conditions", [])
        )
    ]


def exactly_running(cluster: Cluster, namespace: str, selector: str, count: int) -> list[Any]:
    """The pods when exactly `count` exist and all are running, else [] (for wait_until)."""
    every = pods(cluster, namespace, selector)
    ready = running_pods(cluster, namespace, selector)
    return ready if len(every) == len(ready) == count and count else []


def node_names(items: list[dict[str, Any]]) -> list[str]:
    return sorted(pod["spec"].get("nodeName", "") for pod in items)


def schedulable_nodes(cluster: Cluster) -> list[dict[str, Any]]:
    """Nodes a pod without tolerations may land on."""
    return [
        node
        for node in cluster.get_json("nodes")["items"]
        if not node["spec"].get("unschedulable")
        and not any(
            t["effect"] in ("NoSchedule", "NoExecute") for t in node["spec"].get("taints", [])
        )
    ]
