"""The security review's C1, run as the attacker ran it: a learner's own `kubectl exec`, a racer
swapping a directory of the pod's tree with a symlink to the host, and hundreds of execs that
make the pod helper lay the tree out again. Nothing of the host may change or show in the pod.

POD_RACE_ATTEMPTS (default 500) sets the execs per attack.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.fixtures.cluster import Cluster
from tests.fixtures.learners import Learner
from tests.sandbox.pod_attacks import (
    EXCHANGE_LOOP,
    background_exec,
    host_sentinel,
    stop,
)
from tests.sandbox.pods_live import apply, pod_running

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]

ATTEMPTS = int(os.environ.get("POD_RACE_ATTEMPTS", "500"))
PARALLEL = 3  # exec loops at once: more chances for the racer to win


def racer_pod(name: str, sub_path: str) -> str:
    return f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  containers:
  - name: c
    image: busybox
    command: [sleep, infinity]
    volumeMounts:
    - {{name: v, mountPath: /data}}
    - {{name: v, mountPath: /x, subPath: {sub_path}}}
  volumes: [{{name: v, emptyDir: {{}}}}]
"""


@pytest.fixture
def learner(cluster: Cluster, make_learner: Callable[..., Learner]) -> Learner:
    if not cluster.embedded:
        pytest.skip("the pod helper runs only behind the embedded cluster's kubelet shim")
    return make_learner()


def _execs(learner: Learner, pod: str, script: str, attempts: int) -> list[tuple[int, str, str]]:
    def one(_: int) -> tuple[int, str, str]:
        done = learner.kubectl("exec", pod, "--", "sh", "-c", script, timeout=60)
        return done.returncode, done.stdout, done.stderr

    with ThreadPoolExecutor(PARALLEL) as pool:
        return list(pool.map(one, range(attempts)))


def test_subpath_bind_race_never_binds_or_chowns_a_host_directory(learner: Learner) -> None:
    with host_sentinel() as sentinel:
        before = sentinel.state()
        apply(learner, racer_pod("racer", "a/pods"))
        pod_running(learner, "racer")
        # The first exec makes a/pods in the volume; b is the attacker's link to the host.
        setup = f"mkdir -p /data/a/pods && ln -sfn {sentinel.root} /data/b && echo ready"
        done = learner.kubectl("exec", "racer", "--", "sh", "-c", setup)
        assert "ready" in done.stdout, done.stderr
        racer = background_exec(
            learner, "racer", "python3", "-c", EXCHANGE_LOOP, "/data/a", "/data/b", "3600"
        )
        try:
            time.sleep(1)
            assert racer.poll() is None, racer.stderr.read() if racer.stderr else ""
            results = _execs(learner, "racer", "test -e /x/SENTINEL && echo LEAKED", ATTEMPTS)
        finally:
            stop(racer)
        after = sentinel.state()
    leaked = [r for r in results if "LEAKED" in r[1]]
    assert not leaked, f"{len(leaked)} of {ATTEMPTS} execs saw the host directory at /x"
    assert after == before, "the host sentinel changed owner or mode"
    # The race was real: both outcomes happened (a refusal when the racer had swapped in its link).
    refusals = [r for r in results if "kubelab: subPath" in r[2]]
    print(f"{ATTEMPTS} execs: {len(refusals)} refused a link in the subPath, none leaked")
    ran = [r for r in results if r[0] == 1 and "kubelab:" not in r[2]]
    assert ran, f"no exec ran while the racer raced: {results[:3]}"


def test_rootfs_chmod_race_never_changes_a_host_file(learner: Learner) -> None:
    with host_sentinel() as sentinel:
        before = sentinel.state()
        apply(learner, racer_pod("chmodder", "a"))
        pod_running(learner, "chmodder")
        setup = f"ln -sfn {sentinel.file} /lnk && echo ready"
        done = learner.kubectl("exec", "chmodder", "--", "sh", "-c", setup)
        assert "ready" in done.stdout, done.stderr
        # Swap the container root's /tmp with a link to a host file: root used to chmod it 1777.
        racer = background_exec(
            learner, "chmodder", "python3", "-c", EXCHANGE_LOOP, "/tmp", "/lnk", "3600"
        )
        try:
            time.sleep(1)
            results = _execs(learner, "chmodder", "ls -ld /tmp >/dev/null; true", ATTEMPTS)
        finally:
            stop(racer)
        after = sentinel.state()
    assert after == before, "a host file changed owner or mode"
    assert sum(1 for r in results if r[0] == 0) > ATTEMPTS // 2, results[:3]
