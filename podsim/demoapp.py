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
details; ``/healthy`` 200 ``ok`` or 500, flipped by ``/healthy/fail`` and ``/healthy/ok``;
``/ready`` 200 or 503, flipped by ``/ready/fail`` and ``/ready/ok``; ``/env``; ``/dns?name=X``;
``/memory``, ``/memory/alloc?size=500Mi``, ``/memory/free``; ``/fs/<path>``, kuard's file
browser over the files the simulation knows (kubelet-managed /etc files and volume mounts,
served as text, never as HTML). The flips and memory endpoints accept GET and POST (a form body
``size=...`` works too).

State shared by the pod's connections lives in ``STATE-DIR/state.json``, replaced atomically
(write a temporary file, then rename) under an exclusive ``flock`` of ``STATE-DIR/state.lock``.
Times are Unix epoch seconds (floats)::

    {
      "version": 1,
      "healthy": {                  # liveness; "ready" has the same shape (readiness)
        "failing": false,           # true after /healthy/fail, false after /healthy/ok
        "failing_since": null,      # when it started failing; null while ok
        "changed_at": null,         # last flip (either way)
        "hits": 0,                  # requests to /healthy ever answered
        "consecutive_failures": 0,  # failing answers since failing_since (failureThreshold)
        "last_hit": null
      },
      "ready": {...},
      "memory": {
        "allocated_bytes": 0,       # simulated: nothing is really allocated
        "limit_bytes": null,        # the container's limits.memory, null without a limit
        "over_limit": false,        # allocated_bytes > limit_bytes: a real container is
        "over_limit_since": null    # OOM-killed (137, OOMKilled); the shim may act on it
      }
    }

A missing, unreadable or foreign file reads as this default state.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import fcntl
import html
import io
import json
import os
import posixpath
import re
import signal
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Protocol, TextIO
from urllib.parse import parse_qs, quote, unquote, urlsplit

from podsim import dns
from podsim.container import pod_container
from podsim.envvars import NODE_ALLOCATABLE, container_env, expand
from podsim.etcfiles import resolv_conf
from podsim.poddir import PodDir, PodDirError, default_container, pod_dir_load
from podsim.quantity import format_bytes, parse_quantity
from podsim.startuplog import container_startup_lines, is_demo_image, kuard_version
from podsim.volumes import absolute_path, container_files

MAX_LINE = 8 * 1024
MAX_HEADERS = 100
MAX_HEADER_BYTES = 32 * 1024
MAX_BODY = 64 * 1024
MAX_QUERY_FIELDS = 32
IDLE_SECONDS = 300
MAX_SIMULATED_MEMORY = 64 * 2**30
STATE_VERSION = 1
TLS_PORT = 8443
TLS_DIR = "/tls"
PROBES = {"healthy": ("liveness", 500), "ready": ("readiness", 503)}

_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_BAD_VALUE_CHARS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_REASONS = {
    200: "OK",
    303: "See Other",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    413: "Content Too Large",
    414: "URI Too Long",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    505: "HTTP Version Not Supported",
}
_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


# --- HTTP -----------------------------------------------------------------------------------


class ByteReader(Protocol):
    def readline(self, size: int = -1, /) -> bytes: ...

    def read(self, size: int = -1, /) -> bytes: ...


class ByteWriter(Protocol):
    def write(self, data: bytes, /) -> int | None: ...

    def flush(self) -> None: ...


class HttpError(Exception):
    """A request we refuse; the connection closes after the answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class IdleTimeout(Exception):
    """No complete request arrived in time."""


@dataclass
class Request:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes
    path: str
    query: dict[str, list[str]]

    def header(self, name: str) -> str:
        wanted = name.lower()
        return ", ".join(value for key, value in self.headers if key.lower() == wanted)

    def param(self, name: str) -> str:
        values = self.query.get(name)
        return values[0] if values else ""

    @property
    def keep_alive(self) -> bool:
        tokens = {t.strip().lower() for t in self.header("connection").split(",")}
        if "close" in tokens:
            return False
        return self.version == "HTTP/1.1" or "keep-alive" in tokens


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)
    close: bool = False


def _readline(stream: ByteReader) -> bytes:
    line = stream.readline(MAX_LINE + 1)
    if len(line) > MAX_LINE:
        raise HttpError(431, "header line too long")
    if line and not line.endswith(b"\n"):
        raise HttpError(400, "incomplete request: the connection ended mid-line")
    return line


def read_request(stream: ByteReader, interim: ByteWriter | None = None) -> Request | None:
    """The next request on the connection; None at a clean end of input.

    ``interim`` receives ``100 Continue`` when the client waits for it before the body."""
    line = stream.readline(MAX_LINE + 1)
    for _ in range(4):  # RFC 9112 lets a client send empty lines before a request
        if line not in (b"\r\n", b"\n"):
            break
        line = stream.readline(MAX_LINE + 1)
    if not line:
        return None
    if len(line) > MAX_LINE:
        raise HttpError(414, f"request line longer than {MAX_LINE} bytes")
    if not line.endswith(b"\n"):
        raise HttpError(400, "incomplete request line")
    parts = line.decode("latin-1").rstrip("\r\n").split(" ")
    if len(parts) != 3 or not _TOKEN.match(parts[0]) or not parts[1]:
        raise HttpError(400, "malformed request line")
    method, target, version = parts
    if not re.fullmatch(r"HTTP/\d\.\d", version):
        raise HttpError(400, "malformed HTTP version")
    if version not in ("HTTP/1.0", "HTTP/1.1"):
        raise HttpError(505, f"{version} is not supported, use HTTP/1.1")

    headers: list[tuple[str, str]] = []
    total = 0
    while True:
        raw = _readline(stream)
        if not raw:
            raise HttpError(400, "incomplete request: the headers did not end")
        total += len(raw)
        if total > MAX_HEADER_BYTES:
            raise HttpError(431, f"headers larger than {MAX_HEADER_BYTES} bytes")
        if raw in (b"\r\n", b"\n"):
            break
        if raw[:1] in (b" ", b"\t"):
            raise HttpError(400, "folded header lines are not allowed")
        name, sep, value = raw.decode("latin-1").rstrip("\r\n").partition(":")
        value = value.strip(" \t")
        if not sep or not _TOKEN.match(name) or _BAD_VALUE_CHARS.search(value):
            raise HttpError(400, "malformed header line")
        headers.append((name, value))
        if len(headers) > MAX_HEADERS:
            raise HttpError(431, f"more than {MAX_HEADERS} headers")

    request = Request(method, target, version, headers, b"", "/", {})
    if request.header("transfer-encoding"):
        raise HttpError(501, "Transfer-Encoding is not supported; send Content-Length")
    lengths = {v.strip() for k, v in headers if k.lower() == "content-length"}
    length = 0
    if lengths:
        if len(lengths) > 1 or not re.fullmatch(r"[0-9]{1,18}", next(iter(lengths))):
            raise HttpError(400, "malformed Content-Length")
        length = int(next(iter(lengths)))
        if length > MAX_BODY:
            raise HttpError(413, f"request body larger than {MAX_BODY} bytes")
    if length and interim is not None and request.header("expect").lower() == "100-continue":
        interim.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        interim.flush()
    request.body = stream.read(length) if length else b""
    if len(request.body) < length:
        raise HttpError(400, "incomplete request: the body was cut short")

    if not target.startswith("/") and not target.lower().startswith(("http://", "https://")):
        raise HttpError(400, "the request target must be a path")
    try:
        split = urlsplit(target)
    except ValueError:
        raise HttpError(400, "malformed request target") from None
    path = unquote(split.path or "/", errors="replace")
    if "\x00" in path:
        raise HttpError(400, "malformed path")
    request.path = path.rstrip("/") or "/"
    try:
        request.query = parse_qs(
            split.query, keep_blank_values=True, max_num_fields=MAX_QUERY_FIELDS
        )
        form_type = request.header("content-type").split(";")[0].strip().lower()
        if request.body and form_type == "application/x-www-form-urlencoded":
            form = parse_qs(
                request.body.decode("utf-8", errors="replace"),
                keep_blank_values=True,
                max_num_fields=MAX_QUERY_FIELDS,
            )
            for key, values in form.items():
                request.query.setdefault(key, []).extend(values)
    except ValueError:
        raise HttpError(400, "too many or malformed query fields") from None
    return request


def response_bytes(response: Response, *, head: bool, close: bool, keep_alive_10: bool) -> bytes:
    reason = _REASONS.get(response.status, "Unknown")
    headers = [
        ("Date", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())),
        ("Server", "kuard (kubelab demo app)"),
        ("Content-Type", response.content_type),
        ("Content-Length", str(len(response.body))),
        ("Cache-Control", "no-store"),
        ("X-Content-Type-Options", "nosniff"),
        *response.headers,
    ]
    if close:
        headers.append(("Connection", "close"))
    elif keep_alive_10:
        headers.append(("Connection", "keep-alive"))
    lines = [f"HTTP/1.1 {response.status} {reason}", *(f"{k}: {v}" for k, v in headers)]
    head_bytes = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", errors="replace")
    return head_bytes if head else head_bytes + response.body


def printable(text: str, limit: int = 200) -> str:
    """``text`` safe for a log line: control and non-ASCII characters escaped, truncated."""
    out = "".join(ch if " " <= ch <= "~" else f"\\x{ord(ch):02x}" for ch in text[:limit])
    return out + ("..." if len(text) > limit else "")


# --- state ----------------------------------------------------------------------------------


def _probe_state() -> dict[str, Any]:
    return {
        "failing": False,
        "failing_since": None,
        "changed_at": None,
        "hits": 0,
        "consecutive_failures": 0,
        "last_hit": None,
    }


def default_state() -> dict[str, Any]:
    return {
        "version": STATE_VERSION,
        "healthy": _probe_state(),
        "ready": _probe_state(),
        "memory": {
            "allocated_bytes": 0,
            "limit_bytes": None,
            "over_limit": False,
            "over_limit_since": None,
        },
    }


def _read_regular(path: Path, limit: int) -> bytes:
    """A regular file's first `limit` bytes; OSError for anything else (a FIFO planted there
    must not block the demo app), without following a link."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        return os.read(fd, limit)
    finally:
        os.close(fd)


class StateStore:
    """``state.json`` in the state dir: read freely, changed under a lock, replaced atomically.

    ``generation`` is the container's restart count: a restarted container starts from the
    default state, so a state written by an earlier instance reads as the default (the shim's
    prober ignores it the same way)."""

    def __init__(self, directory: Path, generation: int = 0) -> None:
        self.directory = directory
        self.generation = generation
        self.path = directory / "state.json"
        self.lock_path = directory / "state.lock"

    def read(self) -> dict[str, Any]:
        state = default_state()
        state["generation"] = self.generation
        try:
            stored = json.loads(_read_regular(self.path, 64 * 1024).decode("utf-8"))
        except (OSError, ValueError):
            return state
        if not isinstance(stored, dict) or stored.get("version") != STATE_VERSION:
            return state
        if stored.get("generation", 0) != self.generation:
            return state
        for section, defaults in state.items():
            if isinstance(defaults, dict) and isinstance(stored.get(section), dict):
                for key in defaults:
                    if key in stored[section]:
                        defaults[key] = stored[section][key]
        return state

    def update(self, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        with self._locked():
            state = self.read()
            change(state)
            self._write(state)
            return copy.deepcopy(state)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        flags = os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(self.lock_path, flags, 0o600)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError(f"{self.lock_path} is not a regular file")
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _write(self, state: dict[str, Any]) -> None:
        fd, temporary = tempfile.mkstemp(prefix=".state-", suffix=".tmp", dir=self.directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(state, handle, indent=2)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise


# --- pages ----------------------------------------------------------------------------------


@dataclass
class Page:
    """What a handler produced: the same content as plain text and, optionally, as HTML."""

    status: int
    title: str
    text: str
    html: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)


def prefers_html(accept: str) -> bool:
    """Whether the Accept header ranks text/html at least as high as everything else."""
    html_q = plain_q = 0.0
    for item in accept.split(","):
        media, *params = item.strip().split(";")
        q = 1.0
        for param in params:
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        media = media.strip().lower()
        if media in ("text/html", "application/xhtml+xml"):
            html_q = max(html_q, q)
        elif media in ("text/plain", "text/*", "*/*"):
            plain_q = max(plain_q, q)
    return html_q > 0 and html_q >= plain_q


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


_NAV = [
    ("/", "Overview"),
    ("/healthy", "Liveness"),
    ("/ready", "Readiness"),
    ("/env", "Environment"),
    ("/dns", "DNS"),
    ("/memory", "Memory"),
    ("/fs", "Files"),
]
_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:0;color:#1d2433}"
    "header{background:#326ce5;color:#fff;padding:.6em 1em}"
    "nav a{color:#fff;margin-right:1em}main{padding:1em}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccd;padding:.2em .5em;"
    "text-align:left;vertical-align:top;font-family:monospace}"
    "pre{background:#f4f6fa;padding:.6em;overflow:auto}.bad{color:#b00020}.good{color:#0a7a2f}"
)


def html_document(page: Page, pod_name: str) -> str:
    nav = "".join(f'<a href="{href}">{esc(label)}</a>' for href, label in _NAV)
    body = page.html if page.html is not None else f"<pre>{esc(page.text)}</pre>"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(page.title)} - {esc(pod_name)}</title><style>{_STYLE}</style></head>"
        f"<body><header><strong>kuard</strong> on pod {esc(pod_name)} <nav>{nav}</nav>"
        f"</header><main><h1>{esc(page.title)}</h1>{body}</main></body></html>\n"
    )


def _table(rows: list[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    return f"<table>{cells}</table>"


def _rows_text(rows: list[tuple[str, str]]) -> str:
    width = max((len(k) for k, _ in rows), default=0) + 1
    return "\n".join(f"{(k + ':').ljust(width)} {v}" for k, v in rows)


def _form(action: str, label: str, fields: str = "") -> str:
    return (
        f'<form method="post" action="{esc(action)}">{fields}<button>{esc(label)}</button></form>'
    )


# --- the app --------------------------------------------------------------------------------


class DemoApp:
    """Answers requests for one container of one pod."""

    def __init__(self, pod_dir: PodDir, container_name: str, port: int, state: StateStore):
        self.pod_dir = pod_dir
        self.pod = pod_dir.pod
        self.container_name = container_name
        self.container = pod_container(pod_dir.pod, container_name)
        self.port = port
        self.state = state
        self._files: tuple[dict[str, bytes], set[str]] | None = None
        self.routes: dict[str, Callable[[Request], Page | Response]] = {
            "/": self.overview,
            "/env": self.env,
            "/dns": self.dns,
            "/memory": self.memory,
            "/memory/alloc": self.memory_alloc,
            "/memory/free": self.memory_free,
        }
        for probe in PROBES:
            self.routes[f"/{probe}"] = self._probe_handler(probe)
            self.routes[f"/{probe}/fail"] = self._flip_handler(probe, failing=True)
            self.routes[f"/{probe}/ok"] = self._flip_handler(probe, failing=False)

    def _update(self, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Change the shared state; every change also records the container's memory limit."""
        limit = self._memory_limit()

        def apply(state: dict[str, Any]) -> None:
            state["memory"]["limit_bytes"] = limit
            change(state)

        return self.state.update(apply)

    # request dispatch

    def handle(self, request: Request) -> Response:
        wants_html = prefers_html(request.header("accept"))
        handler = self.routes.get(request.path)
        if request.path == "/fs" or request.path.startswith("/fs/"):
            handler = self.fs
        if handler is None:
            page = Page(404, "Not found", f"404 page not found: {request.path}\n")
        elif request.method not in ("GET", "HEAD", "POST"):
            page = Page(405, "Method not allowed", f"{request.method} is not allowed here\n")
            page.headers.append(("Allow", "GET, HEAD, POST"))
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
            headers = [("Content-Security-Policy", _CSP), *page.headers]
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
            f"{_rows_text(rows)}\n\nRequest details\n{_rows_text(request_rows)}\n"
            f"Headers:\n{headers}\n"
        )
        header_rows = "".join(
            f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in request.headers
        )
        body = (
            f"<p>{esc(headline)}</p>{_table(rows)}<h2>Request details</h2>{_table(request_rows)}"
            f"<h3>Headers</h3><table>{header_rows}</table>"
        )
        return Page(200, "Overview", text, body)

    def _probe_handler(self, probe: str) -> Callable[[Request], Page]:
        kind, failing_status = PROBES[probe]

        def hit(state: dict[str, Any]) -> None:
            entry = state[probe]
            entry["hits"] += 1
            entry["last_hit"] = time.time()
            if entry["failing"]:
                entry["consecutive_failures"] += 1

        def handler(request: Request) -> Page:
            entry = self._update(hit)[probe]
            title = f"{kind.capitalize()} probe /{probe}"
            if entry["failing"]:
                text = f"error: {kind} forced to fail by /{probe}/fail\n"
                status, css = failing_status, "bad"
            else:
                text, status, css = "ok\n", 200, "good"
            info = (
                f'<p class="{css}">/{probe} answers {status}: {esc(text.strip())}</p>'
                f"<p>Answered {entry['hits']} time(s); "
                f"{entry['consecutive_failures']} failure(s) in a row.</p>"
                + _form(f"/{probe}/fail", f"Make /{probe} fail")
                + _form(f"/{probe}/ok", f"Make /{probe} succeed")
            )
            return Page(status, title, text, info)

        return handler

    def _flip_handler(self, probe: str, *, failing: bool) -> Callable[[Request], Page]:
        kind, failing_status = PROBES[probe]

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
                text = f"{kind} now failing: /{probe} answers {failing_status}\n"
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
            _table([("Command", command_text), ("Args", args_text)])
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
        if not dns.valid_name(name):
            return Page(400, "DNS query", f"not a valid DNS name: {printable(name)}\n", form)
        result = dns.lookup(name, self.pod_dir.namespace, self.pod_dir.services)
        output = dns.dig_output(result, self.pod_dir.namespace)
        return Page(200, "DNS query", output, f"{form}<pre>{esc(output)}</pre>")

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
            + _form(
                "/memory/alloc",
                "Allocate",
                '<input name="size" value="100Mi" size="8" aria-label="size">',
            )
            + _form("/memory/free", "Free all")
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


# --- the connection loop --------------------------------------------------------------------


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    raise IdleTimeout()


def remote_address() -> str:
    """Where the connection seems to come from: kubectl port-forward's end inside the pod's
    network namespace is loopback, from an ephemeral port that differs per connection."""
    return f"127.0.0.1:{32768 + os.getpid() % 28000}"


def access_line(remote: str, request: Request | None, response: Response) -> str:
    """kuard's request log line (``RemoteAddr Method URL``) with the status appended."""
    if request is None:
        reason = printable(response.body.decode("latin-1").strip())
        return f"{remote} bad request ({response.status}): {reason}"
    return f"{remote} {printable(request.method)} {printable(request.target)} {response.status}"


def serve_connection(app: DemoApp, rfile: ByteReader, wfile: ByteWriter, log: TextIO) -> int:
    """Answer requests until the connection ends; the exit status of ``serve``."""

    def send(response: Response, request: Request | None, close: bool) -> None:
        head = request is not None and request.method == "HEAD"
        keep_alive_10 = request is not None and request.version == "HTTP/1.0" and not close
        wfile.write(response_bytes(response, head=head, close=close, keep_alive_10=keep_alive_10))
        wfile.flush()
        print(access_line(remote, request, response), file=log, flush=True)

    remote = remote_address()
    signal.signal(signal.SIGALRM, _on_alarm)
    try:
        while True:
            signal.alarm(IDLE_SECONDS)
            try:
                request = read_request(rfile, wfile)
            except HttpError as error:
                signal.alarm(0)
                send(Response(error.status, f"{error.message}\n".encode()), None, close=True)
                return 0
            except (ValueError, UnicodeError) as error:  # a parsing case missed above
                signal.alarm(0)
                print(f"demoapp: unparsable request: {type(error).__name__}", file=log)
                send(Response(400, b"malformed request\n"), None, close=True)
                return 0
            signal.alarm(0)
            if request is None:
                return 0
            try:
                response = app.handle(request)
            except Exception as error:
                print(f"demoapp: internal error: {type(error).__name__}: {error}", file=log)
                response = Response(500, b"internal error\n", close=True)
            close = response.close or not request.keep_alive
            send(response, request, close)
            if close:
                return 0
    except IdleTimeout:
        return 0
    except (BrokenPipeError, ConnectionResetError):
        return 0
    finally:
        signal.alarm(0)


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


def serve_tls(app: DemoApp, state_dir: Path, log: TextIO) -> int:
    """kuard's HTTPS on :8443, with the certificate and key the pod mounts at /tls."""
    import ssl  # only here: most connections never need it, and it costs start-up time

    from podsim import tlspipe

    material = app.tls_material()
    assert material is not None
    try:
        context = tlspipe.server_context(*material, scratch=state_dir)
    except (ssl.SSLError, OSError) as error:
        print(f"demoapp: {TLS_DIR}/kuard.crt and kuard.key are unusable: {error}", file=log)
        return 2
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    stream = tlspipe.TlsPipe(context, stdin, stdout)
    remote = remote_address()
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(IDLE_SECONDS)
    try:
        stream.handshake()
    except tlspipe.PlainHttpOnTlsPort:
        message = b"Client sent an HTTP request to an HTTPS server.\n"
        response = Response(400, message, close=True)
        os.write(stdout, response_bytes(response, head=False, close=True, keep_alive_10=False))
        print(f"{remote} bad request (400): plain HTTP on the HTTPS port", file=log)
        return 0
    except (ssl.SSLError, EOFError, OSError, IdleTimeout) as error:
        print(f"{remote} TLS handshake error: {printable(str(error))}", file=log)
        return 0
    finally:
        signal.alarm(0)
    try:
        return serve_connection(app, io.BufferedReader(stream), stream, log)
    finally:
        stream.close()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
