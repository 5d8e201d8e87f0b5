"""A kuard MemQ worker (``--keygen-memq-server``, ``--keygen-memq-queue``): take messages off the
queue one by one and "generate a key" for each, until the queue is empty. Stdlib only: it runs
in a jail like the demo app's, as the consumer pod's uid.

The shim reaches the queue for it: it resolves the server URL's Service in the pod's own
namespace to a ready Pod and hands over a connection to that Pod's demo app (``--conn-fd``), so
the worker dials nothing itself. It speaks HTTP/1.1 with keep-alive over that connection and
prints kuard's log lines. Exit codes: kuard's (``--keygen-exit-code``, 0 by default) when the
queue is empty and ``--keygen-exit-on-complete`` is set; ``RECONNECT`` when the connection or
the server failed, so the shim connects again after a second, as kuard retries.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import json
import socket
import sys
import time
from typing import Any, TextIO
from urllib.parse import quote, urlsplit

from podsim.container import pod_container
from podsim.poddir import PodDirError, pod_dir_load
from podsim.startuplog import keygen_flags

RECONNECT = 75  # EX_TEMPFAIL
MAX_ITEMS = 10_000  # one worker's lifetime: more than any queue here can hold


class _Connected(http.client.HTTPConnection):
    """An HTTPConnection over a socket that is already open."""

    def __init__(self, sock: socket.socket, host: str) -> None:
        super().__init__(host, timeout=30)
        self.sock = sock

    def connect(self) -> None:
        raise ConnectionError("the connection to the queue server was closed")


def fingerprint(message_id: str) -> str:
    digest = hashlib.sha256(message_id.encode()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def work(conn: http.client.HTTPConnection, path: str, flags: dict[str, Any], out: TextIO) -> int:
    """Dequeue until the queue is empty; the exit code, as above."""
    queue = str(flags.get("memq-queue") or "")
    target = f"{path.rstrip('/')}/queues/{quote(queue, safe='')}/dequeue"
    done = 0
    while done < MAX_ITEMS:
        try:
            conn.request("POST", target, body=b"", headers={"Content-Length": "0"})
            answer = conn.getresponse()
            body = answer.read(64 * 1024)
        except (OSError, http.client.HTTPException) as error:
            print(f"(ID 0) Error talking to server: {error}. Retrying after 1s.", file=out)
            return RECONNECT
        if answer.status == 204:
            if flags.get("exit-on-complete"):
                print("(ID 0) Workload exiting", file=out)
                return int(flags.get("exit-code") or 0)
            print("(ID 0) Queue is empty. Retrying after 1s.", file=out, flush=True)
            time.sleep(1)
            continue
        if answer.status != 200:
            reason = body.decode("utf-8", "replace").strip() or answer.reason
            print(f"(ID 0) Error talking to server: {answer.status} {reason}. Retrying after 1s.",
                  file=out)  # fmt: skip
            return RECONNECT
        try:
            message_id = str(json.loads(body)["id"])
        except (ValueError, KeyError, TypeError):
            message_id = hashlib.sha256(body).hexdigest()
        done += 1
        print(f"(ID 0) Item done: {fingerprint(message_id)}", file=out, flush=True)
    print("(ID 0) Workload exiting", file=out)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="memq-worker")
    parser.add_argument("--pod-dir", required=True)
    parser.add_argument("--container", required=True)
    parser.add_argument("--conn-fd", type=int, default=3)
    args = parser.parse_args(argv)
    try:
        pod = pod_dir_load(args.pod_dir)
        flags = keygen_flags(pod_container(pod.pod, args.container)) or {}
    except (PodDirError, KeyError, OSError) as error:
        print(f"memq-worker: {error}", file=sys.stderr)
        return 2
    server = urlsplit(str(flags.get("memq-server") or ""))
    if server.scheme != "http" or not server.hostname:
        print(f"(ID 0) Error talking to server: bad --keygen-memq-server {server.geturl()!r}",
              file=sys.stdout)  # fmt: skip
        return 2
    sock = socket.socket(fileno=args.conn_fd)
    conn = _Connected(sock, server.netloc)
    try:
        return work(conn, server.path or "/", flags, sys.stdout)
    finally:
        sys.stdout.flush()
        conn.close()
