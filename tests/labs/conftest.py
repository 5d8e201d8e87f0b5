"""Fixtures for grading tests: learners with real environments, the live event socket through
the web server, the namespace watcher and killable grading workers as real processes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import websocket
from django.contrib.auth import get_user_model
from django.test import Client

from tests.fixtures.processes import (
    ARTIFACTS,
    ROOT,
    VENV_BIN,
    WebServer,
    WorkerProcess,
    child_env,
    stop_process,
    worker_start,
)
from tests.sandbox.conftest import Learner, make_learner  # noqa: F401

KUARD_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: kuard
spec:
  containers:
    - image: gcr.io/kuar-demo/kuard-amd64:{tag}
      name: kuard
      ports:
        - containerPort: 8080
          name: http
          protocol: TCP
"""


def kuard_pod(tag: str = "blue") -> str:
    return KUARD_POD.format(tag=tag)


class EventSocket:
    """The learner's ws/events/ socket, as a browser tab holds it (through the web server)."""

    def __init__(self, server: WebServer, user: Any) -> None:
        client = Client()
        client.force_login(user)
        cookie = f"sessionid={client.cookies['sessionid'].value}"
        url = server.url.replace("http://", "ws://") + "/ws/events/"
        self.ws = websocket.create_connection(url, cookie=cookie, origin=server.origin, timeout=30)
        self.received: list[dict[str, Any]] = []

    def next_event(self, timeout: float) -> dict[str, Any] | None:
        self.ws.settimeout(max(timeout, 0.01))
        try:
            message = self.ws.recv()
        except websocket.WebSocketTimeoutException:
            return None
        if not message:
            raise AssertionError(f"the events socket closed; events so far: {self.received[-5:]}")
        event = json.loads(message)
        self.received.append(event)
        return event

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 30.0, what: str = ""
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"no event {what} within {timeout:.0f}s; got {self.received[-5:]}"
                )
            event = self.next_event(left)
            if event is not None and predicate(event):
                return event

    def drain(self, seconds: float = 0.3) -> list[dict[str, Any]]:
        got = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            event = self.next_event(left)
            if event is not None:
                got.append(event)
        return got

    def close(self) -> None:
        self.ws.close()


@pytest.fixture
def event_socket(web_server: WebServer) -> Iterator[Callable[[Any], EventSocket]]:
    sockets: list[EventSocket] = []

    def open_for(user: Any) -> EventSocket:
        sock = EventSocket(web_server, user)
        sockets.append(sock)
        return sock

    yield open_for
    for sock in sockets:
        sock.close()


def result_for(exercise: str, *statuses: str) -> Callable[[dict[str, Any]], bool]:
    return lambda e: (
        e.get("type") == "labs.result"
        and e.get("exercise") == exercise
        and (not statuses or e.get("status") in statuses)
    )


@dataclass
class Process:
    proc: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")


def _start(
    argv: list[str], log: Path, ready: str, env: dict[str, str] | None = None, timeout: float = 60
) -> Process:
    ARTIFACTS.mkdir(exist_ok=True)
    handle = log.open("wb")
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env or child_env(),
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    while ready.encode() not in log.read_bytes():
        if proc.poll() is not None:
            raise RuntimeError(f"{argv[1:3]} exited early; see {log}")
        if time.monotonic() > deadline:
            stop_process(proc)
            raise RuntimeError(f"{argv[1:3]} not ready in {timeout:.0f}s; see {log}")
        time.sleep(0.1)
    return Process(proc, log)


@pytest.fixture
def labs_watcher(django_db_setup: None, redis_available: str) -> Iterator[Process]:
    """`manage.py labs watch` on the test database, as scripts/run starts it."""
    process = _start(
        [str(VENV_BIN / "python"), "manage.py", "labs", "watch", "--debounce", "0.1"],
        ARTIFACTS / "labs-watch.log",
        "labs watch: watching",
    )
    yield process
    stop_process(process.proc)


def grading_worker_start(name: str, queue: str, **env: str) -> WorkerProcess:
    """A Celery worker (prefork, one child) consuming only `queue`; killable as a group."""
    return worker_start(
        f"{name}@localhost",
        ARTIFACTS / f"celery-{name}.log",
        "--without-heartbeat",
        "-Q",
        queue,
        env=env,
    )


def kill_group(process: WorkerProcess) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.proc.pid, signal.SIGKILL)
    process.proc.wait(timeout=10)


@pytest.fixture
def grading_queue(monkeypatch: pytest.MonkeyPatch) -> str:
    """A queue of this test's own, so only workers it starts (and may kill) grade its attempts."""
    name = f"labs-test-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    monkeypatch.setenv("KUBELAB_LABS_QUEUE", name)
    return name


def user_named(prefix: str) -> Any:
    return get_user_model().objects.create_user(
        username=f"{prefix}-{time.monotonic_ns() % 10**8}", password="x" * 12
    )
