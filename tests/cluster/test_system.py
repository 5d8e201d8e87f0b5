"""kube-system looks like a kubeadm cluster's, and every component listens on loopback only."""

from __future__ import annotations

import ipaddress
import os
import re
import subprocess

import pytest

from tests.cluster.kube import exactly_running
from tests.fixtures.cluster import REPO, Cluster, wait_until

pytestmark = pytest.mark.cluster

PIDS = REPO / "var" / "cluster" / "kwok" / "clusters" / "kubelab" / "pids"
COMPONENTS = [
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok-controller",
]


def test_kube_system_has_coredns_and_kube_proxy(embedded: Cluster) -> None:
    coredns = wait_until(
        lambda: exactly_running(embedded, "kube-system", "k8s-app=kube-dns", 2), what="coredns"
    )
    service = embedded.get_json("service", "kube-dns", "-n", "kube-system")
    assert service["spec"]["clusterIP"] == "10.96.0.10"
    assert service["spec"]["selector"] == {"k8s-app": "kube-dns"}
    pod_ips = sorted(pod["status"]["podIP"] for pod in coredns)

    def endpoint_ips() -> list[str]:
        endpoints = embedded.get_json("endpoints", "kube-dns", "-n", "kube-system")
        return sorted(
            {a["ip"] for subset in endpoints.get("subsets") or [] for a in subset["addresses"]}
        )

    wait_until(lambda: endpoint_ips() == pod_ips, what=f"kube-dns endpoints {pod_ips}")

    nodes = len(embedded.get_json("nodes")["items"])
    proxy = embedded.get_json("daemonset", "kube-proxy", "-n", "kube-system")["status"]
    assert proxy["desiredNumberScheduled"] == nodes
    wait_until(
        lambda: exactly_running(embedded, "kube-system", "k8s-app=kube-proxy", nodes),
        what="a kube-proxy pod on every node",
    )


def test_componentstatuses_are_healthy(embedded: Cluster) -> None:
    # Deprecated since 1.19 but still served; it probes 127.0.0.1:10257 and :10259.
    done = embedded.kubectl("get", "componentstatuses", "-o", "jsonpath={.items[*].metadata.name}")
    assert sorted(done.stdout.split()) == ["controller-manager", "etcd-0", "scheduler"]
    statuses = embedded.get_json("componentstatuses")["items"]
    for status in statuses:
        healthy = [c for c in status["conditions"] if c["type"] == "Healthy"]
        assert healthy and healthy[0]["status"] == "True", status


# Started by cluster/ctl itself, beside kwokctl's components.
DAEMONS = {
    "kubelet-shim": REPO / "var" / "cluster" / "kubelet-shim.pid",
    "metrics-server": REPO / "var" / "cluster" / "metrics-server.pid",
}


def component_pids() -> dict[str, int]:
    found = {}
    files = {name: PIDS / f"{name}.pid" for name in COMPONENTS} | DAEMONS
    for name, path in files.items():
        pid = int(path.read_text())
        assert os.path.exists(f"/proc/{pid}"), f"{name} (pid {pid}) is not running"
        found[name] = pid
    return found


def sockets(*args: str) -> list[tuple[str, str, int]]:
    """(local address, peer address, pid) of each socket `ss -H -n -p ARGS` lists."""
    out = subprocess.run(
        ["ss", "-H", "-n", "-p", *args], capture_output=True, text=True, check=True
    )
    rows = []
    for line in out.stdout.splitlines():
        fields = line.split()
        local, peer = fields[-3], fields[-2]
        for pid in re.findall(r"pid=(\d+)", fields[-1]):
            rows.append((local, peer, int(pid)))
    return rows


def host(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    raw = address.rsplit(":", 1)[0].strip("[]").split("%")[0]
    ip = ipaddress.ip_address(raw if raw != "*" else "::")
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        return ip.ipv4_mapped
    return ip


def test_components_listen_on_loopback_only(embedded: Cluster) -> None:
    pids = component_pids()
    listening = [row for row in sockets("-l", "-t", "-u") if row[2] in pids.values()]
    for name, pid in pids.items():
        mine = [local for local, _, p in listening if p == pid]
        assert mine, f"{name} listens on nothing"
        wide = [local for local in mine if not host(local).is_loopback]
        assert not wide, f"{name} listens beyond loopback: {wide}"
    server = embedded.kubectl(
        "config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"
    )
    port = server.stdout.rsplit(":", 1)[1]
    assert f"127.0.0.1:{port}" in [
        local for local, _, p in listening if p == pids["kube-apiserver"]
    ]


def test_components_dial_loopback_only(embedded: Cluster) -> None:
    pids = set(component_pids().values())
    connected = [row for row in sockets("-t", "state", "established") if row[2] in pids]
    assert connected
    assert [peer for _, peer, _ in connected if not host(peer).is_loopback] == []
