"""kuard MemQ workers on the embedded cluster (issue 20), as a learner runs them: a work-queue
Job really drains its queue through the Service; and the attacks: a worker pointed at another
learner's queue (by Service name or by address) reaches nothing and says why."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.fixtures.cluster import wait_until
from tests.fixtures.learners import Learner

pytestmark = [pytest.mark.cluster, pytest.mark.django_db]
FILES = Path(__file__).resolve().parents[2] / "labs" / "catalog" / "jobs" / "files"


def _ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout


def _queue(learner: Learner) -> str:
    for name in ("rs-queue.yaml", "service-queue.yaml"):
        _ok(learner.kubectl("apply", "-f", str(FILES / name)))
    _ok(learner.kubectl("wait", "--for=condition=Ready", "pods", "-l", "component=queue",
                        "--timeout=60s"))  # fmt: skip
    return _ok(learner.kubectl("get", "pods", "-l", "component=queue", "-o",
                               "jsonpath={.items[0].metadata.name}"))  # fmt: skip


@contextmanager
def _tunnel(learner: Learner, pod: str, port: int) -> Iterator[str]:
    """kubectl port-forward as the learner; the base URL of the pod's MemQ server."""
    process = subprocess.Popen(
        [str(learner.kubectl_path), "--kubeconfig", str(learner.kubeconfig), "port-forward",
         pod, f"{port}:8080"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout
        assert "Forwarding from" in process.stdout.readline()
        yield f"http://127.0.0.1:{port}/memq/server"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _curl(*args: str) -> str:
    return subprocess.run(["curl", "-s", *args], capture_output=True, text=True, check=True).stdout


def _job(learner: Learner, name: str, server: str) -> None:
    job = {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
        "spec": {"parallelism": 2, "template": {"spec": {"restartPolicy": "OnFailure",
            "containers": [{"name": "worker", "image": "gcr.io/kuar-demo/kuard-amd64:blue",
                "args": ["--keygen-enable", "--keygen-exit-on-complete",
                         f"--keygen-memq-server={server}", "--keygen-memq-queue=keygen"]}]}}},
    }  # fmt: skip
    _ok(learner.kubectl("apply", "-f", "-", input=json.dumps(job)))


def _logs(learner: Learner, selector: str) -> str:
    return learner.kubectl("logs", "-l", selector, "--tail=-1", "--prefix").stdout


def test_a_work_queue_job_drains_its_queue_and_completes(
    make_learner: Callable[..., Learner],
) -> None:
    learner = make_learner("memq-own")
    pod = _queue(learner)
    with _tunnel(learner, pod, 48901) as server:
        assert _curl("-X", "PUT", f"{server}/queues/keygen") == ""
        for i in range(30):
            _curl("-X", "POST", f"{server}/queues/keygen/enqueue", "-d", f"item-{i}")
        _job(learner, "consumers", "http://queue:8080/memq/server")
        _ok(learner.kubectl("wait", "--for=condition=Complete", "job/consumers",
                            "--timeout=90s"))  # fmt: skip
        stats = json.loads(_curl(f"{server}/stats"))
    assert stats["queues"] == [
        {"name": "keygen", "depth": 0, "enqueued": 30, "dequeued": 30, "drained": 0}
    ]
    logs = _logs(learner, "job-name=consumers")
    assert logs.count("Item done: SHA256:") == 30  # each item worked once, by one worker
    assert logs.count("(ID 0) Workload exiting") == 2
    phases = _ok(learner.kubectl("get", "pods", "-l", "job-name=consumers", "-o",
                                 "jsonpath={.items[*].status.phase}")).split()  # fmt: skip
    assert phases == ["Succeeded", "Succeeded"]
    # Every dequeue was a real request to the queue Pod, logged as kuard logs it.
    assert _ok(learner.kubectl("logs", pod)).count("POST /memq/server/queues/keygen/dequeue") >= 32


def test_a_worker_cannot_reach_another_learners_queue(
    make_learner: Callable[..., Learner],
) -> None:
    victim, attacker = make_learner("memq-victim"), make_learner("memq-attacker")
    victim_pod = _queue(victim)
    with _tunnel(victim, victim_pod, 48902) as server:
        _curl("-X", "PUT", f"{server}/queues/keygen")
        for i in range(5):
            _curl("-X", "POST", f"{server}/queues/keygen/enqueue", "-d", f"secret-{i}")
        address = _ok(victim.kubectl("get", "service", "queue", "-o",
                                     "jsonpath={.spec.clusterIP}"))  # fmt: skip
        _job(attacker, "by-name", f"http://queue.{victim.namespace}:8080/memq/server")
        _job(
            attacker,
            "by-fqdn",
            f"http://queue.{victim.namespace}.svc.cluster.local:8080/memq/server",
        )
        _job(attacker, "by-address", f"http://{address}:8080/memq/server")

        def refused() -> bool:
            logs = "".join(
                _logs(attacker, f"job-name={job}") for job in ("by-name", "by-fqdn", "by-address")
            )
            return logs.count("is not a Service in namespace " + attacker.namespace) >= 6

        wait_until(refused, timeout=60, what="every attacking worker refused, and saying why")
        time.sleep(2)  # and still refused a while later
        stats = json.loads(_curl(f"{server}/stats"))
    assert stats["queues"][0] | {"name": "keygen"} == {
        "name": "keygen", "depth": 5, "enqueued": 5, "dequeued": 0, "drained": 0,
    }  # fmt: skip
    assert "dequeue" not in _ok(victim.kubectl("logs", victim_pod))
    running = _ok(attacker.kubectl("get", "pods", "-o", "jsonpath={.items[*].status.phase}"))
    assert set(running.split()) == {"Running"}, "a refused worker retries; it never Succeeds"
    assert "secret-" not in "".join(
        _logs(attacker, f"job-name={j}") for j in ("by-name", "by-fqdn", "by-address")
    )
