"""The embedded cluster's simulated nodes: five Ready, two with SSDs, no real addresses."""

from __future__ import annotations

import json

import pytest

from tests.fixtures.cluster import Cluster, wait_until

pytestmark = pytest.mark.cluster

WORKERS = ["worker-1", "worker-2", "worker-3", "worker-4"]


def test_five_ready_nodes(embedded: Cluster) -> None:
    nodes = embedded.get_json("nodes")["items"]
    ready = {
        n["metadata"]["name"]
        for n in nodes
        if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])
    }
    assert ready == {"control-plane", *WORKERS}
    assert len(nodes) == 5


def test_two_ssd_nodes(embedded: Cluster) -> None:
    out = embedded.kubectl("get", "nodes", "--selector", "ssd=true", "-o", "name").stdout
    assert out.split() == ["node/worker-1", "node/worker-2"]


def test_control_plane_is_tainted_and_labelled(embedded: Cluster) -> None:
    node = embedded.get_json("node", "control-plane")
    assert "node-role.kubernetes.io/control-plane" in node["metadata"]["labels"]
    assert {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"} in node["spec"][
        "taints"
    ]
    for worker in WORKERS:
        assert not embedded.get_json("node", worker)["spec"].get("taints")


def test_workers_have_realistic_capacity(embedded: Cluster) -> None:
    for worker in WORKERS:
        allocatable = embedded.get_json("node", worker)["status"]["allocatable"]
        assert (allocatable["cpu"], allocatable["memory"], allocatable["pods"]) == (
            "4",
            "16Gi",
            "110",
        )


def test_nodes_have_no_addresses_of_real_machines(embedded: Cluster) -> None:
    # kwok fills in only `Hostname: localhost` (where it serves the kubelet API); an InternalIP
    # would be dialled by anything that talks to nodes, and kwokctl's default is our gateway.
    for node in embedded.get_json("nodes")["items"]:
        assert node["status"].get("addresses", []) == [
            {"type": "Hostname", "address": "localhost"}
        ], node["metadata"]["name"]


def test_kubernetes_service_does_not_publish_this_machine(embedded: Cluster) -> None:
    # With a loopback bind address the API server would advertise the host's real IP here.
    slices = embedded.get_json(
        "endpointslices", "-n", "default", "-l", "kubernetes.io/service-name=kubernetes"
    )["items"]
    assert [s.get("endpoints") for s in slices if s.get("endpoints")] == []


def test_node_that_comes_back_keeps_its_address(embedded: Cluster) -> None:
    # When kwok falls silent the node lifecycle controller marks nodes Unknown, and kwok's stock
    # node-initialize stage then deleted the Hostname address on its way back (see stages.yaml).
    unknown = {"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown", "message": "t"}
    patch = json.dumps({"status": {"conditions": [unknown]}})
    embedded.kubectl("patch", "node", "worker-4", "--subresource=status", "-p", patch)

    def ready_again() -> list[dict[str, str]]:
        status = embedded.get_json("node", "worker-4")["status"]
        ready = [c for c in status["conditions"] if c["type"] == "Ready"]
        return status.get("addresses", []) if ready[0]["status"] == "True" else []

    addresses = wait_until(ready_again, what="worker-4 Ready again")
    assert addresses == [{"type": "Hostname", "address": "localhost"}]
