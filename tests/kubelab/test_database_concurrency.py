"""Dozens of learners at once on the embedded default database (SQLite): provisioning from a
shell while the web server, a worker, beat and the watcher write too, with zero lock errors.

Runs bench/db_concurrency (every process real, the real cluster) with fewer learners than the
bench's default, and asserts what the bench only prints.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LEARNERS = int(os.environ.get("KUBELAB_DB_CONCURRENCY_LEARNERS", "24"))

pytestmark = [pytest.mark.cluster, pytest.mark.worker]


@pytest.mark.timeout(900)
def test_many_learners_on_sqlite_meet_no_lock(cluster: object, redis_available: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "KUBELAB_TEST_"))}
    env.pop("KUBELAB_DATABASE_URL", None)  # the default: a SQLite file, as `make run` uses
    env.pop("KUBELAB_RATE_LIMITS", None)
    done = subprocess.run(
        [str(ROOT / "bench" / "db_concurrency"), "--learners", str(LEARNERS), "--rounds", "3",
         "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=850,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["database"] == "sqlite"
    assert result["locked_errors"] == 0, result
    assert result["errors"] == 0, result
    assert result["ms"]["provision"]["n"] == LEARNERS
    assert result["ms"]["check"]["n"] == LEARNERS * 3
