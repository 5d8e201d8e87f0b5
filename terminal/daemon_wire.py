"""How web processes talk to a terminal daemon (pure apart from the secret): one stream
connection per browser screen, newline-delimited JSON.

- web -> daemon, first line, signed: ``{"op": "attach", "user", "session", "rows", "cols",
  "language", "ts", "sig"}``, or ``{"op": "watch", "user", "watcher", ...}`` (an instructor's
  read-only screen on the learner's shell), or ``{"op": "end", "user", "reason", ...}`` (end a
  learner's shell when they log out); then one line per websocket message: ``{"t": text}`` or
  ``{"b": base64}``.
- daemon -> web: one line per frame for the screen (terminal.protocol's JSON arrays), or
  ``{"close": code}``: close the websocket with that code.

The web process has already checked who the user is (their session cookie); the daemon trusts
a hello only if it is signed with the installation's secret and fresh, so nothing else that can
reach the daemon's socket can open a shell as somebody.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

MAX_LINE = 1024 * 1024  # a websocket message is at most 128 KiB; room for base64 and framing
HELLO_MAX_AGE = 60.0


class BadHello(ValueError):
    pass


@dataclass(frozen=True)
class Address:
    """Where a daemon listens: ``unix:/path`` or ``tcp:host:port``."""

    kind: str
    path: str = ""
    host: str = ""
    port: int = 0

    @classmethod
    def parse(cls, text: str) -> Address:
        kind, _, rest = text.partition(":")
        if kind == "unix" and rest.startswith("/"):
            return cls("unix", path=rest)
        if kind == "tcp":
            host, _, port = rest.rpartition(":")
            if host and port.isdigit():
                return cls("tcp", host=host.strip("[]"), port=int(port))
        raise ValueError(f"{text!r} is not unix:/path or tcp:host:port")

    def __str__(self) -> str:
        return f"unix:{self.path}" if self.kind == "unix" else f"tcp:{self.host}:{self.port}"


def _canonical(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


def hello_encode(fields: dict[str, Any], *, secret: bytes, now: float | None = None) -> bytes:
    body = {**fields, "ts": round(now if now is not None else time.time(), 3)}
    body["sig"] = hmac.new(secret, _canonical(body), hashlib.sha256).hexdigest()
    return json.dumps(body).encode() + b"\n"


def hello_decode(line: bytes, *, secret: bytes, now: float | None = None) -> dict[str, Any]:
    try:
        body = json.loads(line)
    except ValueError:
        raise BadHello("not JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("sig"), str):
        raise BadHello("unsigned")
    signature = body.pop("sig")
    expected = hmac.new(secret, _canonical(body), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(signature, expected):
        raise BadHello("bad signature")
    age = (now if now is not None else time.time()) - float(body.get("ts", 0))
    if not -HELLO_MAX_AGE < age < HELLO_MAX_AGE:
        raise BadHello("stale")
    return {**body, "sig": signature}


class SeenHellos:
    """Signatures of hellos admitted in the last HELLO_MAX_AGE seconds: each opens one thing."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}

    def admit(self, hello: dict[str, Any], *, now: float | None = None) -> None:
        moment = now if now is not None else time.time()
        # Older hellos are refused as stale anyway; forget them (the oldest is first).
        if self._seen and next(iter(self._seen.values())) < moment - 2 * HELLO_MAX_AGE:
            horizon = moment - 2 * HELLO_MAX_AGE
            self._seen = {sig: at for sig, at in self._seen.items() if at > horizon}
        signature = str(hello.get("sig", ""))
        if signature in self._seen:
            raise BadHello("replayed")
        self._seen[signature] = moment


def client_line(text: str | None, data: bytes | None) -> bytes:
    """A websocket message, as the relay passes it on."""
    if text is not None:
        return json.dumps({"t": text}).encode() + b"\n"
    return json.dumps({"b": base64.b64encode(data or b"").decode()}).encode() + b"\n"


def client_message(line: bytes) -> tuple[str | None, bytes | None]:
    """What client_line carried (garbage becomes text the protocol will refuse)."""
    try:
        body = json.loads(line)
    except ValueError:
        return "", None
    if isinstance(body, dict) and isinstance(body.get("t"), str):
        return body["t"], None
    if isinstance(body, dict) and isinstance(body.get("b"), str):
        try:
            return None, base64.b64decode(body["b"], validate=True)
        except ValueError:
            return "", None
    return "", None


def close_line(code: int) -> bytes:
    return json.dumps({"close": int(code)}).encode() + b"\n"


def ended_line(count: int) -> bytes:
    """The daemon's answer to an "end" hello: how many shells it ended."""
    return json.dumps({"ended": int(count)}).encode() + b"\n"


def ended_count(line: bytes) -> int:
    try:
        return int(json.loads(line).get("ended", 0)) if line else 0
    except (ValueError, AttributeError, TypeError):
        return 0


def redirect_line(address: str) -> bytes:
    """The daemon's first line when another daemon holds the learner's shell."""
    return json.dumps({"redirect": address}).encode() + b"\n"


def redirect_target(line: bytes) -> str | None:
    """The daemon a redirect line names, else None."""
    if not line.startswith(b'{"redirect"'):
        return None
    try:
        target = json.loads(line).get("redirect")
    except (ValueError, AttributeError):
        return None
    return target if isinstance(target, str) else None


def daemon_line(line: bytes) -> tuple[str | None, int | None]:
    """(text for the screen, close code) of a line from the daemon."""
    text = line.decode("utf-8", "replace").rstrip("\n")
    if text.startswith("{"):
        try:
            body = json.loads(text)
        except ValueError:
            return None, 1011
        return None, int(body.get("close", 1011))
    return text, None
