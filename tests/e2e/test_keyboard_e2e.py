"""The lesson by keyboard alone: skip links to the exercises and the terminal, and a way out of
the terminal (Esc then Tab) that leaves Tab and Esc to the shell otherwise (WCAG 2.1.2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.test_terminal_e2e import screen_text, wait_screen
from tests.fixtures.browser import wait_js
from tests.fixtures.processes import LearnerSite
from tests.fixtures.shells import ShellLearner, kubeconfig_dir, make_shell_learner  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.cluster, pytest.mark.django_db(transaction=True)]

IN_TERMINAL = "!!document.activeElement.closest('.terminal-panel .xterm')"
FOCUSED = (
    "(() => { const el = document.activeElement;"
    " return el.id || el.getAttribute('data-terminal-screen-reader') !== null && 'screen-reader'"
    " || el.textContent.trim() || el.tagName; })()"
)


def test_esc_then_tab_leaves_the_terminal_and_tab_alone_completes(
    learner_site: Callable[..., LearnerSite],
    make_shell_learner: Callable[[str], ShellLearner],  # noqa: F811
    page: Any,
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    learner = make_shell_learner("keys")
    learner_site("keys").login(page, learner.user.username, "pw-123456789")
    wait_js(page, "document.querySelector('[data-terminal-status]').dataset.state === 'ready'")
    wait_screen(page, "learner@kubelab:~$")

    # The rule is on screen and is the terminal input's accessible description.
    described = page.evaluate(
        "document.getElementById("
        "document.querySelector('.xterm-helper-textarea').getAttribute('aria-describedby')"
        ").textContent"
    )
    assert described == "Esc then Tab leaves the terminal"
    assert page.locator("#terminal-keys").is_visible()

    # Tab alone is the shell's: completion.
    terminal = page.locator(".terminal-panel .xterm")
    terminal.click()
    page.keyboard.type("kubec")
    page.keyboard.press("Tab")
    wait_screen(page, "$ kubectl")
    assert page.evaluate(IN_TERMINAL)
    prompts = screen_text(page).count("learner@kubelab:~$")
    page.keyboard.press("Control+C")
    # This test is about Esc and Tab. Once in CI the Ctrl+C right after a completion redraw did
    # not show (see the session note); wait for the fresh prompt, and send it again if need be.
    fresh_prompt = (
        "document.querySelector('.xterm-rows').innerText"
        f".split('learner@kubelab:~$').length > {prompts + 1}"
    )
    for _ in range(2):
        try:
            wait_js(page, fresh_prompt, timeout=5_000)
            break
        except AssertionError:
            page.keyboard.press("Control+C")

    # Esc is the shell's too: readline's Esc . inserts the last argument.
    page.keyboard.type("echo esc-reached\n")
    wait_screen(page, "\nesc-reached")
    page.keyboard.type("echo ")
    page.keyboard.press("Escape")
    page.keyboard.type(".\n")
    wait_js(page, "document.querySelector('.xterm-rows').innerText.split('esc-reached').length > 4")

    # Esc then Tab leaves: forwards to what follows the terminal, backwards to what precedes it.
    # (Each Esc reached the shell; Ctrl+C drops what readline made of it.)
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    assert not page.evaluate(IN_TERMINAL)
    assert page.evaluate(FOCUSED) == "screen-reader"
    terminal.click()
    page.keyboard.press("Control+C")
    page.keyboard.press("Escape")
    page.keyboard.press("Shift+Tab")
    assert not page.evaluate(IN_TERMINAL)
    assert page.evaluate(FOCUSED) == "Reset environment"

    # Another key between Esc and Tab, or a Tab long after Esc, stays in the shell.
    terminal.click()
    page.keyboard.press("Control+C")
    page.keyboard.press("Escape")
    page.keyboard.press("x")
    page.keyboard.press("Tab")
    assert page.evaluate(IN_TERMINAL)
    page.keyboard.press("Control+C")
    page.keyboard.press("Escape")
    page.wait_for_timeout(2200)
    page.keyboard.press("Tab")
    assert page.evaluate(IN_TERMINAL)
    page.keyboard.press("Control+C")
    page.keyboard.type("echo still-$((40+2))\n")
    wait_screen(page, "\nstill-42")
    assert errors == []


def test_skip_links_reach_the_exercises_and_the_terminal(
    learner_site: Callable[..., LearnerSite],
    make_shell_learner: Callable[[str], ShellLearner],  # noqa: F811
    page: Any,
) -> None:
    learner = make_shell_learner("skips")
    site = learner_site("skips")
    site.login(page, learner.user.username, "pw-123456789")
    wait_js(page, "document.querySelector('[data-terminal-status]').dataset.state === 'ready'")

    for width in (1400, 390):
        page.set_viewport_size({"width": width, "height": 844})
        page.goto(f"{site.url}/learn/pods/")
        page.keyboard.press("Tab")
        assert page.evaluate(FOCUSED) == "Skip to content"
        page.keyboard.press("Tab")
        assert page.evaluate(FOCUSED) == "Skip to exercises"
        page.keyboard.press("Enter")
        assert page.evaluate(FOCUSED) == "exercises"
        page.keyboard.press("Tab")  # the checklist's own controls follow
        assert page.evaluate("!!document.activeElement.closest('#exercises')")

        page.goto(f"{site.url}/learn/pods/")
        for _ in range(3):
            page.keyboard.press("Tab")
        assert page.evaluate(FOCUSED) == "Skip to terminal"
        page.keyboard.press("Enter")
        assert page.evaluate(IN_TERMINAL)
        assert page.locator(".terminal-panel .xterm").is_visible()
