"""A bench ended by SIGTERM stops what it started (issue 24: a killed bench left its watcher
running). Benches start their processes in sessions of their own, which the signal never
reaches; benchlib.exit_on_signals turns it into SystemExit so the bench's `finally` runs."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"

# A bench in miniature: a child in its own session (as benches start workers and watchers),
# stopped in `finally`.
MINI = textwrap.dedent(
    """
    import os, signal, subprocess, sys, time
    sys.path.insert(0, {bench!r})
    from benchlib import exit_on_signals
    if sys.argv[1] == "handled":
        exit_on_signals()
    child = subprocess.Popen(["sleep", "600"], start_new_session=True)
    open(sys.argv[2], "w").write(str(child.pid))
    try:
        time.sleep(600)
    finally:
        os.killpg(child.pid, signal.SIGTERM)
        child.wait()
    """
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purpose; `sleep` reparented to init is reaped quickly.
    state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    return state != "Z"


def _run_and_terminate(tmp_path: Path, mode: str) -> tuple[int, int]:
    script = tmp_path / "mini_bench.py"
    script.write_text(MINI.format(bench=str(BENCH)))
    pid_file = tmp_path / f"{mode}.pid"
    proc = subprocess.Popen([sys.executable, str(script), mode, str(pid_file)])
    deadline = time.monotonic() + 20
    while not (pid_file.exists() and pid_file.read_text()):
        assert time.monotonic() < deadline, "the mini bench did not start its child"
        time.sleep(0.05)
    child = int(pid_file.read_text())
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=20), child


def test_sigterm_runs_the_benchs_cleanup(tmp_path: Path) -> None:
    code, child = _run_and_terminate(tmp_path, "handled")
    assert code == 128 + signal.SIGTERM
    deadline = time.monotonic() + 5
    while _alive(child):
        assert time.monotonic() < deadline, f"the bench's child {child} outlived it"
        time.sleep(0.05)


def test_without_it_the_child_is_left_running(tmp_path: Path) -> None:
    """The failure the handler prevents, shown: Python's default SIGTERM skips `finally`."""
    code, child = _run_and_terminate(tmp_path, "default")
    try:
        assert code == -signal.SIGTERM
        time.sleep(0.3)
        assert _alive(child)
    finally:
        os.killpg(child, signal.SIGKILL)


def _benches() -> list[Path]:
    return sorted(
        p
        for p in BENCH.iterdir()
        if p.is_file() and p.read_text(errors="replace").startswith("#!/usr/bin/env python3")
    )


@pytest.mark.parametrize("bench", _benches(), ids=lambda p: p.name)
def test_every_bench_ends_through_its_cleanup(bench: Path) -> None:
    text = bench.read_text()
    main = re.search(r"^def main\(\) -> \w+:\n((?:    .*\n|\n)+)", text, re.M)
    assert main, f"{bench.name} has no main()"
    body = [line.strip() for line in main.group(1).splitlines() if line.strip()]
    assert body[0] == "exit_on_signals()", f"{bench.name}: main() must start with exit_on_signals()"
