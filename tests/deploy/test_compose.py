"""compose.yaml, for real: the images built from this tree, the whole stack up under podman, a
learner in chromium logs in, types kubectl in the terminal over the websocket (web relaying to the
terminal daemon's container), passes an exercise graded from the cluster, the jail holds inside
the container, and `down -v` leaves nothing behind.

One stack serves every test of this module (bringing it up takes minutes); they run in order.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.deploy.compose_stack import ROOT, SERVICES, ComposeStack, engine_missing, images_build
from tests.fixtures.browser import screenshot, wait_js
from tests.fixtures.grading import kuard_pod
from tests.fixtures.processes import LearnerSite, free_port

pytestmark = [pytest.mark.compose, pytest.mark.e2e, pytest.mark.timeout(3600)]

KUARD_POD = f"""cat > kuard-pod.yaml <<'YAML'
{kuard_pod()}YAML
kubectl apply -f kuard-pod.yaml
"""
READY = "document.querySelector('[data-terminal-status]').dataset.state === 'ready'"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeStack]:
    missing = engine_missing()
    if missing and os.environ.get("CI"):
        pytest.fail(missing)  # CI installs the engine (scripts/test): never skipped there
    if missing:
        pytest.skip(missing)
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    images_build(artifacts / "compose-build.log")
    env_file = tmp_path_factory.mktemp("compose") / "kubelab.env"
    subprocess.run([str(ROOT / "deploy" / "compose" / "make-env"), str(env_file)], check=True)
    port = free_port()
    with env_file.open("a") as out:
        out.write(f"KUBELAB_PORT={port}\n")
    stack = ComposeStack(env_file=env_file, port=port, artifacts=artifacts)
    try:
        stack.up()
        stack.wait_healthy(("redis", "postgres", "cluster", "web"), timeout=600)
        yield stack
    finally:
        if not stack.down_done:
            stack.down()


def get(url: str, token: str = "") -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status), answer.read()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read()


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def screen(page: Any) -> str:
    return str(page.locator(".terminal-panel .xterm-rows").inner_text()).replace("\xa0", " ")


def wait_screen(page: Any, needle: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while needle not in (text := screen(page)):
        if time.monotonic() > deadline:
            raise AssertionError(f"{needle!r} not on the terminal screen:\n{text}")
        time.sleep(0.2)
    return text


def test_the_stack_is_healthy_least_privileged_and_publishes_only_the_web_port(
    stack: ComposeStack,
) -> None:
    status, body = get(f"{stack.url}/healthz", stack.health_token)
    report = json.loads(body)
    assert status == 200 and report["ok"] is True, report

    published = {}
    for service in SERVICES:
        info = stack.inspect(service)
        assert info["State"]["Running"], (service, info["State"])
        assert info["HostConfig"]["Privileged"] is False, service
        for inside, outside in (info["HostConfig"].get("PortBindings") or {}).items():
            published[(service, inside)] = [(b["HostIp"], b["HostPort"]) for b in outside]
        if service in ("net", "web", "beat", "watcher"):
            assert str(info["Config"].get("User")).startswith("10001"), service
    assert published == {("net", "8000/tcp"): [("127.0.0.1", str(stack.port))]}
    caps = {s: set(stack.inspect(s).get("EffectiveCaps") or []) for s in SERVICES}
    jail_hosts = {"CAP_CHOWN", "CAP_FOWNER", "CAP_KILL", "CAP_SETGID", "CAP_SETUID"}
    assert caps["terminals"] == caps["worker"] == jail_hosts
    for service in ("net", "web", "beat", "watcher"):
        assert caps[service] == set(), (service, caps[service])
    # The kubelet shim mounts a tmpfs per pod: the one service with CAP_SYS_ADMIN.
    assert "CAP_SYS_ADMIN" in caps["cluster"]
    assert not caps["cluster"] & {"CAP_NET_RAW", "CAP_MKNOD"}
    assert [s for s in SERVICES if "CAP_SYS_ADMIN" in caps[s]] == ["cluster"]


def test_a_learner_types_kubectl_in_the_browser_and_passes_an_exercise(
    stack: ComposeStack, page: Any
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    LearnerSite(url=stack.url).login(page, "admin", stack.admin_password)
    wait_js(page, READY, timeout=120_000)
    wait_screen(page, "learner@kubelab:~$")
    namespace = page.locator("[data-terminal-namespace]").inner_text().strip()
    assert namespace

    page.evaluate("window.kubelabTerminal.type('kubectl get pods\\n')")
    wait_screen(page, f"No resources found in {namespace} namespace.")
    screenshot(page, "compose-terminal")

    # The watcher's container grades it from the cluster's watch; the page hears it live.
    page.evaluate("(text) => window.kubelabTerminal.type(text)", KUARD_POD)
    wait_screen(page, "pod/kuard created")
    page.wait_for_selector(
        '[data-labs-exercise="pods/kuard-pod"][data-completed="true"]',
        state="attached",
        timeout=60_000,
    )
    # The Check button goes through the worker's container (Celery): an exercise not done yet
    # comes back "not yet".
    other = page.locator("[data-labs-exercise]:not([data-completed='true'])").first
    key = other.get_attribute("data-labs-exercise")
    other.locator("summary").click()
    other.locator("[data-labs-check]").click()
    wait_js(
        page,
        f"document.querySelector('[data-labs-exercise=\"{key}\"]').dataset.status === 'failed'",
        timeout=60_000,
    )
    screenshot(page, "compose-exercise-graded")
    assert errors == []


def test_the_jail_holds_inside_the_container(stack: ComposeStack, page: Any) -> None:
    LearnerSite(url=stack.url).login(page, "admin", stack.admin_password)
    wait_js(page, READY, timeout=120_000)
    wait_screen(page, "learner@kubelab:~$")
    probes = {
        # the platform's admin kubeconfig, mounted in the terminal daemon's container
        "kubeconfig": "cat /kubeconfig/admin.kubeconfig",
        # beyond the namespace, with the learner's own token (reading kube-system's Pods is
        # part of the course; its Secrets and writing elsewhere are not)
        "secrets": "kubectl get secrets -n kube-system",
        "elsewhere": "kubectl create configmap probe -n default",
        # PostgreSQL and the daemon listen on the containers' shared loopback
        "database": "exec 3<>/dev/tcp/127.0.0.1/5432",
        "daemon": "exec 3<>/dev/tcp/127.0.0.1/7070",
        # the daemon's own processes
        "processes": "test -e /proc/1/environ && grep -q KUBELAB /proc/1/environ",
    }
    for name, probe in probes.items():
        # Quotes split the markers so the echoed command line never shows them whole.
        line = f'({probe}) >/dev/null 2>&1 && echo PROBE-{name}-O""PEN'
        line += f' || echo PROBE-{name}-s""hut\n'
        page.evaluate("(text) => window.kubelabTerminal.type(text)", line)
    for name in probes:
        text = wait_screen(page, f"PROBE-{name}-shut")
        assert f"PROBE-{name}-OPEN" not in text


def test_down_leaves_nothing_behind(stack: ComposeStack) -> None:
    done = stack.down()
    assert done.returncode == 0, done.stdout + done.stderr
    assert stack.leftovers() == []
    assert not port_open(stack.port)
