"""Faults, one at a time, done to a whole kubelab of the test's own (tests/fixtures/stack.py):
what the learner sees, and that nothing they had is lost or half-written."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.cluster import Cluster
from tests.fixtures.stack import Browser, Stack, Terminal, wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.worker, pytest.mark.timeout(600)]
PROMPT = r"learner@kubelab:~\$ $"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def stack(cluster: Cluster, redis_available: str) -> Iterator[Stack]:
    if not cluster.embedded:
        pytest.skip("the terminal needs the embedded cluster's kubectl")
    made = Stack(kubeconfig=str(cluster.kubeconfig)).up()
    try:
        yield made
    finally:
        made.teardown_learners()
        made.down()


def _learner(stack: Stack) -> Browser:
    browser = Browser(stack)
    browser.sign_up(f"fault{secrets.token_hex(3)}", f"pw-{secrets.token_hex(8)}")
    return browser


def _event(socket: Any, predicate: Any, seconds: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        socket.settimeout(max(0.05, deadline - time.monotonic()))
        event = json.loads(socket.recv())
        if predicate(event):
            return dict(event)
        if time.monotonic() > deadline:
            raise AssertionError("no such event")


def test_killing_the_web_server_loses_nothing_and_the_terminal_says_so(stack: Stack) -> None:
    browser = _learner(stack)
    terminal = Terminal(browser)
    terminal.wait_for(PROMPT, 60)
    terminal.type("kubectl create configmap before-crash --from-literal=k=v\r")
    terminal.wait_for("configmap/before-crash created")
    old_session = terminal.session_id
    assert old_session
    attempt_id = browser.check()["attempt"]

    stack.kill("web")  # SIGKILL: no shutdown code runs
    terminal.close()
    database = stack.directory / "kubelab.sqlite3"
    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    stack.web_start()  # what scripts/run's supervision does (tested in test_run_command)

    # The same browser session, the same stored terminal id: a new shell that says why.
    again = Terminal(browser, old_session)
    text = again.wait_for(PROMPT, 60)
    assert "your previous shell is gone (kubelab's server restarted)" in text
    assert again.session_id and again.session_id != old_session
    again.type("kubectl get configmap before-crash -o jsonpath='{.data.k}'; echo\r")
    again.wait_for(r"\nv\n")  # the learner's work in the cluster is untouched
    again.close()
    # The press before the crash was kept, and graded (the worker did not depend on the web).
    status, body = browser.request(f"/labs/attempts/{attempt_id}/")
    assert status == 200, body[:300]
    assert json.loads(body)["generation"] >= 1


def test_a_restarted_redis_is_used_again_without_restarting_kubelab(stack: Stack) -> None:
    browser = _learner(stack)
    events = browser.websocket("/ws/events/")
    generation = browser.check()["generation"]
    _event(events, lambda e: e.get("type") == "labs.result" and e["generation"] >= generation)

    stack.kill("redis")
    stack.procs.pop("redis")
    # While it is down, /healthz says which part is.
    status, _ = browser.request("/healthz")
    assert status == 503
    stack.redis_start()  # empty: what was queued in memory is gone

    def socket_again() -> Any:
        try:
            socket = browser.websocket("/ws/events/", timeout=5)
        except Exception:
            return None
        return socket

    # The page's socket reconnects (site.js); the server's channel layer reconnects to Redis.
    events.close()
    events = wait_for("an event socket again", 60, socket_again, interval=0.5)

    def graded_again() -> bool:
        generation = browser.check()["generation"]
        try:
            _event(
                events,
                lambda e: e.get("type") == "labs.result" and e["generation"] >= generation,
                seconds=15,
            )
        except Exception:
            return False
        return True

    # The worker reconnects to the broker on its own; the next Check is graded and shown.
    wait_for("a Check graded and shown after Redis came back", 120, graded_again, interval=1)
    events.close()


def _api_server_pid() -> int:
    return int((REPO / "var" / "cluster" / "kwok" / "clusters" / "kubelab" / "pids" /
                "kube-apiserver.pid").read_text())  # fmt: skip


def _cluster_start() -> None:
    done = subprocess.run(
        [str(REPO / "cluster" / "ctl"), "start"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_restarted_api_server_makes_checks_inconclusive_then_right(stack: Stack) -> None:
    browser = _learner(stack)
    status, body = browser.request("/sandbox/status")
    assert status == 200 and json.loads(body)["status"] == "ready", body[:300]
    events = browser.websocket("/ws/events/")
    os.kill(_api_server_pid(), signal.SIGKILL)
    try:
        generation = browser.check()["generation"]
        down = _event(
            events, lambda e: e.get("type") == "labs.result" and e["generation"] >= generation
        )
        assert down["status"] == "inconclusive", down
        assert down["retrying"] is True  # it is tried again, the learner is told so
        health = stack.health()
        assert health["checks"]["kubernetes"]["ok"] is False
        assert health["checks"]["database"]["ok"] is True  # the rest says it is fine
        # A learner arriving now: the environment waits, with a sentence, and nothing breaks.
        newcomer = _learner(stack)
        status, body = newcomer.request("/sandbox/status")
        assert status == 200, body[:300]
        waiting = json.loads(body)
        assert waiting["status"] == "unavailable" and waiting["message"], waiting
    finally:
        _cluster_start()
    # Back: the retry (or the next press) grades for real; the newcomer gets an environment.
    after = _event(
        events,
        lambda e: e.get("type") == "labs.result" and e["status"] != "inconclusive",
        seconds=120,
    )
    assert after["status"] == "failed", after  # no kuard Pod: a real, conclusive answer
    events.close()

    def newcomer_ready() -> bool:
        status, body = newcomer.request("/sandbox/status")
        return status == 200 and json.loads(body)["status"] == "ready"

    wait_for("the newcomer's environment after the API server came back", 120, newcomer_ready, 2)


@pytest.fixture
def stack_on_postgres(cluster: Cluster, redis_available: str) -> Iterator[Stack]:
    made = Stack(kubeconfig=str(cluster.kubeconfig))
    made.database_url = made.postgres_init()
    made.env["KUBELAB_DATABASE_URL"] = made.database_url
    made.up()
    try:
        yield made
    finally:
        made.teardown_learners()
        made.down()
        with contextlib.suppress(Exception):
            made.postgres_stop("fast")


def test_a_restarted_postgresql_is_a_503_then_everything_is_there(
    stack_on_postgres: Stack,
) -> None:
    stack = stack_on_postgres
    browser = _learner(stack)
    first = browser.check()
    stack.postgres_stop("immediate")
    try:
        status, body = browser.request("/learn/pods/")
        assert status == 503, body[:300]
        assert "database is not answering" in body.decode()
        status, body = browser.request("/labs/pods/kuard-pod/check/", data={"x": "1"})
        assert status == 503 and "database is not answering" in json.loads(body)["error"]
        assert stack.health()["checks"]["database"]["ok"] is False
    finally:
        stack.postgres_start()
    # The same session, the same attempt: nothing was lost, nothing was half-written.
    second = browser.check()
    assert second["attempt"] == first["attempt"]
    assert second["generation"] > first["generation"]
    status, _ = browser.request("/learn/pods/")
    assert status == 200
    assert "Traceback" not in stack.log("web").split("a part is down")[-1]


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_full_disk_refuses_writes_with_a_sentence_and_loses_nothing(
    cluster: Cluster, redis_available: str
) -> None:
    made = Stack(kubeconfig=str(cluster.kubeconfig))
    small = made.directory / "small"
    small.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m", "kubelab-full", str(small)], check=True
    )
    try:
        made.env["KUBELAB_DATABASE_URL"] = f"sqlite:///{small / 'kubelab.sqlite3'}"
        made.up()
        browser = _learner(made)
        attempt = browser.check()["attempt"]
        filler = small / "filler"
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=1M", "count=64"],
                       capture_output=True)  # fmt: skip
        # Writes fail with a sentence, not a 500; reads go on.
        latecomer = Browser(made)
        latecomer.request("/accounts/signup/")
        status, body = latecomer.request(
            "/accounts/signup/",
            data={"username": "late", "password1": "kube-lear-42x", "password2": "kube-lear-42x",
                  "csrfmiddlewaretoken": latecomer.cookies.get("csrftoken", "")},
        )  # fmt: skip
        assert status == 503, body[:300]
        assert "The disk is full" in body.decode()
        status, _ = browser.request("/learn/pods/")
        assert status == 200
        filler.unlink()
        status, body = browser.request(f"/labs/attempts/{attempt}/")
        assert status == 200
        again = browser.check()
        assert again["attempt"] == attempt
        made.down()
        with sqlite3.connect(small / "kubelab.sqlite3") as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        made.teardown_learners()
        made.down()
        subprocess.run(["umount", "-l", str(small)], check=False)
