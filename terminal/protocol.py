"""The terminal wire protocol: small JSON arrays, parsed defensively and clamped (pure)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import Any

# A frame larger than this is refused before it is parsed; pastes bigger than this are split by
# the browser (terminal.js sends at most 32 KiB of text per frame).
MAX_FRAME_BYTES = 64 * 1024
MIN_ROWS, MAX_ROWS = 2, 500
MIN_COLS, MAX_COLS = 10, 1000
MAX_ACK = 1_000_000
# Below this many characters a frame cannot exceed MAX_FRAME_BYTES in UTF-8 (4 bytes at most per
# character), so typing skips the byte count.
_SURELY_SMALL = MAX_FRAME_BYTES // 4
# Built once: json.dumps with options builds a new encoder on every call, and stdout frames are
# most of what the server sends.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class Stdin:
    data: str


@dataclass(frozen=True)
class Resize:
    rows: int
    cols: int


@dataclass(frozen=True)
class Ack:
    """The browser has written `count` more stdout frames to the screen (flow control)."""

    count: int


@dataclass(frozen=True)
class Ping:
    pass


@dataclass(frozen=True)
class Invalid:
    """A frame that was ignored; `reason` is for logs and the status line, never echoed raw."""

    reason: str


ClientMessage = Stdin | Resize | Ack | Ping | Invalid


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def _int(value: Any) -> int | None:
    # bool is an int in Python; a resize of [true, false] is garbage, not 1x0.
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(max(-1e12, min(1e12, value)))
    return None


def parse_client_frame(text: str | None, data: bytes | None = None) -> ClientMessage:
    """Turn one websocket frame from the browser into a message; never raises."""
    if data is not None:
        return Invalid("binary frames are not accepted")
    if text is None:
        return Invalid("empty frame")
    if len(text) > _SURELY_SMALL and (
        len(text) > MAX_FRAME_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_FRAME_BYTES
    ):
        return Invalid(f"frame larger than {MAX_FRAME_BYTES // 1024} KiB")
    try:
        decoded = json.loads(text)
    except (ValueError, RecursionError):
        return Invalid("not JSON")
    if not isinstance(decoded, list) or not decoded or not isinstance(decoded[0], str):
        return Invalid("not a [kind, ...] array")
    kind, args = decoded[0], decoded[1:]
    if kind == "stdin":
        if len(args) != 1 or not isinstance(args[0], str):
            return Invalid("stdin needs one string")
        typed: str = args[0]
        if not typed.isascii():
            # Lone surrogates cannot be encoded for the pty; replace rather than fail.
            typed = typed.encode("utf-8", "replace").decode("utf-8")
        return Stdin(typed)
    if kind in ("resize", "set_size"):
        if len(args) < 2:
            return Invalid("resize needs rows and cols")
        rows, cols = _int(args[0]), _int(args[1])
        if rows is None or cols is None:
            return Invalid("resize needs whole numbers")
        return Resize(_clamp(rows, MIN_ROWS, MAX_ROWS), _clamp(cols, MIN_COLS, MAX_COLS))
    if kind == "ack":
        count = _int(args[0]) if len(args) == 1 else None
        if count is None or count < 0:
            return Invalid("ack needs a count")
        return Ack(min(count, MAX_ACK))
    if kind == "ping":
        return Ping()
    return Invalid("unknown kind")


def encode(kind: str, *args: Any) -> str:
    """A server message: ["stdout", text], ["exit", code], ["status", state, detail], ["pong"]."""
    return _ENCODER.encode([kind, *args])


def encode_stdout(text: str) -> str:
    """["stdout", text], the same string encode() makes, without building a list per frame."""
    return '["stdout",' + encode_basestring(text) + "]"
