"""The terminal in a real browser: log in, open a lesson, type kubectl, reload, same shell."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.fixtures.browser import screenshot, wait_js
from tests.fixtures.processes import LearnerSite
from tests.fixtures.shells import ShellLearner, kubeconfig_dir, make_shell_learner  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.cluster, pytest.mark.django_db(transaction=True)]


def screen_text(page: Any) -> str:
    return str(page.locator(".terminal-panel .xterm-rows").inner_text())


def wait_screen(page: Any, needle: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = screen_text(page)
        if needle in text.replace("\xa0", " "):
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"{needle!r} not on the terminal screen:\n{text}")
        time.sleep(0.1)


def test_terminal_in_a_lesson_survives_a_reload(
    learner_site: Callable[..., LearnerSite],
    make_shell_learner: Callable[[str], ShellLearner],  # noqa: F811
    page: Any,
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    learner = make_shell_learner("browser")

    # Started after make_shell_learner: the web server's terminals use the test kubeconfig provider
    # it set.
    learner_site("terminal").login(page, learner.user.username, "pw-123456789")

    status = page.locator("[data-terminal-status]")
    wait_js(
        page,
        "document.querySelector('[data-terminal-status]').dataset.state === 'ready'",
        timeout=30_000,
    )
    wait_screen(page, "learner@kubelab:~$")
    assert learner.namespace in page.locator("[data-terminal-namespace]").inner_text()

    page.locator(".terminal-panel .xterm").click()
    page.keyboard.type("kubectl get pods\n")
    wait_screen(page, f"No resources found in {learner.namespace} namespace.")

    # The lesson's "Run in terminal" buttons use this API.
    page.evaluate("window.kubelabTerminal.type('echo from-the-lesson-$((6*7))\\n')")
    wait_screen(page, "from-the-lesson-42")
    session_id = page.evaluate("window.kubelabTerminal.sessionId")
    assert session_id
    screenshot(page, "terminal-lesson")

    page.reload()
    wait_js(
        page,
        "document.querySelector('[data-terminal-status]').dataset.state === 'ready'",
        timeout=30_000,
    )
    text = wait_screen(page, "from-the-lesson-42")  # the scrollback came back
    assert f"No resources found in {learner.namespace} namespace." in text.replace("\xa0", " ")
    assert page.evaluate("window.kubelabTerminal.sessionId") == session_id
    page.locator(".terminal-panel .xterm").click()
    page.keyboard.type("echo same-shell-$$\n")
    wait_screen(page, "same-shell-")
    screenshot(page, "terminal-lesson-after-reload")
    assert status.get_attribute("data-state") == "ready"
    assert errors == []
