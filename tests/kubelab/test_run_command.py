"""The run command for real: everything comes up, a second run starts nothing, stop stops it."""

import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

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


def health_token() -> str:
    """The token scripts/run's web server was given (var/secrets.env, generated once)."""
    for line in (ROOT / "var" / "secrets.env").read_text().splitlines():
        if line.startswith("KUBELAB_HEALTH_TOKEN="):
            return line.split("=", 1)[1]
    return os.environ.get("KUBELAB_HEALTH_TOKEN", "")


def health(port: int) -> dict[str, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/healthz", headers={"Authorization": f"Bearer {health_token()}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:  # 503 still carries the report
        return json.loads(exc.read())


def command_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "(gone)"


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
        # Shells in their own process: one more part to start, keep and stop.
        KUBELAB_TERMINAL_DAEMON=f"unix:{tmp_path / 'terminals' / 'daemon.sock'}",
    )
    env.pop("KUBELAB_TEST_DB_NAME", None)
    env.pop("KUBELAB_ADMIN_PASSWORD", None)  # a new database: the admin's password is generated
    started = subprocess.run(
        ["scripts/run", "--detach"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert started.returncode == 0, started.stderr[-3000:]
    assert f"kubelab is running at http://127.0.0.1:{port}/" in started.stderr
    pid = running_pid()
    assert pid is not None
    # The generated password is shown once, to whoever ran the command, and kept nowhere.
    shown = re.search(r"Admin account created: user 'admin', password '([^']+)'", started.stderr)
    assert shown, started.stderr[-2000:]
    logs = ROOT / "var" / "log"
    for log in logs.glob("*.log"):
        assert shown.group(1) not in log.read_text(errors="replace"), log
        assert log.stat().st_mode & 0o777 == 0o600, log
    assert logs.stat().st_mode & 0o777 == 0o700
    assert not (ROOT / "var" / "admin-password.txt").exists()
    # The database holds session keys: kubelab's alone.
    assert (tmp_path / "run.sqlite3").stat().st_mode & 0o777 == 0o600
    try:
        report = health(port)
        # The worker may need a moment to answer its first ping.
        deadline = time.monotonic() + 30
        while not report["ok"] and time.monotonic() < deadline:
            time.sleep(1)
            report = health(port)
        for part in ("database", "redis", "celery", "kubernetes"):
            assert report["checks"][part]["ok"], (part, report)

        daemons = subprocess.run(
            ["pgrep", "-f", f"terminal_daemon --listen unix:{tmp_path}"],
            capture_output=True, text=True,
        ).stdout.split()  # fmt: skip
        assert len(daemons) == 1, daemons
        assert (tmp_path / "terminals" / "daemon.sock").stat().st_mode & 0o777 == 0o600

        # A process that dies is started again by the run command, which says so.
        web = subprocess.run(
            ["pgrep", "-f", f"kubelab.serve --host 127.0.0.1 --port {port}"],
            capture_output=True, text=True,
        ).stdout.split()  # fmt: skip
        assert len(web) == 1, web
        os.kill(int(web[0]), signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if health(port)["checks"]["database"]["ok"]:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        run_log = (ROOT / "var" / "log" / "run.log").read_text()
        assert "the web process exited (status 137); starting it again" in run_log, run_log[-1500:]
        assert health(port)["checks"]["database"]["ok"]
        # The shells' process did not go with the web server.
        os.kill(int(daemons[0]), 0)

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
    left = {m: command_of(m) for m in group_members(pid)}
    assert left == {}, (left, stopped.stderr)
    assert running_pid() is None
    # Redis and the cluster were running before, so the run command must leave them up.
    assert subprocess.run(["scripts/services", "status", "redis"], cwd=ROOT).returncode == 0
