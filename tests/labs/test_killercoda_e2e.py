"""In Debian's chromium: an instructor uploads a Killercoda scenario's folder (the team's) in
the studio, reads what became of each step, and tries it as a learner: the intro and the step
kubelab cannot check are there to read with the reason; "Set up this step" makes the scenario's
starting state in their namespace; the step's "Run in terminal" button types the scenario's own
command into the terminal, and the exercise turns green."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from accounts.roles import Role, role_grant
from tests.e2e.test_terminal_e2e import wait_screen
from tests.fixtures.browser import screenshot, wait_js
from tests.fixtures.grading import Process
from tests.fixtures.learners import Learner
from tests.fixtures.processes import LearnerSite, WorkerProcess

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.cluster,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
]

SHOP = Path(__file__).parent / "killercoda" / "scenarios" / "shop-basics"
EXERCISE = "shop-e2e/step-1-scale-the-web-deployment"


def test_an_imported_scenario_is_set_up_worked_and_turns_green(
    learner_site: Callable[..., LearnerSite],
    make_learner: Callable[..., Learner],
    celery_worker_process: WorkerProcess,
    labs_watcher: Process,
    cluster: Any,
    page: Any,
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    author = make_learner()
    role_grant(user=author.user, role=Role.INSTRUCTOR)
    site = learner_site(
        "killercoda",
        KUBELAB_KUBECONFIG=str(cluster.kubeconfig),
        KUBELAB_TERMINAL_KUBECONFIG_PROVIDER=None,
    )
    page.set_default_timeout(15_000)
    site.login(page, author.user.username, "x" * 12, path="/labs/studio/")

    # The studio's import takes the scenario's folder as it is (a zip works too).
    page.set_input_files("#import-folder", str(SHOP))
    page.fill("#import-folder-slug", "shop-e2e")
    page.click("[data-scenario-folder] button[type=submit]")
    page.wait_for_url("**/labs/studio/shop-e2e/")
    said = page.inner_text("body")
    assert "Imported from Killercoda" in said
    assert "step 3: to read, because it works on a clusterrole" in said
    wait_js(page, "document.querySelector('[data-studio-status]').dataset.state === 'valid'")
    screenshot(page, "killercoda-imported-in-the-studio")

    # Tried as a learner: readings, and the exercises with their buttons.
    page.goto(f"{site.url}/labs/studio/shop-e2e/try/")
    panel = page.locator('[data-labs-panel][data-lab="shop-e2e"]')
    assert "Its web front end is a Deployment named" in panel.inner_text()
    marked = panel.locator("#reading-shop-e2e-step-3")
    assert "to read: not checked here" in marked.inner_text()
    marked.locator(".labs-exercise__summary").click()
    assert "belongs to the whole cluster" in marked.inner_text()
    wait_js(
        page,
        "document.querySelector('[data-terminal-status]').dataset.state === 'ready'",
        timeout=60_000,
    )
    wait_screen(page, "learner@kubelab:~$")

    exercise = panel.locator(f'[data-labs-exercise="{EXERCISE}"]')
    exercise.locator(".labs-exercise__summary").click()
    exercise.locator("[data-labs-setup]").click()
    status = exercise.locator("[data-labs-setup-status]")
    wait_js(
        page,
        f'(document.querySelector(\'[data-labs-exercise="{EXERCISE}"] '
        "[data-labs-setup-status]').dataset.ok || '') === 'true'",
        timeout=60_000,
    )
    assert "Set up: done" in status.inner_text()
    replicas = author.kubectl("get", "deployment", "web", "-o", "jsonpath={.spec.replicas}")
    assert replicas.stdout == "1", replicas
    assert exercise.get_attribute("data-completed") == "false"
    screenshot(page, "killercoda-set-up")

    # The scenario's own command, from its {{exec}} block in its Solution section, typed by the
    # button (once the grading the setup started has come back and redrawn the exercise).
    wait_js(
        page,
        f"document.querySelector('[data-labs-exercise=\"{EXERCISE}\"]').dataset.status"
        " === 'failed'",
        timeout=60_000,
    )
    if exercise.locator(".labs-exercise__details").get_attribute("open") is None:
        exercise.locator(".labs-exercise__summary").click()
    exercise.locator(".labs-instructions summary", has_text="Solution").click()
    run = exercise.locator(
        'button[data-action="run-in-terminal"][data-command="kubectl scale deployment web '
        '--replicas=3"]'
    )
    run.click()
    wait_screen(page, "deployment.apps/web scaled")
    exercise.locator("[data-labs-check]").click()
    page.wait_for_selector(
        f'[data-labs-exercise="{EXERCISE}"][data-completed="true"]',
        state="attached",
        timeout=60_000,
    )
    screenshot(page, "killercoda-step-green")
    assert not errors, errors
