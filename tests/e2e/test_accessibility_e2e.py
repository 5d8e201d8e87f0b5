"""axe-core on every kind of page, on a phone (390 px) and a desktop (1400 px): no violation of
impact serious or critical (issue 24, "Accessible and on any screen")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from accounts.roles import Role
from classes.services import classroom_create, classroom_join
from studio.services import authored_lab_create
from tests.e2e.test_small_screens_e2e import NO_SIDEWAYS_SCROLL
from tests.e2e.test_terminal_e2e import wait_screen
from tests.fixtures.accessibility import Violation, axe_report, axe_run, axe_serve, blocking
from tests.fixtures.browser import screenshot, wait_js
from tests.fixtures.classes import person
from tests.fixtures.processes import LearnerSite, WebServer
from tests.fixtures.shells import ShellLearner, kubeconfig_dir, make_shell_learner  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDTHS = {390: 844, 1400: 900}  # a phone held upright, a desktop; width: height
OPEN_EXERCISES = (
    "document.querySelectorAll('.labs-exercise__details').forEach((d) => { d.open = true; })"
)


def check(page: Any, url: str, name: str, found: list[Violation]) -> None:
    """axe on `url` at every width and, on a desktop, in the dark scheme too; a lesson's
    exercises are checked opened as well, on a phone in the lesson's second tab."""
    views = [(width, height, "light") for width, height in WIDTHS.items()]
    for width, height, scheme in [*views, (1400, 900, "dark")]:
        page.emulate_media(color_scheme=scheme)
        page.set_viewport_size({"width": width, "height": height})
        page.goto(url)
        label = name if scheme == "light" else f"{name}, dark"
        found += axe_run(page, label)
        tab = page.locator("[data-lesson-tab=workbench]")
        if tab.count() and tab.is_visible():
            tab.click()
            page.wait_for_timeout(300)  # site.js re-measures what scrolls
            found += axe_run(page, f"{label} (workbench tab)")
        if page.locator(".labs-exercise__details").count():
            page.evaluate(OPEN_EXERCISES)
            page.wait_for_timeout(300)
            found += axe_run(page, f"{label}, exercises open")
    page.emulate_media(color_scheme="light")


def assert_clean(found: list[Violation]) -> None:
    failing = blocking(found)
    print("\naxe found:\n" + (axe_report(found) or "nothing"))
    assert not failing, "serious or critical accessibility violations:\n" + axe_report(failing)


def test_pages_have_no_serious_accessibility_violations(web_server: WebServer, page: Any) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    axe_serve(page)
    teacher = person("teacher", role=Role.INSTRUCTOR)
    classroom = classroom_create(owner=teacher, name="Accessible class", labs=["pods"])
    student = person("student", first_name="Ada", last_name="Lovelace")
    classroom_join(user=student, code=classroom.join_code)
    newcomer = person("newcomer")
    site = LearnerSite(web_server.url)
    url = web_server.url
    found: list[Violation] = []

    for path, name in [
        ("/", "home"),
        ("/learn/", "course overview"),
        ("/learn/pods/", "chapter, anonymous"),
        ("/accounts/login/", "login"),
        ("/accounts/signup/", "signup"),
    ]:
        check(page, url + path, name, found)

    site.login(page, newcomer.username, "x" * 12, path="/classes/")
    check(page, f"{url}/classes/", "classes index, learner", found)
    check(page, f"{url}/classes/join/", "join form", found)
    check(page, f"{url}/classes/join/{classroom.join_code}/", "join link", found)

    page.context.clear_cookies()
    site.login(page, teacher.username, "x" * 12, path="/classes/")
    check(page, f"{url}/classes/", "classes index, instructor", found)
    check(page, f"{url}/classes/{classroom.pk}/", "gradebook", found)
    for width, height in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{url}/classes/{classroom.pk}/")
        page.wait_for_selector('[data-classes-live][data-state="live"]', state="attached")
        screenshot(page, f"a11y-gradebook-{width}")
    check(page, f"{url}/classes/{classroom.pk}/settings/", "class settings", found)
    check(page, f"{url}/classes/{classroom.pk}/students/{student.pk}/pods/kuard-pod/",
          "a gradebook cell, opened", found)  # fmt: skip
    # The studio: its index, and the editor once its first check has drawn marks and preview.
    lab = authored_lab_create(owner=teacher, slug="accessible-lab", starter="labels")
    check(page, f"{url}/labs/studio/", "studio", found)
    for width, height in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{url}/labs/studio/{lab.slug}/")
        wait_js(page, "document.querySelector('[data-studio-status]').dataset.state === 'valid'")
        found += axe_run(page, f"studio editor, {width}")
        assert page.evaluate(NO_SIDEWAYS_SCROLL), f"the studio editor scrolls sideways at {width}"
        screenshot(page, f"a11y-studio-{width}")

    assert_clean(found)
    assert errors == []


@pytest.mark.cluster
def test_the_lesson_with_its_terminal_has_no_serious_accessibility_violations(
    learner_site: Callable[..., LearnerSite],
    make_shell_learner: Callable[[str], ShellLearner],  # noqa: F811
    page: Any,
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    axe_serve(page)
    learner = make_shell_learner("a11y")
    site = learner_site("a11y")
    site.login(page, learner.user.username, "pw-123456789")
    found: list[Violation] = []

    for width, height in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{site.url}/learn/pods/")
        if width < 800:
            page.locator("[data-lesson-tab=workbench]").click()
        wait_js(page, "document.querySelector('[data-terminal-status]').dataset.state === 'ready'")
        wait_screen(page, "learner@kubelab:~$")
        found += axe_run(page, "chapter with terminal")
        screenshot(page, f"a11y-chapter-terminal-{width}")
        page.evaluate(OPEN_EXERCISES)  # each exercise's Check and hint buttons
        page.wait_for_timeout(300)
        found += axe_run(page, "chapter with terminal, exercises open")
        # Screen reader mode adds xterm's accessible copy of the screen: checked as well.
        page.locator("[data-terminal-screen-reader]").check()
        found += axe_run(page, "chapter with terminal, screen reader mode")
        page.locator("[data-terminal-screen-reader]").uncheck()
        if width < 800:
            page.locator("[data-lesson-tab=lesson]").click()
            found += axe_run(page, "chapter, logged in (lesson tab)")
            screenshot(page, f"a11y-chapter-lesson-{width}")

    assert_clean(found)
    assert errors == []
