"""What a learner can do through exec, cp and port-forward stays inside the simulated pod."""

from __future__ import annotations

import http.client
import os
import socket
import ssl
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fixtures.cluster import REPO, Cluster, wait_until
from tests.fixtures.learners import Learner
from tests.sandbox.pods_live import (
    http_get,
    kuard_learner,
    pod_host_uid,
    port_forward,
)

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def learner(cluster: Cluster, make_learner: Callable[..., Learner]) -> Learner:
    return kuard_learner(cluster, make_learner)


def sh(learner: Learner, script: str) -> subprocess.CompletedProcess[str]:
    return learner.kubectl("exec", "kuard", "--", "sh", "-c", script)


def host_processes(uid: int, needle: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid != uid:
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        # bwrap itself carries the command in its arguments, outside the namespaces it makes.
        if needle in cmdline and not cmdline.startswith("bwrap"):
            found.append(int(entry.name))
    return found


def test_exec_cannot_read_host_files(learner: Learner) -> None:
    secrets_file = REPO / "var" / "secrets.env"
    pki = REPO / "var" / "cluster" / "kwok" / "clusters" / "kubelab" / "pki" / "admin.key"
    for path in (secrets_file, pki, Path("/etc/shadow"), REPO / "kubelab" / "settings.py"):
        done = sh(learner, f"cat {path}")
        assert done.returncode != 0, f"{path} was readable"
        assert "No such file" in done.stderr
    assert sh(learner, "ls /work /root/.cache 2>&1; true").stdout.count("No such file") == 2
    # Only the pod's own writable places are writable.
    assert sh(learner, "touch /usr/bin/evil").returncode != 0
    assert sh(learner, "touch /etc/hosts").returncode != 0
    # The container's own root is writable (as in a real container), and private to the pod.
    assert sh(learner, "touch /fine /tmp/fine /data/fine /root/fine").returncode == 0


def test_what_a_pod_writes_is_capped_in_memory_not_on_disk(learner: Learner) -> None:
    # Files are capped one by one (RLIMIT_FSIZE), and all of a pod's together by its tmpfs.
    fill = "for i in 1 2 3 4; do dd if=/dev/zero of=/big$i bs=1M count=50 2>&1; done; rm -f /big*"
    done = sh(learner, fill)
    assert "No space left on device" in done.stdout
    assert sh(learner, "echo still-works > /tmp/after").returncode == 0


def test_exec_cannot_reach_host_ports(learner: Learner) -> None:
    ports = {
        "redis": os.environ.get("KUBELAB_REDIS_PORT", "6390"),
        "postgres": os.environ.get("KUBELAB_PG_PORT", "5439"),
        "api": os.environ.get("KUBELAB_API_PORT", "6443"),
        "kubelet shim": os.environ.get("KUBELAB_KUBELET_PORT", "10250"),
        "metrics-server": os.environ.get("KUBELAB_METRICS_PORT", "4443"),
    }
    for what, port in ports.items():
        done = learner.kubectl(
            "exec", "kuard", "--", "bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{port} && echo OPEN"
        )
        assert "OPEN" not in done.stdout, f"{what} on {port} reachable from the pod"
    interfaces = sh(learner, "cat /proc/net/dev").stdout
    names = [line.split(":")[0].strip() for line in interfaces.splitlines()[2:]]
    assert names == ["lo"]


def test_exec_runs_as_an_unprivileged_host_user(learner: Learner) -> None:
    uid = pod_host_uid(learner)
    cmd = [
        str(learner.kubectl_path), "--kubeconfig", str(learner.kubeconfig),
        "exec", "kuard", "--", "sleep", "1003",
    ]  # fmt: skip
    running = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        pids = wait_until(lambda: host_processes(uid, "sleep 1003"), timeout=30, what="exec")
        status = Path(f"/proc/{pids[0]}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        assert fields["Uid"].split() == [str(uid)] * 4
        assert fields["NoNewPrivs"].strip() == "1"
        assert int(fields["CapEff"].strip(), 16) == 0
    finally:
        running.kill()
        running.wait(timeout=10)
    # No process of the host is visible inside.
    count = sh(learner, "ls /proc | grep -c '^[0-9]'").stdout.strip()
    assert 0 < int(count) < 10


def test_exec_processes_end_with_the_exec_and_with_the_pod(learner: Learner) -> None:
    uid = pod_host_uid(learner)
    sh(learner, "sleep 1001 & echo started")
    wait_until(lambda: not host_processes(uid, "sleep 1001"), timeout=10, what="background gone")

    cmd = [
        str(learner.kubectl_path), "--kubeconfig", str(learner.kubeconfig),
        "exec", "kuard", "--", "sleep", "1002",
    ]  # fmt: skip
    running = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: host_processes(uid, "sleep 1002"), timeout=30, what="exec running")
        pod_uid = learner.kubectl("get", "pod", "kuard", "-o", "jsonpath={.metadata.uid}").stdout
        state = REPO / "var" / "cluster" / "pods" / pod_uid
        assert state.is_dir()
        learner.kubectl("delete", "pod", "kuard", "--wait=false")
        wait_until(lambda: not host_processes(uid, "sleep 1002"), timeout=30, what="killed")
        running.wait(timeout=30)
        # The pod's files and its tmpfs go with it.
        wait_until(lambda: not state.exists(), timeout=30, what="pod state removed")
        assert pod_uid not in Path("/proc/mounts").read_text()
    finally:
        if running.poll() is None:
            running.kill()


def test_another_learner_cannot_use_my_pod(
    learner: Learner, make_learner: Callable[..., Learner]
) -> None:
    intruder = make_learner()
    attempts = [
        ("exec", "-n", learner.namespace, "kuard", "--", "true"),
        ("logs", "-n", learner.namespace, "kuard"),
        ("cp", "-n", learner.namespace, "kuard:/etc/hostname", "/tmp/stolen-hostname"),
        ("port-forward", "-n", learner.namespace, "pod/kuard", ":8080"),
    ]
    for args in attempts:
        done = intruder.kubectl(*args, timeout=30)
        assert done.returncode != 0
        assert "forbidden" in done.stderr.lower(), done.stderr


def test_demo_app_listens_on_nothing_and_runs_jailed(learner: Learner) -> None:
    uid = pod_host_uid(learner)
    with port_forward(learner, "kuard") as port:
        assert http_get(port, "/healthy")[0] == 200
        # A demo server lives as long as its connection: hold one open, its request unfinished,
        # so one is surely alive while it is looked at (the one that answered may be exiting).
        with socket.create_connection(("127.0.0.1", port), timeout=10) as held:
            held.sendall(b"GET /healthy HTTP/1.1\r\n")
            servers = wait_until(
                lambda: host_processes(uid, "podsim.demoserver"), what="a demo server"
            )
            inspected = 0
            for pid in servers:
                proc = Path(f"/proc/{pid}")
                try:
                    assert os.readlink(proc / "ns" / "net") != os.readlink("/proc/self/ns/net")
                    tables = {
                        t: (proc / "net" / t).read_text() for t in ("tcp", "tcp6", "udp", "udp6")
                    }
                except FileNotFoundError:
                    continue  # the earlier connection's server, gone meanwhile
                for table, text in tables.items():
                    rows = text.splitlines()[1:]
                    assert rows == [], f"{table}: {rows}"
                inspected += 1
            assert inspected >= 1, "no live demo server could be inspected"


def test_metrics_servers_identity_reads_metrics_and_reaches_no_pod(learner: Learner) -> None:
    """metrics-server holds a certificate of the cluster CA too, but not the API server's: at the
    kubelet shim it may read resource metrics and nothing else, and at the API server it has
    metrics-server's rights, not the admin's."""
    pki = REPO / "var" / "cluster" / "kwok" / "clusters" / "kubelab" / "pki"
    if not (pki / "metrics-server-client.crt").exists():
        pytest.skip("the embedded cluster's metrics-server identity is not there")
    context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    context.load_cert_chain(
        str(pki / "metrics-server-client.crt"), str(pki / "metrics-server-client.key")
    )
    port = int(os.environ.get("KUBELAB_KUBELET_PORT", "10250"))
    pod = learner.kubectl("get", "pod", "kuard", "-o", "jsonpath={.metadata.name}").stdout

    def status(method: str, path: str) -> int:
        connection = http.client.HTTPSConnection("localhost", port, context=context, timeout=10)
        connection.request(method, path)
        answer = connection.getresponse().status
        connection.close()
        return answer

    assert status("GET", "/metrics/nodes/worker-1/metrics/resource") == 200
    for method, path in [
        ("POST", f"/exec/{learner.namespace}/{pod}/kuard?command=id&output=1"),
        ("GET", f"/containerLogs/{learner.namespace}/{pod}/kuard"),
        ("POST", f"/portForward/{learner.namespace}/{pod}"),
        ("POST", f"/attach/{learner.namespace}/{pod}/kuard?output=1"),
    ]:
        assert status(method, path) == 403, path
    kubeconfig = (
        REPO / "var" / "cluster" / "kwok" / "clusters" / "kubelab" / "metrics-server.kubeconfig"
    )
    secrets = subprocess.run(
        [str(learner.kubectl_path), "--kubeconfig", str(kubeconfig), "get", "secrets", "-A"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert secrets.returncode != 0 and "forbidden" in secrets.stderr


def test_kubelet_shim_refuses_clients_without_the_clusters_certificate(learner: Learner) -> None:
    port = int(os.environ.get("KUBELAB_KUBELET_PORT", "10250"))
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        pytest.raises((ssl.SSLError, ConnectionError)),
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw) as tls,
    ):
        tls.sendall(b"GET /exec/x/y/z?command=id HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = tls.recv(100)
        if not answer:
            raise ConnectionError("closed without an answer")
        pytest.fail(f"the shim answered a client without a certificate: {answer!r}")
