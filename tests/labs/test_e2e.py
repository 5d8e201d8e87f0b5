"""In a real browser: the learner types kubectl in the lesson's terminal and the checklist beside
it reacts by itself: a wrong manifest shows the failing check, the right one turns green."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.fixtures.browser import screenshot, wait_js
from tests.fixtures.classes import PODS_EXERCISES
from tests.fixtures.grading import Process, kuard_pod
from tests.fixtures.learners import Learner
from tests.fixtures.processes import LearnerSite, WorkerProcess

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.cluster,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
]

KUARD = '[data-labs-exercise="pods/kuard-pod"]'


def type_in_terminal(page: Any, text: str) -> None:
    page.evaluate("text => window.kubelabTerminal.type(text)", text)


def test_kuard_turns_green_in_the_browser_without_a_click(
    learner_site: Callable[..., LearnerSite],
    make_learner: Callable[..., Learner],
    celery_worker_process: WorkerProcess,
    labs_watcher: Process,
    page: Any,
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    learner = make_learner()

    # Terminals take the learner's kubeconfig from the sandbox app, as in production.
    site = learner_site("labs", KUBELAB_TERMINAL_KUBECONFIG_PROVIDER=None)
    site.login(page, learner.user.username, "x" * 12)
    wait_js(
        page,
        "document.querySelector('[data-terminal-status]').dataset.state === 'ready'",
        timeout=30_000,
    )
    page.wait_for_selector('[data-labs-live][data-state="live"]', state="attached")
    # Opening the lesson graded the exercise once: nothing there yet.
    # Nine exercises graded at once on a busy 2-core CI machine: give the first round time.
    page.wait_for_selector(f'{KUARD}[data-status="failed"]', state="attached", timeout=60_000)
    page.click(f"{KUARD} summary")

    # A deliberately wrong manifest: the green image. The failing check says what is wrong.
    wrong = kuard_pod("green").replace("'", "'\\''")
    type_in_terminal(
        page, f"printf '%s' '{wrong}' > kuard-pod.yaml\nkubectl apply -f kuard-pod.yaml\n"
    )
    # Before the apply, "there is no Pod kuard" is said once for all its checks, so one row
    # alone proves nothing: wait for the row that names the image.
    wait_js(
        page,  # the Pod exists now: only the image check is still failing
        "sel => { const rows = document.querySelectorAll(sel);"
        " return rows.length === 1 && rows[0].innerText.includes('must run the image'); }",
        arg=f"{KUARD} .labs-check",
        timeout=20_000,
    )
    message = page.locator(f"{KUARD} .labs-check").inner_text()
    assert "must run the image gcr.io/kuar-demo/kuard-amd64:blue" in message
    assert page.get_attribute(KUARD, "data-completed") == "false"
    screenshot(page, "labs-wrong-manifest")

    # Fix it in the terminal; the tick turns green with no click on Check.
    right = kuard_pod("blue").replace("'", "'\\''")
    started = time.monotonic()
    type_in_terminal(
        page,
        f"kubectl delete pod kuard\nprintf '%s' '{right}' > kuard-pod.yaml\n"
        "kubectl apply -f kuard-pod.yaml\n",
    )
    page.wait_for_selector(f'{KUARD}[data-completed="true"]', state="attached", timeout=30_000)
    elapsed = time.monotonic() - started
    # A trailing watch-driven run may briefly show "checking…" again before it settles.
    wait_js(
        page,
        "sel => document.querySelector(sel)?.innerText.trim() === 'done'",
        arg=f"{KUARD} [data-labs-status]",
        timeout=15_000,
    )
    assert page.locator(f"{KUARD} [data-labs-status]").inner_text() == "done"
    assert page.locator(f"{KUARD} .labs-check").count() == 0
    assert f"1 of {PODS_EXERCISES} done" in page.locator("[data-labs-progress]").inner_text()
    screenshot(page, "labs-green-without-a-click")
    assert elapsed < 20
    # Progress persists: a reload shows the tick from the database.
    page.reload()
    page.wait_for_selector(f'{KUARD}[data-completed="true"]', state="attached")
    assert errors == []
    assert os.environ.get("KUBELAB_LABS_QUEUE") is None  # graded by the shared worker
