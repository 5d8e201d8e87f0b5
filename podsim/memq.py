"""kuard's MemQ work queue in the demo app (`/memq/server/...`), so the book's work-queue Job
really drains a queue. Stdlib only: it runs in the demo app's jail.

The API is kuard's (pkg/memq/server): ``GET /stats``; ``PUT`` and ``DELETE /queues/Q``;
``POST /queues/Q/enqueue`` (the body is the message), ``/dequeue`` (the oldest message, or 204
when the queue is empty) and ``/drain``; errors are 400 with kuard's words ("already exists",
"does not exist"). A kuard keeps its queues in memory, so they start over when the container
restarts; here they live in ``STATE-DIR/memq.json`` beside the demo state (the pod's
connections are separate processes), under the same lock-and-rename discipline, with the same
generation rule.

Bounded, because a learner's loop may enqueue for ever: 16 queues, 2,000 messages per queue,
4 KiB per message, 1 MiB in all; past a bound the answer is 400 with a sentence saying which.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from podsim.demohttp import Request, Response, printable
from podsim.demostate import StateStore, read_regular

PREFIX = "/memq/server"
MAX_QUEUES = 16
MAX_MESSAGES = 2000
MAX_BODY = 4096
MAX_FILE = 1 << 20
_QUEUE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
_ROUTE = re.compile(r"/queues/(?P<queue>[^/]+)(?:/(?P<action>enqueue|dequeue|drain))?")
JSON_TYPE = "application/json"


class MemqError(Exception):
    """A request kuard would answer 400, with kuard's words."""


def default_queues() -> dict[str, Any]:
    return {"version": 1, "queues": {}}


def queue_create(state: dict[str, Any], name: str) -> None:
    queues = state["queues"]
    if name in queues:
        raise MemqError("already exists")
    if len(queues) >= MAX_QUEUES:
        raise MemqError(f"kubelab's demo queue server keeps at most {MAX_QUEUES} queues")
    queues[name] = {"messages": [], "enqueued": 0, "dequeued": 0, "drained": 0}


def _queue(state: dict[str, Any], name: str) -> dict[str, Any]:
    found = state["queues"].get(name)
    if not isinstance(found, dict):
        raise MemqError("does not exist")
    return found


def queue_delete(state: dict[str, Any], name: str) -> None:
    _queue(state, name)
    del state["queues"][name]


def queue_drain(state: dict[str, Any], name: str) -> None:
    queue = _queue(state, name)
    queue["drained"] += len(queue["messages"])
    queue["messages"] = []


def enqueue(state: dict[str, Any], name: str, body: str, now: float) -> dict[str, Any]:
    queue = _queue(state, name)
    if len(body.encode()) > MAX_BODY:
        raise MemqError(f"kubelab's demo queue server takes messages of at most {MAX_BODY} bytes")
    if len(queue["messages"]) >= MAX_MESSAGES:
        raise MemqError(
            f"kubelab's demo queue server keeps at most {MAX_MESSAGES} messages a queue"
        )
    message = {
        "kind": "message",
        "id": secrets.token_hex(16),
        "body": body,
        "creationTimestamp": _rfc3339(now),
    }
    queue["messages"].append(message)
    queue["enqueued"] += 1
    return message


def dequeue(state: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The oldest message, taken off the queue; None when it is empty."""
    queue = _queue(state, name)
    if not queue["messages"]:
        return None
    queue["dequeued"] += 1
    return dict(queue["messages"].pop(0))


def stats(state: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "stats",
        "queues": [
            {
                "name": name,
                "depth": len(queue["messages"]),
                "enqueued": queue["enqueued"],
                "dequeued": queue["dequeued"],
                "drained": queue["drained"],
            }
            for name, queue in sorted(state["queues"].items())
        ],
    }


def _rfc3339(when: float) -> str:
    return datetime.fromtimestamp(when, tz=UTC).isoformat().replace("+00:00", "Z")


class MemqStore(StateStore):
    """``memq.json`` beside the demo state: the demo state's lock discipline, its own file."""

    def __init__(self, directory: Path, generation: int = 0) -> None:
        super().__init__(directory, generation)
        self.path = directory / "memq.json"
        self.lock_path = directory / "memq.lock"

    def read(self) -> dict[str, Any]:
        state = default_queues()
        state["generation"] = self.generation
        try:
            stored = json.loads(read_regular(self.path, MAX_FILE).decode("utf-8"))
        except (OSError, ValueError):
            return state
        if (
            isinstance(stored, dict)
            and stored.get("version") == 1
            and stored.get("generation", 0) == self.generation
            and isinstance(stored.get("queues"), dict)
        ):
            state["queues"] = stored["queues"]
        return state

    def _write(self, state: dict[str, Any]) -> None:
        if len(json.dumps(state)) > MAX_FILE - 4096:
            raise MemqError("kubelab's demo queue server is full (1 MiB): drain or delete a queue")
        super()._write(state)


def memq_handle(store: MemqStore, request: Request) -> Response:
    """Answer one request under /memq/server as kuard does."""
    route = request.path[len(PREFIX) :]
    if route == "/stats":
        if request.method not in ("GET", "HEAD"):
            return _not_allowed("GET, HEAD")
        return _json(stats(store.read()))
    match = _ROUTE.fullmatch(route)
    if match is None:
        return Response(404, f"404 page not found: {printable(request.path)}\n".encode())
    name, action = match.group("queue"), match.group("action")
    wanted: tuple[str, ...] = ("PUT", "DELETE") if action is None else ("POST",)
    if request.method not in wanted:
        return _not_allowed(", ".join(wanted))
    if not _QUEUE_NAME.fullmatch(name):
        return Response(400, b"a queue name is 1 to 63 letters, digits, '.', '_' or '-'\n")
    answer: dict[str, Any] = {}

    def change(state: dict[str, Any]) -> None:
        if action is None and request.method == "PUT":
            queue_create(state, name)
        elif action is None:
            queue_delete(state, name)
        elif action == "drain":
            queue_drain(state, name)
        elif action == "enqueue":
            answer["message"] = enqueue(
                state, name, request.body.decode("utf-8", "replace"), time.time()
            )
        else:
            answer["message"] = dequeue(state, name)

    try:
        store.update(change)
    except MemqError as error:
        return Response(400, f"{error}\n".encode())
    if action in ("enqueue", "dequeue"):
        message = answer["message"]
        return Response(204, b"") if message is None else _json(message)
    return Response(200, b"")


def _json(value: Any) -> Response:
    return Response(200, json.dumps(value, indent=2).encode() + b"\n", JSON_TYPE)


def _not_allowed(allow: str) -> Response:
    return Response(405, b"Method Not Allowed\n", headers=[("Allow", allow)])
