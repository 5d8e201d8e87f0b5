"""kubectl logs, exec, cp, attach and port-forward on simulated pods, as a learner, for real.

Everything goes learner kubectl -> API server (RBAC) -> kubelet shim -> pod jail / demo app.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fixtures.cluster import Cluster, wait_until
from tests.fixtures.learners import Learner
from tests.sandbox.pods_live import (
    apply,
    http_get,
    kuard_learner,
    kuard_manifest,
    pod_running,
    port_forward,
)

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def learner(cluster: Cluster, make_learner: Callable[..., Learner]) -> Learner:
    return kuard_learner(cluster, make_learner)


def test_logs_show_the_demo_apps_start_up_with_the_pod_name(learner: Learner) -> None:
    done = learner.kubectl("logs", "kuard")
    assert done.returncode == 0, done.stderr
    assert "Starting kuard version: v0.10.0-blue" in done.stdout
    assert f"Pod kuard in namespace {learner.namespace}" in done.stdout
    assert done.stdout.rstrip().endswith("Serving on HTTP on :8080")

    stamped = learner.kubectl("logs", "kuard", "--timestamps", "--tail=1").stdout.strip()
    timestamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"
    assert re.fullmatch(timestamp + " Serving on HTTP on :8080", stamped)

    previous = learner.kubectl("logs", "kuard", "--previous")
    assert previous.returncode != 0
    assert 'previous terminated container "kuard" in pod "kuard" not found' in previous.stderr


def test_logs_follow_streams_requests_served_through_port_forward(learner: Learner) -> None:
    cmd = [
        str(learner.kubectl_path), "--kubeconfig", str(learner.kubeconfig),
        "logs", "-f", "kuard", "--tail=1",
    ]  # fmt: skip
    follower = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert follower.stdout is not None
        assert "Serving on HTTP on :8080" in follower.stdout.readline()
        with port_forward(learner, "kuard") as port:
            assert http_get(port, "/ready?from=follow-test")[0] == 200
        line = follower.stdout.readline()  # blocks until the access line arrives
        assert "GET /ready?from=follow-test 200" in line
    finally:
        follower.terminate()
        follower.wait(timeout=10)


def test_exec_runs_in_the_pods_shape_and_reports_exit_codes(learner: Learner) -> None:
    done = learner.kubectl("exec", "kuard", "--", "date", "-u", "+%Y")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == time.strftime("%Y", time.gmtime())

    env = learner.kubectl("exec", "kuard", "--", "env").stdout
    assert "HOSTNAME=kuard" in env and "GREETING=hello" in env
    assert "KUBERNETES_SERVICE_HOST=" in env
    assert learner.kubectl("exec", "kuard", "--", "hostname").stdout.strip() == "kuard"
    resolv = learner.kubectl("exec", "kuard", "--", "cat", "/etc/resolv.conf").stdout
    assert f"search {learner.namespace}.svc.cluster.local svc.cluster.local cluster.local" in resolv

    failed = learner.kubectl("exec", "kuard", "--", "sh", "-c", "echo oops >&2; exit 3")
    assert failed.returncode == 3
    assert "oops" in failed.stderr and "command terminated with exit code 3" in failed.stderr

    missing = learner.kubectl("exec", "kuard", "--", "no-such-program")
    assert missing.returncode != 0
    assert 'exec: "no-such-program": executable file not found in $PATH' in missing.stderr


def test_the_books_commands_work_as_written(learner: Learner, tmp_path: Path) -> None:
    # `ash` (the kuard image's busybox shell) has a stand-in; the root is writable.
    ash = learner.kubectl("exec", "kuard", "--", "ash", "-c", "echo from-ash")
    assert ash.stdout == "from-ash\n"
    config = tmp_path / "config.txt"
    config.write_text("debug=true\n")
    assert learner.kubectl("cp", str(config), "kuard:/config.txt").returncode == 0
    assert learner.kubectl("exec", "kuard", "--", "cat", "/config.txt").stdout == "debug=true\n"


def test_exec_reads_stdin(learner: Learner) -> None:
    done = learner.kubectl("exec", "-i", "kuard", "--", "sh", "-c", "wc -l", input="a\nb\nc\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "3"


def test_cp_both_ways_and_files_last_as_long_as_the_pod(learner: Learner, tmp_path: Path) -> None:
    local = tmp_path / "notes.txt"
    local.write_text("kuard notes\n")
    up = learner.kubectl("cp", str(local), "kuard:/data/notes.txt")
    assert up.returncode == 0, up.stderr
    listing = learner.kubectl("exec", "kuard", "--", "ls", "-l", "/data")
    assert "notes.txt" in listing.stdout

    written = learner.kubectl("exec", "kuard", "--", "sh", "-c", "echo made-inside > /tmp/out.txt")
    assert written.returncode == 0, written.stderr
    back = tmp_path / "out.txt"
    down = learner.kubectl("cp", "kuard:/tmp/out.txt", str(back))
    assert down.returncode == 0, down.stderr
    assert back.read_text() == "made-inside\n"


def test_port_forward_reaches_the_demo_app_for_that_pod(learner: Learner) -> None:
    with port_forward(learner, "kuard") as port:
        assert http_get(port, "/healthy") == (200, "ok\n")
        status, overview = http_get(port, "/")
        assert status == 200
        assert "Pod:" in overview and "kuard" in overview and learner.namespace in overview
        status, env = http_get(port, "/env")
        assert status == 200 and "HOSTNAME=kuard" in env
        status, page = http_get(port, "/", accept="text/html")
        assert status == 200 and page.lstrip().lower().startswith("<!doctype html>")
        # Each pod has its own instance: flipping this pod's health touches no other pod.
        assert http_get(port, "/healthy/fail")[0] == 200
        assert http_get(port, "/healthy")[0] == 500


def test_port_forward_to_an_undeclared_port_is_refused(learner: Learner) -> None:
    with port_forward(learner, "kuard", port=9999) as port:
        try:
            status, _ = http_get(port, "/")
        except OSError:
            status = 0  # the tunnel closed without an answer: nothing listens there
        assert status != 200


def test_attach_shows_the_containers_output_as_it_is_written(learner: Learner) -> None:
    cmd = [
        str(learner.kubectl_path), "--kubeconfig", str(learner.kubeconfig), "attach", "kuard",
    ]  # fmt: skip
    attached = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert attached.stdout is not None
        time.sleep(1)  # let attach connect before the request is made
        with port_forward(learner, "kuard") as port:
            http_get(port, "/env?from=attach-test")
        deadline = time.monotonic() + 30
        seen = ""
        while time.monotonic() < deadline and "attach-test" not in seen:
            seen += attached.stdout.readline()
        assert "GET /env?from=attach-test" in seen
    finally:
        attached.terminate()
        attached.wait(timeout=10)


def _restarts(learner: Learner, name: str) -> int:
    path = "jsonpath={.status.containerStatuses[0].restartCount}"
    done = learner.kubectl("get", "pod", name, "-o", path)
    return int(done.stdout or 0)


def test_failing_liveness_probe_restarts_the_container(learner: Learner) -> None:
    probes = (
        "    livenessProbe: {httpGet: {path: /healthy, port: 8080}, "
        "periodSeconds: 1, failureThreshold: 2}"
    )
    apply(learner, kuard_manifest("kuard-live", probes))
    pod_running(learner, "kuard-live")
    setup = "echo x > /tmp/scratch; echo y > /data/kept"
    learner.kubectl("exec", "kuard-live", "--", "sh", "-c", setup)
    with port_forward(learner, "kuard-live") as port:
        assert http_get(port, "/healthy/fail")[0] == 200
    wait_until(lambda: _restarts(learner, "kuard-live") == 1, timeout=30, what="a restart")

    previous = learner.kubectl("logs", "kuard-live", "--previous").stdout
    assert "GET /healthy/fail" in previous and "liveness probe failed" in previous
    events = learner.kubectl("get", "events", "--field-selector", "involvedObject.name=kuard-live")
    assert "Liveness probe failed" in events.stdout and "will be restarted" in events.stdout
    # The container's own files are gone, its emptyDir volume is not; health is reset.
    files = learner.kubectl("exec", "kuard-live", "--", "sh", "-c", "ls /tmp; cat /data/kept")
    assert "scratch" not in files.stdout and "y" in files.stdout
    with port_forward(learner, "kuard-live") as port:
        assert http_get(port, "/healthy") == (200, "ok\n")
    assert _restarts(learner, "kuard-live") == 1


def _endpoint_ready(learner: Learner, pod: str) -> bool | None:
    slices = json.loads(learner.kubectl("get", "endpointslices", "-o", "json").stdout)
    for item in slices["items"]:
        for endpoint in item.get("endpoints") or []:
            if (endpoint.get("targetRef") or {}).get("name") == pod:
                return bool(endpoint.get("conditions", {}).get("ready"))
    return None


def _ready_behind_a_service(learner: Learner, name: str, *, failure_threshold: int) -> None:
    """A kuard Pod with a 1-second readiness probe on /ready, its Service, and its endpoint
    ready."""
    probes = (
        "    readinessProbe: {httpGet: {path: /ready, port: http}, "
        f"periodSeconds: 1, failureThreshold: {failure_threshold}}}"
    )
    apply(learner, kuard_manifest(name, probes))
    learner.kubectl("expose", "pod", name, "--port", "80", "--target-port", "8080")
    pod_running(learner, name)
    wait_until(lambda: _endpoint_ready(learner, name) is True, what="a ready endpoint")


def test_failing_readiness_probe_takes_the_pod_out_of_its_service(learner: Learner) -> None:
    _ready_behind_a_service(learner, "kuard-ready", failure_threshold=1)
    with port_forward(learner, "kuard-ready") as port:
        assert http_get(port, "/ready/fail")[0] == 200
        wait_until(lambda: _endpoint_ready(learner, "kuard-ready") is False, what="unready")
        path = "jsonpath={.status.containerStatuses[0].ready}"
        ready = learner.kubectl("get", "pod", "kuard-ready", "-o", path)
        assert ready.stdout == "false"
        assert http_get(port, "/ready/ok")[0] == 200
    wait_until(lambda: _endpoint_ready(learner, "kuard-ready") is True, what="ready again")


def _put(port: int, path: str, body: bytes) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method="PUT")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.read().decode()


def test_kuards_fail_next_takes_the_pod_out_and_lets_it_back_by_itself(learner: Learner) -> None:
    """Real kuard's API: PUT /ready/api {"failNext": N} fails the next N probes, then it is
    ready again without anyone flipping it back."""
    _ready_behind_a_service(learner, "kuard-next", failure_threshold=2)
    with port_forward(learner, "kuard-next") as port:
        status, body = _put(port, "/ready/api", b'{"failNext": 6}')
        assert status == 200 and json.loads(body)["probePath"] == "/ready"
    wait_until(lambda: _endpoint_ready(learner, "kuard-next") is False, what="unready")
    wait_until(lambda: _endpoint_ready(learner, "kuard-next") is True, what="ready again")
    restarts = learner.kubectl(
        "get", "pod", "kuard-next", "-o", "jsonpath={.status.containerStatuses[0].restartCount}"
    )
    assert restarts.stdout == "0"  # readiness never restarts a container


SIDECAR = """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - {name: kuard, image: "gcr.io/kuar-demo/kuard-amd64:blue", ports: [{containerPort: 8080}]}
  - {name: nginx, image: "nginx:1.27", ports: [{containerPort: 80}]}
"""


def test_container_flag_picks_the_container(learner: Learner) -> None:
    apply(learner, SIDECAR)
    pod_running(learner, "web")
    nginx = learner.kubectl("logs", "web", "-c", "nginx")
    assert nginx.returncode == 0, nginx.stderr
    assert "nginx" in nginx.stdout and "Serving on HTTP" not in nginx.stdout
    kuard = learner.kubectl("logs", "web", "-c", "kuard").stdout
    assert "Serving on HTTP on :8080" in kuard
    # Each container has its own root; both see the Pod's hostname.
    learner.kubectl("exec", "web", "-c", "nginx", "--", "sh", "-c", "echo mine > /only-nginx")
    assert (
        learner.kubectl("exec", "web", "-c", "nginx", "--", "cat", "/only-nginx").stdout == "mine\n"
    )
    other = learner.kubectl("exec", "web", "-c", "kuard", "--", "cat", "/only-nginx")
    assert other.returncode != 0
    assert learner.kubectl("exec", "web", "-c", "kuard", "--", "hostname").stdout == "web\n"
    missing = learner.kubectl("logs", "web", "-c", "nope")
    assert missing.returncode != 0 and "nope" in missing.stderr
