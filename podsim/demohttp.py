"""HTTP/1.1 as the demo app speaks it on one connection: reading a request within strict limits
(a port-forwarded connection is learner input), framing a response, and making text from the
client safe for a log line. Stdlib only: it runs in the demo app's jail.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

MAX_LINE = 8 * 1024
MAX_HEADERS = 100
MAX_HEADER_BYTES = 32 * 1024
MAX_BODY = 64 * 1024
MAX_QUERY_FIELDS = 32

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
