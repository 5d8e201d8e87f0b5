"""kuard's MemQ work queue in the demo app and the MemQ worker (issue 20): the book's work-queue
chapter talks to a real queue. The app runs as the shim runs it (system python, HTTP over a
socket); the worker runs in-process against it over a socket pair, as the shim hands it one."""

from __future__ import annotations

import http.client
import io
import json
import socket
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from podsim import memq
from podsim.memqworker import RECONNECT, work
from tests.podsim.test_demoapp import CLEAN_ENV, PYTHON, REPO, serve_command

pytestmark = pytest.mark.skipif(
    not Path(PYTHON).exists(), reason="the shim runs the demo app with /usr/bin/python3"
)
BASE = "/memq/server"


class Client:
    """One connection to a demo app process, kept alive like curl's or kuard's."""

    def __init__(self, pod_dir: Path, state_dir: Path) -> None:
        ours, theirs = socket.socketpair()
        self.process = subprocess.Popen(
            serve_command(pod_dir, state_dir), stdin=theirs.fileno(), stdout=theirs.fileno(),
            stderr=subprocess.PIPE, cwd=REPO, env=CLEAN_ENV,
        )  # fmt: skip
        theirs.close()
        self.sock = ours
        self.http = http.client.HTTPConnection("queue", 8080, timeout=20)
        self.http.sock = ours

    def call(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        self.http.request(
            method, BASE + path, body=body, headers={"Content-Length": str(len(body))}
        )
        answer = self.http.getresponse()
        return answer.status, answer.read()

    def json(self, method: str, path: str, body: bytes = b"") -> Any:
        status, data = self.call(method, path, body)
        assert status == 200, (status, data)
        return json.loads(data)

    def close(self) -> str:
        self.sock.shutdown(socket.SHUT_WR)
        self.process.wait(timeout=20)
        self.sock.close()
        assert self.process.stderr
        log = self.process.stderr.read().decode()
        self.process.stderr.close()
        assert "Traceback" not in log, log
        return log


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def client(pod_dir: Path, state_dir: Path) -> Iterator[Client]:
    opened = Client(pod_dir, state_dir)
    yield opened
    opened.close()


def _depth(client: Client, name: str = "keygen") -> dict[str, Any]:
    queues = client.json("GET", "/stats")["queues"]
    return next(q for q in queues if q["name"] == name)


def test_the_books_queue_session(client: Client) -> None:
    assert client.call("PUT", "/queues/keygen") == (200, b"")
    assert client.call("PUT", "/queues/keygen") == (400, b"already exists\n")
    sent = [
        client.json("POST", "/queues/keygen/enqueue", f"work-item-{i}".encode()) for i in range(3)
    ]
    assert [m["kind"] for m in sent] == ["message"] * 3
    assert len({m["id"] for m in sent}) == 3 and sent[0]["creationTimestamp"].endswith("Z")
    assert _depth(client) == {
        "name": "keygen", "depth": 3, "enqueued": 3, "dequeued": 0, "drained": 0,
    }  # fmt: skip

    first = client.json("POST", "/queues/keygen/dequeue")
    assert (first["id"], first["body"]) == (sent[0]["id"], "work-item-0")  # first in, first out
    assert client.call("POST", "/queues/keygen/drain") == (200, b"")
    assert _depth(client) == {
        "name": "keygen", "depth": 0, "enqueued": 3, "dequeued": 1, "drained": 2,
    }  # fmt: skip
    assert client.call("POST", "/queues/keygen/dequeue") == (204, b"")
    assert client.call("DELETE", "/queues/keygen") == (200, b"")
    assert client.call("POST", "/queues/keygen/dequeue") == (400, b"does not exist\n")
    assert client.call("POST", "/queues/nope/enqueue", b"x") == (400, b"does not exist\n")


def test_wrong_methods_names_and_paths_are_refused(client: Client) -> None:
    assert client.call("GET", "/queues/keygen")[0] == 405
    assert client.call("GET", "/queues/keygen/dequeue")[0] == 405
    assert client.call("POST", "/stats")[0] == 405
    assert client.call("PUT", "/queues/..")[0] == 400
    assert client.call("PUT", "/queues/" + "x" * 64)[0] == 400
    assert client.call("GET", "/queues/keygen/peek")[0] == 404


def test_the_bounds_answer_with_a_sentence(client: Client) -> None:
    for i in range(memq.MAX_QUEUES):
        assert client.call("PUT", f"/queues/q{i}")[0] == 200
    status, body = client.call("PUT", "/queues/one-too-many")
    assert status == 400 and b"at most 16 queues" in body
    status, body = client.call("POST", "/queues/q0/enqueue", b"x" * (memq.MAX_BODY + 1))
    assert status == 400 and b"at most 4096 bytes" in body
    assert _depth(client, "q0")["depth"] == 0


def test_a_full_queue_refuses_more(tmp_path: Path) -> None:
    state = memq.default_queues()
    memq.queue_create(state, "keygen")
    for i in range(memq.MAX_MESSAGES):
        memq.enqueue(state, "keygen", str(i), 0.0)
    with pytest.raises(memq.MemqError, match="at most 2000 messages"):
        memq.enqueue(state, "keygen", "one more", 0.0)
    store = memq.MemqStore(tmp_path)
    # The whole file is bounded too: a store that would outgrow it says so and keeps what it had.
    with pytest.raises(memq.MemqError, match="full"):
        store.update(lambda s: s.update(queues={"a": state["queues"]["keygen"]} | {
            f"b{i}": {"messages": [{"body": "y" * 4000}] * 300, "enqueued": 0, "dequeued": 0,
                      "drained": 0} for i in range(2)
        }))  # fmt: skip
    assert store.read()["queues"] == {}


def test_queues_are_shared_by_connections_and_gone_after_a_restart(
    pod_dir: Path, state_dir: Path
) -> None:
    one = Client(pod_dir, state_dir)
    assert one.call("PUT", "/queues/keygen")[0] == 200
    one.json("POST", "/queues/keygen/enqueue", b"a")
    one.close()
    two = Client(pod_dir, state_dir)
    assert two.json("POST", "/queues/keygen/dequeue")["body"] == "a"
    two.close()
    # A kuard keeps its queues in memory: the next container instance starts with none.
    assert memq.MemqStore(state_dir, generation=1).read()["queues"] == {}
    assert "keygen" in memq.MemqStore(state_dir, generation=0).read()["queues"]


def test_connections_at_once_lose_no_message(pod_dir: Path, state_dir: Path) -> None:
    setup = Client(pod_dir, state_dir)
    assert setup.call("PUT", "/queues/keygen")[0] == 200
    setup.close()

    def fill(worker: int) -> None:
        each = Client(pod_dir, state_dir)
        for i in range(25):
            assert each.call("POST", "/queues/keygen/enqueue", f"{worker}-{i}".encode())[0] == 200
        each.close()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(fill, range(4)))
    check = Client(pod_dir, state_dir)
    assert _depth(check) == {
        "name": "keygen", "depth": 100, "enqueued": 100, "dequeued": 0, "drained": 0,
    }  # fmt: skip
    check.close()


FLAGS = {"enable": True, "exit-on-complete": True, "memq-queue": "keygen"}


def test_the_worker_takes_every_item_then_exits_as_kuard(client: Client) -> None:
    client.call("PUT", "/queues/keygen")
    for i in range(5):
        client.json("POST", "/queues/keygen/enqueue", f"work-item-{i}".encode())
    worker = http.client.HTTPConnection("queue:8080")
    worker.sock = client.sock  # the connection the shim would hand over
    out = io.StringIO()

    assert work(worker, BASE, FLAGS, out) == 0

    lines = out.getvalue().splitlines()
    assert len([line for line in lines if line.startswith("(ID 0) Item done: SHA256:")]) == 5
    assert lines[-1] == "(ID 0) Workload exiting"
    assert _depth(client) == {
        "name": "keygen", "depth": 0, "enqueued": 5, "dequeued": 5, "drained": 0,
    }  # fmt: skip
    assert work(worker, BASE, FLAGS | {"exit-code": 3}, io.StringIO()) == 3


def test_a_worker_without_its_queue_asks_to_reconnect(client: Client) -> None:
    worker = http.client.HTTPConnection("queue:8080")
    worker.sock = client.sock
    out = io.StringIO()
    assert work(worker, BASE, FLAGS, out) == RECONNECT
    assert "Error talking to server: 400 does not exist. Retrying after 1s." in out.getvalue()
