"""Serve the demo app on a listening socket handed over as a file descriptor.

The kubelet shim keeps one of these per forwarded pod port, so a port-forwarded request costs a
fork instead of starting Python and a jail (~1 s on a busy machine). The shim creates the Unix
socket itself, in a directory only root can reach, and passes the listening descriptor (fd 3)
through the jail: this process opens no socket and has no network. Each connection is served by
a forked child running the demo app's connection loop (podsim.democonn), with the pod's files
read afresh. The server exits after ``--idle-seconds`` without a connection; the shim starts a
new one when needed.

Usage: python3 -m podsim.demoserver --fd 3 --pod-dir D --state-dir D --port N --container C
       [--generation RESTARTS]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
from pathlib import Path

from podsim.demoapp import DemoApp
from podsim.democonn import serve_connection
from podsim.demostate import StateStore
from podsim.poddir import PodDirError, pod_dir_load


def _serve_child(conn: socket.socket, args: argparse.Namespace) -> int:
    conn.setblocking(True)
    try:
        pod_dir = pod_dir_load(args.pod_dir)
    except PodDirError as error:
        print(f"demoapp: {error}", file=sys.stderr)
        return 2
    store = StateStore(Path(args.state_dir), generation=args.generation)
    app = DemoApp(pod_dir, args.container, args.port, store)
    with conn, conn.makefile("rb") as rfile, conn.makefile("wb") as wfile:
        return serve_connection(app, rfile, wfile, sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m podsim.demoserver")
    parser.add_argument("--fd", type=int, default=3)
    parser.add_argument("--pod-dir", required=True)
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--container", required=True)
    parser.add_argument("--idle-seconds", type=float, default=600.0)
    parser.add_argument("--generation", type=int, default=0, help="the container's restarts")
    args = parser.parse_args(argv)
    listener = socket.socket(fileno=args.fd)
    listener.settimeout(args.idle_seconds)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    while True:
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            return 0
        except InterruptedError:
            continue
        pid = os.fork()
        if pid == 0:
            listener.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            code = 1
            try:
                code = _serve_child(conn, args)
            finally:
                sys.stderr.flush()
                os._exit(code)
        conn.close()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
