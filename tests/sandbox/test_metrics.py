"""The metrics API on the embedded cluster (issue 20): a learner's kuard under KeyGen load shows
in `kubectl top` and makes a HorizontalPodAutoscaler scale; and the walls: a learner reads the
metrics of their own namespace only, never a node's or another learner's, and metrics-server
decides with the learner's own identity (the API server's requestheader proxy)."""

from __future__ import annotations

import http.client
import json
import os
import ssl
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from sandbox.explain import explain_denial
from tests.fixtures.cluster import REPO, Cluster, wait_until
from tests.fixtures.learners import Learner
from tests.sandbox.pods_live import port_forward

pytestmark = [pytest.mark.cluster, pytest.mark.django_db]

KUARD_RS = """
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: kuard}
spec:
  replicas: 1
  selector: {matchLabels: {app: kuard}}
  template:
    metadata: {labels: {app: kuard}}
    spec:
      containers:
      - name: kuard
        image: gcr.io/kuar-demo/kuard-amd64:blue
        resources: {requests: {cpu: 100m}, limits: {cpu: 500m}}
"""


def _ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout


def _put_keygen(base: str, config: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        ["curl", "-sf", "-X", "PUT", f"{base}/keygen", "-d", json.dumps(config)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def _top(learner: Learner, memory: bool = False) -> dict[str, int]:
    """`kubectl top pods` as the learner: millicores (or MiB) by pod, empty until metrics exist."""
    done = learner.kubectl("top", "pods", "--no-headers")
    if done.returncode != 0:
        return {}
    column, unit = (2, "Mi") if memory else (1, "m")
    rows = [line.split() for line in done.stdout.splitlines()]
    return {row[0]: int(row[column].removesuffix(unit)) for row in rows}


def _kuard_pod(learner: Learner) -> str:
    """The learner's kuard ReplicaSet, its one Pod ready; that Pod's name."""
    _ok(learner.kubectl("apply", "-f", "-", input=KUARD_RS))
    _ok(learner.kubectl("wait", "--for=condition=Ready", "pods", "-l", "app=kuard",
                        "--timeout=60s"))  # fmt: skip
    return _ok(learner.kubectl("get", "pods", "-l", "app=kuard", "-o",
                               "jsonpath={.items[0].metadata.name}"))  # fmt: skip


def test_keygen_load_shows_in_top_and_the_autoscaler_scales(
    make_learner: Callable[..., Learner],
) -> None:
    learner = make_learner("metrics-load")
    pod = _kuard_pod(learner)
    _ok(learner.kubectl("autoscale", "rs", "kuard", "--min=1", "--max=3", "--cpu=80%"))
    # At rest: a millicore or two, and the autoscaler keeps its minimum.
    wait_until(lambda: pod in _top(learner), timeout=60, what="metrics for the pod")
    assert _top(learner)[pod] <= 5
    with port_forward(learner, pod) as port:
        answer = _put_keygen(f"http://127.0.0.1:{port}", {"enable": True})
    assert answer["config"]["enable"] is True
    # One core of key generation, throttled to the container's 500m limit.
    wait_until(lambda: 450 <= _top(learner).get(pod, 0) <= 550, timeout=60, what="the load")
    # 500m of a 100m request is 500%, over the 80% target: the autoscaler scales to its max.
    replicas = lambda: _ok(learner.kubectl("get", "rs", "kuard", "-o", "jsonpath={.spec.replicas}"))  # noqa: E731
    wait_until(lambda: replicas() == "3", timeout=90, what="the autoscaler to scale kuard to 3")
    described = _ok(learner.kubectl("describe", "hpa", "kuard"))
    assert "above target" in described or "SuccessfulRescale" in described
    # Switched off, the pod rests again: usage falls back within a scrape or two.
    with port_forward(learner, pod) as port:
        switched = _put_keygen(f"http://127.0.0.1:{port}", {"enable": False})
    assert switched["config"]["enable"] is False
    wait_until(lambda: _top(learner).get(pod, 1000) <= 5, timeout=60, what="the pod at rest")


def test_memory_allocated_through_kuard_shows_in_top(
    make_learner: Callable[..., Learner],
) -> None:
    learner = make_learner("metrics-memory")
    pod = _kuard_pod(learner)
    wait_until(lambda: pod in _top(learner, memory=True), timeout=60, what="metrics for the pod")
    assert _top(learner, memory=True)[pod] < 20  # kuard at rest
    with port_forward(learner, pod) as port:
        done = subprocess.run(
            ["curl", "-sf", f"http://127.0.0.1:{port}/memory/alloc?size=300Mi"],
            capture_output=True, text=True,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    wait_until(
        lambda: _top(learner, memory=True).get(pod, 0) >= 300, timeout=60, what="300 MiB more"
    )


def test_metrics_stay_in_the_learners_namespace(
    make_learner: Callable[..., Learner], cluster: Cluster
) -> None:
    owner = make_learner("metrics-owner")
    other = make_learner("metrics-other")
    _ok(owner.kubectl("apply", "-f", "-", input=KUARD_RS))
    wait_until(lambda: bool(_top(owner)), timeout=60, what="the owner's metrics")
    peeks = {
        "another namespace": other.kubectl("top", "pods", "-n", owner.namespace),
        "every namespace": other.kubectl("get", "--raw", "/apis/metrics.k8s.io/v1beta1/pods"),
        "nodes (they sum every namespace)": other.kubectl("top", "nodes"),
        "a node by name": other.kubectl(
            "get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes/worker-1"
        ),
    }
    for what, done in peeks.items():
        assert done.returncode != 0 and "forbidden" in done.stderr.lower(), (what, done.stdout)
    # The notice under the terminal says why, and what to run instead.
    notice = explain_denial(peeks["nodes (they sum every namespace)"].stderr)
    assert notice is not None and notice.kind == "forbidden"
    assert "kubectl top pods" in notice.sentence
    # The admin sees them: the refusals above are RBAC's, not a broken metrics API.
    assert owner.namespace in cluster.kubectl("top", "pods", "-A").stdout


PKI = REPO / "var" / "cluster" / "kwok" / "clusters" / "kubelab" / "pki"


def _as_proxy(path: str, user: str, groups: list[str]) -> int:
    """A request to metrics-server as the API server's aggregator makes it: its proxy client
    certificate, and the caller in X-Remote-User/X-Remote-Group."""
    context = ssl.create_default_context(cafile=str(PKI / "ca.crt"))
    context.check_hostname = False  # its certificate names metrics-server.kube-system.svc
    context.load_cert_chain(str(PKI / "admin.crt"), str(PKI / "admin.key"))
    port = int(os.environ.get("KUBELAB_METRICS_PORT", "4443"))
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    headers = {"X-Remote-User": user}
    connection.putrequest("GET", path)
    for name, value in headers.items():
        connection.putheader(name, value)
    for group in groups:
        connection.putheader("X-Remote-Group", group)
    connection.endheaders()
    status = connection.getresponse().status
    connection.close()
    return status


@pytest.mark.skipif(not PKI.is_dir(), reason="needs the embedded cluster's certificates")
def test_metrics_server_decides_with_the_learners_own_identity(
    make_learner: Callable[..., Learner],
) -> None:
    """The API server passes the caller on (requestheader), so metrics-server's own check sees
    the learner and refuses what RBAC refuses them, even if the API server let it through."""
    owner = make_learner("metrics-identity")
    other = make_learner("metrics-intruder")
    _ok(owner.kubectl("apply", "-f", "-", input=KUARD_RS))
    wait_until(lambda: bool(_top(owner)), timeout=60, what="metrics")
    who = json.loads(_ok(other.kubectl("auth", "whoami", "-o", "json")))["status"]["userInfo"]
    own = f"/apis/metrics.k8s.io/v1beta1/namespaces/{other.namespace}/pods"
    theirs = f"/apis/metrics.k8s.io/v1beta1/namespaces/{owner.namespace}/pods"
    assert _as_proxy(own, who["username"], who["groups"]) == 200
    assert _as_proxy(theirs, who["username"], who["groups"]) == 403
