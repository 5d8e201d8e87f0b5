"""Refusals spotted in a shell's output (pure): kubectl prints the API server's raw message
("pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 100"); the page
shows what it means beside the terminal.

The output path is hot (every keystroke's echo passes here), so a chunk is only searched for
kubectl's two error openings, and only a line that has one is kept until its end (at most
``MAX_LINE`` bytes). The learner can print such a line themselves; it explains only to them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

MAX_LINE = 4096
# kubectl's openings for a refusal by the API server, and for `kubectl create <kind>`'s own.
_OPENING = re.compile(rb"Error from server|error: failed to create")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]")
MIN_INTERVAL_SECONDS = 1.0

Explainer = Callable[[str], dict[str, str]]


class RefusalSpotter:
    def __init__(
        self,
        explain: Explainer,
        *,
        min_interval: float = MIN_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._explain = explain
        self._min_interval = min_interval
        self._clock = clock
        self._line: bytearray | None = None  # a refusal line whose end has not come yet
        self._carry = b""  # the chunk's last bytes, in case an opening is split between reads
        self._last_at = -1e9
        self._last_text = ""

    def feed(self, data: bytes) -> list[dict[str, str]]:
        """Explanations ({language: sentence}) of the refusals this chunk completes."""
        found: list[dict[str, str]] = []
        if self._line is not None:
            end = data.find(b"\n")
            if end < 0:
                self._line += data[: MAX_LINE - len(self._line)]
                return found
            self._line += data[: min(end, MAX_LINE - len(self._line))]
            self._finish(found)
            data = data[end + 1 :]
        searched = self._carry + data
        start = 0
        while match := _OPENING.search(searched, start):
            end = searched.find(b"\n", match.start())
            if end < 0:
                self._line = bytearray(searched[match.start() : match.start() + MAX_LINE])
                self._carry = b""
                return found
            self._line = bytearray(searched[match.start() : min(end, match.start() + MAX_LINE)])
            self._finish(found)
            start = end + 1
        # Only bytes past the last finished line can hold the start of a new opening.
        self._carry = searched[max(start, len(searched) - 24) :]
        return found

    def _finish(self, found: list[dict[str, str]]) -> None:
        line = bytes(self._line or b"")
        self._line = None
        self._carry = b""
        text = _ANSI.sub("", line.decode("utf-8", "replace")).strip()
        now = self._clock()
        # One notice a second at most, and the same one not again within ten (a loop that
        # prints refusals must not flood the page).
        if now - self._last_at < self._min_interval:
            return
        if text == self._last_text and now - self._last_at < 10 * self._min_interval:
            return
        explained = self._explain(text)
        if explained:
            self._last_at, self._last_text = now, text
            found.append(explained)
