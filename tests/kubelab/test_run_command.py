"""The run command for real: everything comes up, a second run starts nothing, stop stops it."""

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.fixtures.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
PID_FILE = ROOT / "var" / "run.pid"


def running_pid() -> int | None:
    try:
        pid = int(PID_FILE.read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def health(port: int) -> dict:  # type: ignore[type-arg]
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=20) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]
    except urllib.error.HTTPError as exc:  # 503 still carries the report
        return json.loads(exc.read())  # type: ignore[no-any-return]


def group_members(pgid: int) -> list[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,pgid="], capture_output=True, text=True).stdout
    return [int(p) for p, g in (line.split() for line in out.splitlines()) if int(g) == pgid]


@pytest.mark.cluster
@pytest.mark.timeout(900)
def test_run_detach_serves_then_stops(
    cluster: object, redis_available: str, tmp_path: Path
) -> None:
    if running_pid() is not None:
        pytest.skip("a kubelab started by scripts/run is already running in this checkout")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE"}}
    env.update(
        KUBELAB_PORT=str(port),
        KUBELAB_DATABASE_URL=f"sqlite:///{tmp_path / 'run.sqlite3'}",
        KUBELAB_SKIP_CLUSTER_BUILD="1",
        KUBELAB_ADMIN_PASSWORD="run-test-admin-pw",
    )
    env.pop("KUBELAB_TEST_DB_NAME", None)
    started = subprocess.run(
        ["scripts/run", "--detach"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert started.returncode == 0, started.stderr[-3000:]
    assert f"kubelab is running at http://127.0.0.1:{port}/" in started.stderr
    pid = running_pid()
    assert pid is not None
    try:
        report = health(port)
        # The worker may need a moment to answer its first ping.
        deadline = time.monotonic() + 30
        while not report["ok"] and time.monotonic() < deadline:
            time.sleep(1)
            report = health(port)
        for part in ("database", "redis", "celery", "kubernetes"):
            assert report["checks"][part]["ok"], (part, report)

        again = subprocess.run(
            ["scripts/run", "--detach"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert again.returncode == 0
        assert "already running" in again.stderr
        assert running_pid() == pid
    finally:
        stopped = subprocess.run(
            ["scripts/stop"], cwd=ROOT, env=env, capture_output=True, text=True
        )
    assert stopped.returncode == 0
    deadline = time.monotonic() + 30
    while group_members(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert group_members(pid) == []
    assert running_pid() is None
    # Redis and the cluster were running before, so the run command must leave them up.
    assert subprocess.run(["scripts/services", "status", "redis"], cwd=ROOT).returncode == 0
