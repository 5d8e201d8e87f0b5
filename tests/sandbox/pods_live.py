"""Helpers for tests that talk to simulated pods through the kubelet shim as a learner."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.cluster import REPO, wait_until

# Where the kubelet shim leases pod uids (its --uid-lock-dir): one flock file per uid holding
# "<state dir>\t<namespace>".
POD_UID_LOCKS = Path("/run/kubelab/pod-uids")

KUARD = """
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {{app: kuard}}
spec:
  containers:
  - name: kuard
    image: gcr.io/kuar-demo/kuard-amd64:blue
    ports: [{{containerPort: 8080, name: http, protocol: TCP}}]
    env: [{{name: GREETING, value: hello}}]
    volumeMounts: [{{name: data, mountPath: /data}}]
{probes}
  volumes: [{{name: data, emptyDir: {{}}}}]
"""


def kuard_manifest(name: str = "kuard", probes: str = "") -> str:
    return KUARD.format(name=name, probes=probes)


def pod_running(learner: Any, name: str) -> None:
    def running() -> bool:
        done = learner.kubectl("get", "pod", name, "-o", "jsonpath={.status.phase}")
        return done.stdout == "Running"

    wait_until(running, timeout=60, what=f"pod {name} Running")


def kuard_learner(cluster: Any, make_learner: Callable[..., Any]) -> Any:
    """A fresh learner whose namespace runs the kuard Pod; skips off the embedded cluster, where
    no kubelet shim answers exec, logs or port-forward."""
    if not cluster.embedded:
        pytest.skip(
            "simulated pods answer exec, logs and port-forward only on the embedded cluster"
        )
    found = make_learner()
    apply(found, kuard_manifest())
    pod_running(found, "kuard")
    return found


def apply(learner: Any, manifest: str) -> None:
    done = learner.kubectl("apply", "-f", "-", input=manifest)
    assert done.returncode == 0, done.stderr


@contextlib.contextmanager
def port_forward(learner: Any, pod: str, port: int = 8080) -> Iterator[int]:
    """`kubectl port-forward pod/POD :PORT` as the learner; yields the local port it chose."""
    cmd = [
        str(learner.kubectl_path), "--kubeconfig", str(learner.kubeconfig),
        "port-forward", "--address", "127.0.0.1", f"pod/{pod}", f":{port}",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"Forwarding from 127\.0\.0\.1:(\d+)", line)
        assert found, f"port-forward said: {line}{proc.stdout.read() if proc.poll() else ''}"
        yield int(found.group(1))
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def http_get(port: int, path: str, *, accept: str = "text/plain") -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Accept": accept})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _held(path: Path) -> bool:
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def leased_pod_uid(namespace: str) -> int | None:
    """The host uid the shim leased to the namespace's pods, if it holds one."""
    owner = f"{REPO / 'var' / 'cluster' / 'pods'}\t{namespace}"
    for path in POD_UID_LOCKS.glob("[0-9]*"):
        with contextlib.suppress(OSError):
            if path.read_text().strip() == owner and _held(path):
                return int(path.name)
    return None


def pod_host_uid(learner: Any, pod: str = "kuard") -> int:
    """The host uid the learner's pods run as (leased on their first exec, made here if need be)."""
    uid = leased_pod_uid(learner.namespace)
    if uid is None:
        done = learner.kubectl("exec", pod, "--", "true")
        assert done.returncode == 0, done.stderr
        uid = leased_pod_uid(learner.namespace)
    assert uid is not None, f"no pod uid leased for {learner.namespace}"
    return uid
