"""What every bench shares: a wait that says what it waits for, and gives up with a sentence;
and an end by signal that still stops what the bench started."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable
from types import FrameType

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


def exit_on_signals() -> None:
    """Make SIGTERM and SIGHUP end the bench through its `finally` blocks, as Ctrl-C does.

    A bench starts workers, a watcher and servers in sessions of their own (so one killpg stops
    each with its children); those never see the signal that ends the bench, and Python's
    default for SIGTERM skips every `finally`, which left them running. A second signal while
    the bench cleans up is ignored, so the cleanup finishes."""

    def stop(signum: int, frame: FrameType | None) -> None:
        for again in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(again, signal.SIG_IGN)
        print(f"bench: {signal.Signals(signum).name}, stopping what it started", file=sys.stderr)
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop)
