"""Faults, one at a time, done to a whole kubelab of the test's own (tests/fixtures/stack.py):
what the learner sees, and that nothing they had is lost or half-written."""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fixtures.cluster import Cluster
from tests.fixtures.stack import Browser, Stack, Terminal, wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.worker, pytest.mark.timeout(600)]
PROMPT = r"learner@kubelab:~\$ $"


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
