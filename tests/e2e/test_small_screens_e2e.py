"""The lesson and the gradebook on a phone (390 px) and a tablet: the lesson fills the screen, tabs
switch between it and the workbench, and no page scrolls sideways."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from accounts.roles import Role
from classes.services import classroom_create, classroom_join
from tests.e2e.test_terminal_e2e import wait_screen
from tests.fixtures.browser import screenshot, wait_js
from tests.fixtures.classes import person
from tests.fixtures.processes import LearnerSite, WebServer
from tests.fixtures.shells import ShellLearner, kubeconfig_dir, make_shell_learner  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"


def width_of(page: Any, selector: str) -> float:
    return float(
        page.evaluate(f"document.querySelector('{selector}').getBoundingClientRect().width")
    )


def selected_tab(page: Any) -> str:
    return str(page.locator("[role=tab][aria-selected=true]").get_attribute("data-lesson-tab"))


def test_the_lesson_on_a_phone_is_two_tabs_and_never_scrolls_sideways(
    web_server: WebServer, page: Any
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_viewport_size(PHONE)
    page.goto(f"{web_server.url}/learn/pods/")

    lesson, workbench = page.locator("#main"), page.locator("#workbench")
    assert page.locator("[role=tablist]").is_visible()
    assert selected_tab(page) == "lesson"
    assert lesson.is_visible() and not workbench.is_visible()
    assert width_of(page, "#main") >= 0.9 * PHONE["width"]
    assert page.locator("#lesson-panel").get_attribute("role") == "tabpanel"
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    screenshot(page, "phone-lesson-tab")

    page.locator("[data-lesson-tab=workbench]").click()
    assert selected_tab(page) == "workbench"
    assert workbench.is_visible() and not lesson.is_visible()
    assert width_of(page, "#workbench") >= 0.9 * PHONE["width"]
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    screenshot(page, "phone-workbench-tab")

    # Arrow keys move between the tabs (and show their panes); only the selected one is in the
    # Tab order.
    page.locator("[data-lesson-tab=workbench]").focus()
    page.keyboard.press("ArrowLeft")
    assert selected_tab(page) == "lesson" and lesson.is_visible()
    assert page.evaluate("document.activeElement.dataset.lessonTab") == "lesson"
    assert page.locator("[data-lesson-tab=workbench]").get_attribute("tabindex") == "-1"
    page.keyboard.press("End")
    assert selected_tab(page) == "workbench" and workbench.is_visible()

    # A link into the hidden pane shows it: the lesson's "Skip to content" from the workbench.
    page.locator(".skip-link[href='#main']").focus()
    page.keyboard.press("Enter")
    assert selected_tab(page) == "lesson" and lesson.is_visible()

    # A tablet held upright gets the tabs; lying down, the lesson and workbench side by side.
    page.set_viewport_size({"width": 768, "height": 1024})
    assert page.locator("[role=tablist]").is_visible()
    page.set_viewport_size({"width": 1024, "height": 768})
    assert not page.locator("[role=tablist]").is_visible()
    assert lesson.is_visible() and workbench.is_visible()
    assert page.locator("#lesson-panel").get_attribute("role") is None
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    assert errors == []


def test_the_gradebook_on_a_phone_scrolls_in_its_own_box(web_server: WebServer, page: Any) -> None:
    teacher = person("teacher", role=Role.INSTRUCTOR)
    classroom = classroom_create(owner=teacher, name="Phone class", labs=["pods"])
    for _ in range(3):
        classroom_join(user=person("student"), code=classroom.join_code)
    page.set_viewport_size(PHONE)
    LearnerSite(web_server.url).login(
        page, teacher.username, "x" * 12, path=f"/classes/{classroom.pk}/"
    )
    page.wait_for_selector('[data-classes-live][data-state="live"]', state="attached")

    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    box = page.locator(".gradebook-scroll")
    assert box.evaluate("(el) => el.scrollWidth > el.clientWidth")  # the table is wider
    assert width_of(page, "[data-join-url]") <= PHONE["width"]
    box.evaluate("(el) => { el.scrollLeft = el.scrollWidth; }")
    assert page.evaluate(NO_SIDEWAYS_SCROLL) and page.evaluate("window.scrollX") == 0
    for path in ("/classes/", f"/classes/{classroom.pk}/settings/"):
        page.goto(web_server.url + path)
        assert page.evaluate(NO_SIDEWAYS_SCROLL), path


@pytest.mark.cluster
def test_the_terminal_fits_its_tab_when_shown(
    learner_site: Callable[..., LearnerSite],
    make_shell_learner: Callable[[str], ShellLearner],  # noqa: F811
    page: Any,
) -> None:
    learner = make_shell_learner("phone")
    page.set_viewport_size(PHONE)
    learner_site("phone").login(page, learner.user.username, "pw-123456789")
    wait_js(page, "document.querySelector('[data-terminal-status]').dataset.state === 'ready'")
    assert not page.locator(".terminal-panel .xterm").is_visible()  # the lesson tab is first

    page.locator("[data-lesson-tab=workbench]").click()
    wait_screen(page, "learner@kubelab:~$")
    # The screen spans the tab (its columns were fitted when it appeared), within the page.
    wait_js(
        page,
        "document.querySelector('.terminal-panel .xterm-screen').getBoundingClientRect().width"
        " >= 0.8 * window.innerWidth",
    )
    assert width_of(page, ".terminal-panel .xterm-screen") <= PHONE["width"]
    page.locator(".terminal-panel .xterm").click()
    page.keyboard.type("echo size=$(stty size)\n")
    found = wait_js(
        page, "document.querySelector('.xterm-rows').innerText.match(/size=\\d+ (\\d+)/)"
    )
    cols = int(found[1])
    assert 35 <= cols <= 60, cols
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    screenshot(page, "phone-terminal-tab")
