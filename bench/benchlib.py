"""What every bench shares: a wait that says what it waits for, and gives up with a sentence."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

SAY_EVERY = 10.0  # seconds: a bench never sits silent for longer


def waiting(
    what: str, seconds: float, check: Callable[[], bool], *, interval: float = 0.2
) -> float:
    """Poll `check` until it is true; after 10 s (and every 10 s) print what is awaited to
    stderr; SystemExit naming it after `seconds`. Returns the seconds waited."""
    started = time.monotonic()
    told = started
    while not check():
        now = time.monotonic()
        if now - started > seconds:
            raise SystemExit(f"gave up after {seconds:.0f} s waiting for {what}")
        if now - told >= SAY_EVERY:
            print(f"still waiting for {what} ({now - started:.0f} s)", file=sys.stderr, flush=True)
            told = now
        time.sleep(interval)
    return time.monotonic() - started
