"""kubelab's kuard: the book's demo app, serving one port-forwarded connection on stdin/stdout.

It never opens a socket. The kubelet shim starts one process per ``kubectl port-forward``
connection, with the connection's bytes on stdin and stdout; the process speaks HTTP/1.1
(keep-alive until EOF or ``Connection: close``) and exits. Every answered request writes one
line to stderr, which the shim timestamps into ``kubectl logs``: kuard's
``127.0.0.1:41234 GET /healthy`` plus the status (``... 500``), or
``127.0.0.1:41234 bad request (400): <reason>``; nothing else is ever written there except
``demoapp: <problem>`` lines.

Commands (cwd = the directory holding ``podsim/``)::

    python3 -m podsim.demoapp serve --pod-dir DIR --state-dir DIR --port N [--container C]
    python3 -m podsim.demoapp startup-log --pod-dir DIR [--container C]

``--port`` is the containerPort that was forwarded; it picks the container (the one declaring
that port, else the first running a kuard image, else the first). Like kuard, port 8443 speaks
HTTPS when the container mounts ``/tls/kuard.crt`` and ``/tls/kuard.key`` (the book's Secrets
chapter; see tlspipe.py); plain HTTP there gets kuard's 400. Exit status: 0 after the
connection ends (EOF, ``Connection: close``, a malformed request answered with 4xx, or 300 s
without a request), 2 when the pod dir or state dir is unusable (one line on stderr).

Endpoints (plain text, or HTML when Accept prefers text/html): ``/`` overview and request
details; ``/healthy`` and ``/ready`` 200 ``ok`` or 500, failed as on real kuard by
``PUT /healthy/api`` (``/ready/api``) with ``{"failNext": N}`` (podsim.probeapi), or by
kubelab's older switches ``/healthy/fail`` and ``/healthy/ok`` (``/ready/...``); ``/env``;
``/dns?name=X`` and kuard's ``POST /dns/api`` with ``{"type": "A", "name": "X"}``;
``/memory``, ``/memory/alloc?size=500Mi``, ``/memory/free``; kuard's KeyGen workload,
``GET``/``PUT /keygen`` (podsim.keygen: the CPU load ``kubectl top`` and autoscalers see);
``/fs/<path>``, kuard's file
browser over the files the simulation knows (kubelet-managed /etc files and volume mounts,
served as text, never as HTML). The flips and memory endpoints accept GET and POST (a form body
``size=...`` works too).

State shared by the pod's connections (the probe flips, the simulated memory) lives in
``STATE-DIR/state.json``; podsim.demostate describes it.

What belongs here: the endpoints (``DemoApp``) and the command line (``main``). The HTTP
parsing is podsim.demohttp's, the connection loop podsim.democonn's, how pages look
podsim.demopages'.
"""

from __future__ import annotations

import argparse
import json
import os
import posixpath
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from podsim import dns, keygen
from podsim.container import pod_container
from podsim.democonn import TLS_DIR, TLS_PORT, remote_address, serve_connection, serve_tls
from podsim.demohttp import Request, Response, printable
from podsim.demopages import (
    CSP,
    Page,
    esc,
    html_document,
    html_table,
    post_form,
    prefers_html,
    text_rows,
)
from podsim.demostate import StateStore
from podsim.envvars import NODE_ALLOCATABLE, container_env, expand
from podsim.etcfiles import resolv_conf
from podsim.memq import PREFIX as MEMQ_PREFIX
from podsim.memq import MemqStore, memq_handle
from podsim.poddir import PodDir, PodDirError, default_container, pod_dir_load
from podsim.probeapi import (
    answer_record,
    api_status,
    fail_next_left,
    fail_next_parse,
    fail_next_set,
    probe_period,
)
from podsim.quantity import format_bytes, parse_quantity
from podsim.startuplog import container_startup_lines, is_demo_image, kuard_version
from podsim.volumes import absolute_path, container_files

MAX_SIMULATED_MEMORY = 64 * 2**30
PROBES = {"healthy": "liveness", "ready": "readiness"}
FAILING_STATUS = 500  # kuard fails both probes with 500
# Paths that answer other methods than GET, HEAD and POST (kuard's JSON APIs).
METHODS = {
    "/healthy/api": ("GET", "HEAD", "PUT"),
    "/ready/api": ("GET", "HEAD", "PUT"),
    "/dns/api": ("POST",),
    "/keygen": ("GET", "HEAD", "PUT"),
}


class DemoApp:
    """Answers requests for one container of one pod."""

    def __init__(self, pod_dir: PodDir, container_name: str, port: int, state: StateStore):
        self.pod_dir = pod_dir
        self.pod = pod_dir.pod
        self.container_name = container_name
        self.container = pod_container(pod_dir.pod, container_name)
        self.port = port
        self.state = state
        self.memq = MemqStore(state.directory, state.generation)
        self._files: tuple[dict[str, bytes], set[str]] | None = None
        self.routes: dict[str, Callable[[Request], Page | Response]] = {
            "/": self.overview,
            "/env": self.env,
            "/dns": self.dns,
            "/dns/api": self.dns_api,
            "/memory": self.memory,
            "/memory/alloc": self.memory_alloc,
            "/memory/free": self.memory_free,
            "/keygen": self.keygen,
        }
        for probe in PROBES:
            self.routes[f"/{probe}"] = self._probe_handler(probe)
            self.routes[f"/{probe}/fail"] = self._flip_handler(probe, failing=True)
            self.routes[f"/{probe}/ok"] = self._flip_handler(probe, failing=False)
            self.routes[f"/{probe}/api"] = self._api_handler(probe)

    def _update(self, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Change the shared state; every change also records the container's memory limit."""
        limit = self._memory_limit()

        def apply(state: dict[str, Any]) -> None:
            state["memory"]["limit_bytes"] = limit
            change(state)

        return self.state.update(apply)

    # request dispatch

    def handle(self, request: Request) -> Response:
        if request.path.startswith(MEMQ_PREFIX + "/"):
            return memq_handle(self.memq, request)  # kuard's JSON API, never a page
        wants_html = prefers_html(request.header("accept"))
        handler = self.routes.get(request.path)
        if request.path == "/fs" or request.path.startswith("/fs/"):
            handler = self.fs
        allowed = METHODS.get(request.path, ("GET", "HEAD", "POST"))
        if handler is None:
            page = Page(404, "Not found", f"404 page not found: {request.path}\n")
        elif request.method not in allowed:
            page = Page(405, "Method not allowed", f"{request.method} is not allowed here\n")
            page.headers.append(("Allow", ", ".join(allowed)))
        elif request.method == "POST" and handler in (self.overview, self.env):
            page = Page(
                405, "Method not allowed", "use GET here\n", headers=[("Allow", "GET, HEAD")]
            )
        else:
            result = handler(request)
            if isinstance(result, Response):
                return result
            page = result
            action = request.path.count("/") > 1  # /healthy/fail, /memory/alloc, ...
            if request.method == "POST" and wants_html and action and page.status < 400:
                back = request.path.rsplit("/", 1)[0]
                return Response(303, b"", headers=[("Location", back)])
        if wants_html:
            document = html_document(page, self.pod_dir.name)
            headers = [("Content-Security-Policy", CSP), *page.headers]
            return Response(page.status, document.encode(), "text/html; charset=utf-8", headers)
        return Response(page.status, page.text.encode(), headers=page.headers)

    # the pages

    def _identity(self) -> list[tuple[str, str]]:
        meta = self.pod.get("metadata") or {}
        status = self.pod.get("status") or {}
        labels = meta.get("labels") or {}
        return [
            ("Pod", self.pod_dir.name),
            ("Namespace", self.pod_dir.namespace),
            ("Node", str((self.pod.get("spec") or {}).get("nodeName", ""))),
            ("Pod IP", str(status.get("podIP", ""))),
            ("Labels", ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "(none)"),
            ("Container", f"{self.container_name} ({self.container.get('image', '')})"),
            ("Forwarded port", str(self.port)),
        ]

    def overview(self, request: Request) -> Page:
        state = self.state.read()
        image = str(self.container.get("image", ""))
        if is_demo_image(image):
            version = kuard_version(image)
            headline = f"kuard {version}: Kubernetes Up and Running demo app (kubelab)"
        else:
            version = "kubelab demo app"
            headline = (
                f"kubelab demo app answering for {image}: simulated pods run no real image, "
                "so every forwarded port reaches this app"
            )
        rows = [
            ("Version", version),
            *self._identity(),
            ("Liveness", "failing" if state["healthy"]["failing"] else "ok"),
            ("Readiness", "failing" if state["ready"]["failing"] else "ok"),
        ]
        request_rows = [
            ("Proto", request.version),
            ("Method", request.method),
            ("Path", request.target),
            ("RemoteAddr", f"{remote_address()} (kubectl port-forward)"),
        ]
        headers = "\n".join(f"    {k}: {v}" for k, v in request.headers)
        text = (
            f"{headline}\n\n"
            f"{text_rows(rows)}\n\nRequest details\n{text_rows(request_rows)}\n"
            f"Headers:\n{headers}\n"
        )
        header_rows = "".join(
            f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in request.headers
        )
        body = (
            f"<p>{esc(headline)}</p>{html_table(rows)}"
            f"<h2>Request details</h2>{html_table(request_rows)}"
            f"<h3>Headers</h3><table>{header_rows}</table>"
        )
        return Page(200, "Overview", text, body)

    def _probe_handler(self, probe: str) -> Callable[[Request], Page]:
        kind = PROBES[probe]
        period = probe_period(self.container, probe)

        def handler(request: Request) -> Page:
            answer: dict[str, Any] = {}

            def hit(state: dict[str, Any]) -> None:
                entry, now = state[probe], time.time()
                entry["hits"] += 1
                entry["last_hit"] = now
                left = fail_next_left(entry, period, now)
                if left > 0:  # this request uses one of the failures, as on kuard
                    entry["fail_next"] = int(entry["fail_next"]) - 1
                answer.update(switched=entry["failing"], left=left)
                failed = entry["failing"] or left != 0
                if failed:
                    entry["consecutive_failures"] += 1
                answer_record(entry, FAILING_STATUS if failed else 200, now)

            entry = self._update(hit)[probe]
            title = f"{kind.capitalize()} probe /{probe}"
            left = answer["left"]
            if answer["switched"]:
                text = f"error: {kind} forced to fail by /{probe}/fail\n"
            elif left < 0:
                text = "fail, permanent\n"
            elif left > 0:
                text = f"fail, {left - 1} left\n"
            else:
                text = "ok\n"
            status, css = (200, "good") if text == "ok\n" else (FAILING_STATUS, "bad")
            info = (
                f'<p class="{css}">/{probe} answers {status}: {esc(text.strip())}</p>'
                f"<p>Answered {entry['hits']} time(s); "
                f"{entry['consecutive_failures']} failure(s) in a row.</p>"
                + post_form(f"/{probe}/fail", f"Make /{probe} fail")
                + post_form(f"/{probe}/ok", f"Make /{probe} succeed")
            )
            return Page(status, title, text, info)

        return handler

    def _api_handler(self, probe: str) -> Callable[[Request], Response]:
        """kuard's ``/healthy/api`` and ``/ready/api``: GET the status, PUT ``{"failNext": N}``."""
        period = probe_period(self.container, probe)

        def handler(request: Request) -> Response:
            if request.method == "PUT":
                try:
                    count = fail_next_parse(request.body)
                except ValueError as error:
                    return Response(400, f"{error}\n".encode())
                state = self._update(lambda s: fail_next_set(s[probe], count, time.time()))
            else:
                state = self.state.read()
            status = api_status(probe, state[probe], period, time.time())
            return Response(200, json.dumps(status).encode() + b"\n", "application/json")

        return handler

    def keygen(self, request: Request) -> Response:
        """kuard's KeyGen API: GET its status, PUT a config to restart the workload."""
        started = keygen.started_at(self.pod, self.container_name)
        now = time.time()
        if request.method == "PUT":
            try:
                config = keygen.parse_config(request.body)
            except ValueError as error:
                return Response(400, f"{error}\n".encode())
            state = self._update(lambda s: keygen.restart(s, config, self.container, started, now))
        else:
            state = self.state.read()
        seed = str((self.pod.get("metadata") or {}).get("uid") or self.pod_dir.name)
        answer = keygen.status(state.get("keygen"), self.container, started, seed, now)
        return Response(200, json.dumps(answer).encode() + b"\n", "application/json")

    def _flip_handler(self, probe: str, *, failing: bool) -> Callable[[Request], Page]:
        kind = PROBES[probe]

        def flip(state: dict[str, Any]) -> None:
            entry = state[probe]
            now = time.time()
            if failing and not entry["failing"]:
                entry["failing_since"] = now
            if not failing:
                entry["failing_since"] = None
            if entry["failing"] != failing:
                entry["consecutive_failures"] = 0
            entry["failing"] = failing
            entry["changed_at"] = now

        def handler(request: Request) -> Page:
            self._update(flip)
            if failing:
                text = f"{kind} now failing: /{probe} answers {FAILING_STATUS}\n"
            else:
                text = f"{kind} now ok: /{probe} answers 200\n"
            return Page(200, f"{kind.capitalize()} changed", text)

        return handler

    def env(self, request: Request) -> Page:
        warnings: list[str] = []
        env = container_env(
            self.pod,
            self.container_name,
            self.pod_dir.services,
            self.pod_dir.refs,
            warnings=warnings,
        )
        command = self.container.get("command") or []
        args = self.container.get("args") or []
        variables = dict(env)
        default = (
            "(image default: /kuard)"
            if is_demo_image(str(self.container.get("image", "")))
            else "(image default)"
        )
        command_text = (
            json.dumps([expand(str(w), variables) for w in command]) if command else default
        )
        args_text = json.dumps([expand(str(w), variables) for w in args]) if args else "(none)"
        lines = [f"Command: {command_text}", f"Args:    {args_text}", "", "Environment:"]
        lines += [f"{k}={v}" for k, v in env]
        lines += [f"# warning: {w}" for w in warnings]
        rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in env)
        body = (
            html_table([("Command", command_text), ("Args", args_text)])
            + f"<h2>Environment</h2><table>{rows}</table>"
            + "".join(f'<p class="bad">warning: {esc(w)}</p>' for w in warnings)
        )
        return Page(200, "Environment", "\n".join(lines) + "\n", body)

    def dns(self, request: Request) -> Page:
        name = request.param("name").strip()
        form = (
            '<form method="get" action="/dns"><label>Name <input name="name" '
            f'value="{esc(name)}" placeholder="kubernetes.default"></label>'
            "<button>Look up</button></form>"
        )
        if not name:
            text = (
                "Resolve a name the way this pod would: /dns?name=kubernetes.default\n"
                f"{resolv_conf(self.pod_dir.namespace)}"
            )
            return Page(200, "DNS query", text, form)
        output = self._dig(name)
        if output is None:
            return Page(400, "DNS query", f"not a valid DNS name: {printable(name)}\n", form)
        return Page(200, "DNS query", output, f"{form}<pre>{esc(output)}</pre>")

    def dns_api(self, request: Request) -> Response:
        """kuard's ``POST /dns/api`` with ``{"type": "A", "name": "..."}``: ``{"result": ...}``."""
        try:
            query = json.loads(request.body.decode("utf-8") or "{}")
        except (UnicodeDecodeError, ValueError) as error:
            return Response(400, f"the body is not JSON: {error}\n".encode())
        if not isinstance(query, dict):
            return Response(
                400, b'the body must be a JSON object like {"type": "A", "name": "x"}\n'
            )
        kind = str(query.get("type") or "A").upper()
        name = str(query.get("name") or "").strip()
        if kind != "A":
            # The simulated cluster DNS answers A records (podsim.dns); kuard names the type too.
            return Response(400, f"Unknown DNS type: {printable(kind)} (only A here)\n".encode())
        output = self._dig(name)
        if output is None:
            return Response(400, f"not a valid DNS name: {printable(name)}\n".encode())
        return Response(200, json.dumps({"result": output}).encode() + b"\n", "application/json")

    def _dig(self, name: str) -> str | None:
        """What dig prints for ``name`` as this pod resolves it; None for an invalid name."""
        if not dns.valid_name(name):
            return None
        result = dns.lookup(name, self.pod_dir.namespace, self.pod_dir.services)
        return dns.dig_output(result, self.pod_dir.namespace)

    def tls_material(self) -> tuple[bytes, bytes] | None:
        """The PEM certificate and key kuard would serve HTTPS with, if the pod mounts them."""
        if self._files is None:
            self._files = container_files(self.pod, self.container_name, self.pod_dir.refs)
        files = self._files[0]
        certificate, key = files.get(f"{TLS_DIR}/kuard.crt"), files.get(f"{TLS_DIR}/kuard.key")
        return (certificate, key) if certificate and key else None

    def fs(self, request: Request) -> Page | Response:
        """kuard's file system browser, over the files the simulation knows: kubelet-managed
        /etc files and the volume mounts. Files are served raw, never as HTML."""
        if self._files is None:
            self._files = container_files(self.pod, self.container_name, self.pod_dir.refs)
        files, directories = self._files
        target = absolute_path(request.path[len("/fs") :])
        if target in files:
            content = files[target]
            try:
                content.decode("utf-8")
                kind = "text/plain; charset=utf-8"
            except UnicodeDecodeError:
                kind = "application/octet-stream"
            return Response(200, content, kind)
        note = (
            "Only kubelet-managed files (/etc/hosts, /etc/resolv.conf, /etc/hostname) and volume "
            "mounts are simulated; the image's own files are not."
        )
        if target not in directories:
            return Page(404, "Files", f"{target}: no such file or directory\n{note}\n")
        children = sorted(
            {
                posixpath.basename(path) + ("/" if path in directories else "")
                for path in (*files, *directories)
                if path != target and posixpath.dirname(path) == target
            }
        )
        text = f"{target}\n" + "".join(f"{name}\n" for name in children) + f"# {note}\n"
        base = "/fs" + ("" if target == "/" else target)
        links = "".join(
            f'<li><a href="{esc(quote(f"{base}/{name}"))}">{esc(name)}</a></li>'
            for name in children
        )
        parent = esc(quote(posixpath.dirname(base)))
        up = "" if target == "/" else f'<p><a href="{parent}">..</a></p>'
        return Page(200, f"Files: {target}", text, f"{up}<ul>{links}</ul><p>{esc(note)}</p>")

    def _memory_limit(self) -> int | None:
        limit = ((self.container.get("resources") or {}).get("limits") or {}).get("memory")
        try:
            return int(parse_quantity(limit)) if limit is not None else None
        except ValueError:
            return None

    def _memory_page(self, memory: dict[str, Any], headline: str = "") -> Page:
        allocated = int(memory["allocated_bytes"])
        limit = memory["limit_bytes"]
        lines = [headline] if headline else []
        lines.append(
            f"Simulated allocation: {format_bytes(allocated)} ({allocated} bytes); "
            "nothing is really allocated"
        )
        if limit is None:
            lines.append(
                f"Memory limit: none (container {self.container_name} may use the node's "
                f"memory, {NODE_ALLOCATABLE['memory']})"
            )
        else:
            lines.append(
                f"Memory limit: {format_bytes(limit)} (resources.limits.memory of "
                f"container {self.container_name})"
            )
        if memory["over_limit"]:
            lines.append(
                "Over the limit: a real container would be OOM-killed now (reason OOMKilled, "
                "exit code 137) and restarted according to the pod's restartPolicy"
            )
        lines.append("Allocate: /memory/alloc?size=500Mi   Free: /memory/free")
        text = "\n".join(lines) + "\n"
        body = (
            "".join(
                f'<p class="{"bad" if line.startswith("Over the limit") else ""}">{esc(line)}</p>'
                for line in lines[:-1]
            )
            + post_form(
                "/memory/alloc",
                "Allocate",
                '<input name="size" value="100Mi" size="8" aria-label="size">',
            )
            + post_form("/memory/free", "Free all")
        )
        return Page(200, "Memory", text, body)

    def memory(self, request: Request) -> Page:
        return self._memory_page(self._update(lambda state: None)["memory"])

    def memory_alloc(self, request: Request) -> Page:
        raw = request.param("size") or "100Mi"
        try:
            size = int(parse_quantity(raw))
        except ValueError:
            size = -1
        if size <= 0:
            text = f"size must be a positive quantity like 500Mi or 1G, not {printable(raw)}\n"
            return Page(400, "Memory", text)
        refused: list[str] = []

        def allocate(state: dict[str, Any]) -> None:
            memory = state["memory"]
            limit = memory["limit_bytes"]
            total = int(memory["allocated_bytes"]) + size
            if total > MAX_SIMULATED_MEMORY:
                refused.append(f"at most {format_bytes(MAX_SIMULATED_MEMORY)} can be simulated")
                return
            memory["allocated_bytes"] = total
            if limit is not None and total > limit:
                if not memory["over_limit"]:
                    memory["over_limit_since"] = time.time()
                memory["over_limit"] = True

        memory = self._update(allocate)["memory"]
        if refused:
            return Page(400, "Memory", refused[0] + "\n")
        return self._memory_page(memory, f"Allocated {format_bytes(size)} more.")

    def memory_free(self, request: Request) -> Page:
        def free(state: dict[str, Any]) -> None:
            state["memory"].update(allocated_bytes=0, over_limit=False, over_limit_since=None)

        return self._memory_page(self._update(free)["memory"], "Freed everything.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m podsim.demoapp")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve one connection on stdin/stdout")
    serve.add_argument("--pod-dir", required=True)
    serve.add_argument("--state-dir", required=True)
    serve.add_argument("--port", type=int, required=True)
    serve.add_argument("--container", default="")
    startup = commands.add_parser("startup-log", help="print the container's first log lines")
    startup.add_argument("--pod-dir", required=True)
    startup.add_argument("--container", default="")
    args = parser.parse_args(argv)
    try:
        pod_dir = pod_dir_load(args.pod_dir)
        port = getattr(args, "port", None)
        name = args.container or default_container(pod_dir.pod, port)
        pod_container(pod_dir.pod, name)
        if args.command == "startup-log":
            env = container_env(pod_dir.pod, name, pod_dir.services, pod_dir.refs)
            for line in container_startup_lines(pod_dir.pod, name, env=env):
                print(line)
            return 0
        state_dir = Path(args.state_dir)
        state_dir.mkdir(parents=True, exist_ok=True)
        if not os.access(state_dir, os.W_OK):
            raise PodDirError(f"{state_dir}: not writable")
    except (PodDirError, KeyError, OSError) as error:
        message = error.args[0] if isinstance(error, PodDirError | KeyError) else error
        print(f"demoapp: {message}", file=sys.stderr)
        return 2
    app = DemoApp(pod_dir, name, args.port, StateStore(state_dir))
    if args.port == TLS_PORT and app.tls_material() is not None:
        return serve_tls(app, state_dir, sys.stderr)
    return serve_connection(app, sys.stdin.buffer, sys.stdout.buffer, sys.stderr)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
