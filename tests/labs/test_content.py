"""The whole catalog against the real cluster: for every exercise the checks fail first, the
reference solution passes (and keeps passing), every near miss is rejected with the checks it
names failing, and two full runs agree (no flaky checks). This is `manage.py labs test`."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.fixtures.processes import ARTIFACTS

pytestmark = [pytest.mark.cluster, pytest.mark.django_db]


@pytest.mark.timeout(1200)
def test_every_exercise_is_proven_by_its_solution_and_its_near_misses(
    cluster: Any, settings: Any
) -> None:
    settings.KUBELAB_KUBECONFIG = str(cluster.kubeconfig)
    ARTIFACTS.mkdir(exist_ok=True)
    out = StringIO()
    try:
        call_command(
            "labs", "test", "--repeat", "2", "--json", str(ARTIFACTS / "labs-content.json"),
            stdout=out,
        )  # fmt: skip
    except CommandError:
        (ARTIFACTS / "labs-content.txt").write_text(out.getvalue())
        pytest.fail("labs test failed:\n" + "\n".join(
            line for line in out.getvalue().splitlines() if not line.startswith("ok ")
        ))  # fmt: skip
    (ARTIFACTS / "labs-content.txt").write_text(out.getvalue())
    summary = out.getvalue().strip().splitlines()[-1]
    assert "0 failed, 0 flaky" in summary, summary
