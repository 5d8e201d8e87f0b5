"""Shells out of the web process (issue 18): a terminal daemon holds them and two web processes
relay to it. A learner's shell keeps working while their screens alternate between the two web
processes and after one of them is killed; another learner cannot take it by its id; a hello
without the installation's signature opens nothing; a daemon that dies leaves a new shell that
says the previous one is gone."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
import websocket

from terminal.ending import terminal_end_for_owner
from tests.fixtures.processes import (
    ARTIFACTS,
    ROOT,
    VENV_BIN,
    WebServer,
    child_env,
    free_port,
    stop_process,
    web_start,
)
from tests.fixtures.shells import ShellLearner

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def daemon_start(address: str, name: str) -> subprocess.Popen[bytes]:
    log = ARTIFACTS / f"terminal-daemon-{name}.log"
    ARTIFACTS.mkdir(exist_ok=True)
    proc = subprocess.Popen(
        [str(VENV_BIN / "python"), "manage.py", "terminal_daemon", "--listen", address],
        cwd=ROOT, env=child_env(), stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while b"listening on" not in log.read_bytes():
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"the terminal daemon did not start; see {log}"
        time.sleep(0.1)
    return proc


@dataclass
class Screen:
    """A browser tab's terminal socket, through one web server."""

    ws: Any
    text: str = ""
    statuses: list[list[Any]] = field(default_factory=list)
    closed: int | None = None

    @classmethod
    def open(cls, server: WebServer, learner: ShellLearner, session_id: str = "") -> Screen:
        path = f"/ws/terminal/{session_id}/" if session_id else "/ws/terminal/"
        ws = websocket.WebSocket()
        ws.connect(
            server.url.replace("http", "ws") + path + "?rows=30&cols=120",
            cookie=learner.cookie.decode(), origin=server.origin, timeout=30,
        )  # fmt: skip
        return cls(ws)

    def wait_for(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while (found := re.search(pattern, ANSI.sub("", self.text))) is None:
            self._receive(deadline, f"no {pattern!r} on the screen")
        return found

    def wait_status(self, kind: str, timeout: float = 30) -> list[Any]:
        deadline = time.monotonic() + timeout
        while not (found := [s for s in self.statuses if s[1] == kind]):
            self._receive(deadline, f"no status {kind!r}")
        return found[-1]

    def _receive(self, deadline: float, what: str) -> None:
        left = deadline - time.monotonic()
        assert left > 0, f"{what}: {self.text[-600:]!r} {self.statuses[-3:]}"
        self.ws.settimeout(left)
        try:
            message = self.ws.recv()
        except websocket.WebSocketTimeoutException:
            return
        except websocket.WebSocketConnectionClosedException:
            raise AssertionError(f"closed; {what}") from None
        frame = json.loads(message)
        if frame[0] == "stdout":
            self.text += frame[1]
            self.ws.send(json.dumps(["ack", 1]))
        elif frame[0] == "status":
            self.statuses.append(frame)

    def type(self, text: str) -> None:
        self.ws.send(json.dumps(["stdin", text]))

    @property
    def session_id(self) -> str:
        return str(next(s[3] for s in self.statuses if s[1] == "attached"))


def refused_with(server: WebServer, learner: ShellLearner, session_id: str) -> int:
    """The close code of a socket the server refuses (a handshake it answers 403, or a close)."""
    try:
        screen = Screen.open(server, learner, session_id)
    except websocket.WebSocketBadStatusException as exc:
        return int(exc.status_code)
    screen.ws.settimeout(10)
    try:
        while True:
            screen.ws.recv()
    except websocket.WebSocketConnectionClosedException:
        pass
    return int(screen.ws.status or 0)


@pytest.fixture
def daemon_and_two_webs(
    make_shell_learner: Callable[[str], ShellLearner],
) -> Iterator[tuple[str, list[Any]]]:
    address = f"tcp:127.0.0.1:{free_port()}"
    started: list[Any] = [daemon_start(address, "first")]
    env = child_env(KUBELAB_TERMINAL_DAEMON=address)
    started.append(web_start(ARTIFACTS / "web-daemon-a.log", env))
    started.append(web_start(ARTIFACTS / "web-daemon-b.log", env))
    yield address, started
    for item in reversed(started):
        stop_process(item.proc if isinstance(item, WebServer) else item)


def test_a_shell_in_the_daemon_outlives_the_web_process_that_started_it(
    make_shell_learner: Callable[[str], ShellLearner],
    daemon_and_two_webs: tuple[str, list[Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    address, started = daemon_and_two_webs
    web_a, web_b = started[1], started[2]
    learner = make_shell_learner("daemon")

    a = Screen.open(web_a, learner)
    a.wait_for(r"learner@kubelab:~\$")
    # A variable only this shell has: every later screen that prints it is in the same shell.
    a.type("MARK=m-$((6*7))x; echo set-$MARK\n")
    a.wait_for(r"set-m-42x")
    session_id = a.session_id

    # The same shell through the other web process: the scrollback, then the same bash.
    b = Screen.open(web_b, learner, session_id)
    b.wait_for(r"set-m-42x")
    b.type("echo again-$MARK\n")
    b.wait_for(r"again-m-42x")
    assert b.session_id == session_id

    # The first web process dies: the shell, in the daemon, does not notice.
    stop_process(web_a.proc, sig=signal.SIGKILL)
    b.type("kubectl get pods\n")
    b.wait_for(rf"No resources found in {learner.namespace} namespace")
    c = Screen.open(web_b, learner, session_id)
    c.wait_for(r"again-m-42x")
    c.type("echo third-$MARK\n")
    c.wait_for(r"third-m-42x")

    # Another learner cannot take the shell by its id: refused by the daemon that holds it.
    other = make_shell_learner("other")
    assert refused_with(web_b, other, session_id) in (403, 4403)

    # A hello without the installation's signature opens nothing.
    host, port = address.removeprefix("tcp:").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        forged = {"op": "attach", "user": learner.user.pk, "session": session_id, "rows": 24,
                  "cols": 80, "language": "en", "ts": time.time(), "sig": "0" * 64}  # fmt: skip
        raw.sendall(json.dumps(forged).encode() + b"\n")
        assert raw.recv(4096) == b""  # closed without a word

    # The daemon dies and comes back: the shell went with it, and the new one says so.
    stop_process(started[0], sig=signal.SIGKILL)
    started[0] = daemon_start(address, "second")
    d = Screen.open(web_b, learner, session_id)
    d.wait_for(r"your previous shell is gone")
    d.wait_for(r"learner@kubelab:~\$")
    assert d.session_id != session_id
    d.type("echo new-${MARK:-unset}\n")
    d.wait_for(r"new-unset")

    # Logging out (any web process, or a worker) ends the shell in the daemon that holds it.
    monkeypatch.setenv("KUBELAB_TERMINAL_DAEMON", address)
    assert terminal_end_for_owner(learner.user.pk, "logged out") == 1
    assert d.wait_status("closed")[2] == "logged out"


def test_two_tabs_opened_at_once_through_two_daemons_share_one_shell(
    make_shell_learner: Callable[[str], ShellLearner],
) -> None:
    """Scaled out, each web process may reach another daemon (a Service picks one). A learner's
    two new tabs at the same moment must still get one shell: the daemons claim it in Redis
    atomically, and the one that lost names the winner to its relay."""
    addresses = [f"tcp:127.0.0.1:{free_port()}" for _ in range(2)]
    started: list[Any] = [daemon_start(a, f"race-{i}") for i, a in enumerate(addresses)]
    try:
        for i, address in enumerate(addresses):
            env = child_env(KUBELAB_TERMINAL_DAEMON=address)
            started.append(web_start(ARTIFACTS / f"web-race-{i}.log", env))
        webs = started[2:]
        for attempt in range(3):  # a fresh learner each time: no shell, no entry
            learner = make_shell_learner(f"race{attempt}")
            with ThreadPoolExecutor(2) as pool:
                screens = list(pool.map(Screen.open, webs, [learner, learner]))
            for screen in screens:
                screen.wait_for(r"learner@kubelab:~\$")
            assert screens[0].session_id == screens[1].session_id, f"attempt {attempt}"
            screens[0].type("MARK=one-$((6*7)); echo set-$MARK\n")
            screens[1].wait_for(r"set-one-42")  # the same bash, seen through the other daemon
    finally:
        for item in reversed(started):
            stop_process(item.proc if isinstance(item, WebServer) else item)
