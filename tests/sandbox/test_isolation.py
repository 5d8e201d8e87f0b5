"""The isolation matrix: a real learner token against the real API server.

Every probe in tests/sandbox/probes.py is a real request with the learner's own kubeconfig; the
table of results is printed (run with -s to see it) and written to
test-artifacts/isolation-matrix.txt.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest

from tests.fixtures.cluster import wait_until
from tests.fixtures.learners import Learner
from tests.fixtures.processes import ARTIFACTS
from tests.sandbox.probes import ALLOWED, DENIED, Probe

pytestmark = [pytest.mark.cluster, pytest.mark.django_db]


def fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


def outcome(learner: Learner, probe: Probe, values: dict[str, str]) -> tuple[str, str]:
    args = [fill(arg, values) for arg in probe.args]
    stdin = fill(probe.stdin, values) if probe.stdin else None
    try:
        done = learner.kubectl(
            "--request-timeout=15s", *args, input=stdin, timeout=4 if probe.long_running else 30
        )
    except subprocess.TimeoutExpired:
        return ("running", "still running: the stream was authorized")
    text = (done.stderr or done.stdout).strip().splitlines()
    said = text[0] if text else ""
    # Checked before the exit code: `kubectl cordon` exits 0 even when it was refused.
    if "forbidden" in done.stderr.lower():
        return ("denied", said)
    if done.returncode == 0:
        return ("allowed", said)
    if "unauthorized" in done.stderr.lower():
        return ("unauthenticated", said)
    return ("error", said)


def matches(expect: str, result: str) -> bool:
    if expect == "authorized":
        return result in {"allowed", "error", "running"}
    return expect == result


def test_isolation_matrix(make_learner: Callable[..., Learner]) -> None:
    me = make_learner("iso-alice")
    other = make_learner("iso-bob")
    # The other learner's objects, made with their own token.
    for args in (
        ("run", "bob-pod", "--image=nginx"),
        ("create", "deployment", "bob-web", "--image=nginx"),
        ("create", "service", "clusterip", "bob-svc", "--tcp=80"),
        ("create", "configmap", "bob-cm", "--from-literal=secret=hunter2"),
    ):
        done = other.kubectl(*args)
        assert done.returncode == 0, done.stderr
    values = {
        "own": me.namespace,
        "other": other.namespace,
        "other_pod": "bob-pod",
        "other_deploy": "bob-web",
        "other_svc": "bob-svc",
        "other_cm": "bob-cm",
        "own_pod": "alice-pod",
        "own_svc": "alice-svc",
    }

    rows = []
    for probe in (*ALLOWED, *DENIED):
        result, said = outcome(me, probe, values)
        rows.append((probe, result, said))

    width = max(len(p.name) for p, _, _ in rows)
    lines = [
        f"isolation matrix: learner {me.namespace} vs learner {other.namespace}",
        f"{'ok':3} {'expect':10} {'result':15} {'area':12} {'probe':{width}}  API said",
    ]
    for probe, result, said in rows:
        mark = "ok" if matches(probe.expect, result) else "XX"
        lines.append(
            f"{mark:3} {probe.expect:10} {result:15} {probe.area:12} {probe.name:{width}}"
            f"  {said[:110]}"
        )
    denied = sum(1 for p, r, _ in rows if p.expect == "denied" and r == "denied")
    allowed = sum(1 for p, r, _ in rows if p.expect != "denied" and matches(p.expect, r))
    lines.append(
        f"{denied}/{len(DENIED)} denied as expected, "
        f"{allowed}/{len(ALLOWED)} own operations allowed"
    )
    table = "\n".join(lines)
    print("\n" + table)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "isolation-matrix.txt").write_text(table + "\n")

    wrong = [(p.area, p.name, p.expect, r, s) for p, r, s in rows if not matches(p.expect, r)]
    assert not wrong, "\n".join(map(str, wrong))
    assert len(DENIED) >= 60

    # Nothing the probes tried left a mark on the other learner or the cluster.
    assert other.kubectl("get", "pod", "bob-pod").returncode == 0
    assert other.kubectl("get", "deployment", "bob-web").returncode == 0
    labels = other.kubectl("get", "pod", "bob-pod", "-o", "jsonpath={.metadata.labels}").stdout
    assert "pwned" not in labels
    assert "pwned" not in me.kubectl("get", "nodes", "--show-labels").stdout
    assert "intruder" not in other.kubectl("get", "pods").stdout


def test_learner_tokens_die_with_the_environment(make_learner: Callable[..., Learner]) -> None:
    from sandbox.services import sandbox_teardown

    learner = make_learner("iso-carol")
    assert learner.kubectl("get", "pods").returncode == 0
    sandbox_teardown(user=learner.user)

    def refused() -> bool:
        done = learner.kubectl("get", "nodes")
        return done.returncode != 0 and (
            "Unauthorized" in done.stderr or "forbidden" in done.stderr.lower()
        )

    wait_until(refused, timeout=60, what="the old token to stop working")
