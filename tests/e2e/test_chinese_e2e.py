"""Every kind of page in zh-Hant, in a real browser: no English left in what a person reads
(text, tooltips, labels, and the sentences scripts show later), names and code aside
(issue 24, "the whole product in the learner's language")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from accounts.roles import Role
from classes.services import classroom_create, classroom_join
from studio.services import authored_lab_create
from tests.e2e.test_terminal_e2e import wait_screen
from tests.fixtures.browser import wait_js
from tests.fixtures.classes import person
from tests.fixtures.english import english_left
from tests.fixtures.processes import LearnerSite, WorkerProcess
from tests.fixtures.shells import ShellLearner, kubeconfig_dir, make_shell_learner  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.cluster, pytest.mark.django_db(transaction=True)]

OPEN_EXERCISES = (
    "document.querySelectorAll('.labs-exercise__details').forEach((d) => { d.open = true; })"
)


def in_chinese(page: Any, url: str) -> None:
    page.context.add_cookies([{"name": "django_language", "value": "zh-hant", "url": url}])


def visit(page: Any, url: str, name: str, names: list[str], left: list[str]) -> None:
    page.goto(url)
    assert page.evaluate("document.documentElement.lang") == "zh-hant", f"{name}: not in zh-Hant"
    if page.locator(".labs-exercise__details").count():
        page.evaluate(OPEN_EXERCISES)
    left += english_left(page, name, names)


def test_the_sweep_catches_a_message_left_in_english(
    learner_site: Callable[..., LearnerSite], page: Any
) -> None:
    """The same sweep, on a chapter whose server left two messages untranslated: one a link,
    one a status that labs.js shows later (a data attribute)."""
    site = learner_site("english-planted")
    in_chinese(page, site.url)
    page.goto(f"{site.url}/learn/pods/")
    assert english_left(page, "chapter") == []

    def untranslated(route: Any) -> None:
        html = route.fetch().text()
        assert "登入" in html and "尚未檢查" in html
        html = html.replace("登入", "Log in", 1).replace("尚未檢查", "not checked")
        route.fulfill(body=html, content_type="text/html; charset=utf-8")

    page.route("**/learn/pods/", untranslated)
    page.goto(f"{site.url}/learn/pods/")
    left = english_left(page, "chapter")
    assert "chapter: <a> 'Log in' (Log in)" in left, left
    # labs.js shows it only once an exercise is checked: it is read from its string holder.
    assert "chapter: <#labs-strings[data-notChecked]> 'not checked' (not checked)" in left, left
    assert len(left) == 2, left


def test_every_page_in_chinese_has_no_english_left(
    learner_site: Callable[..., LearnerSite],
    make_shell_learner: Callable[[str], ShellLearner],  # noqa: F811
    celery_worker_process: WorkerProcess,
    page: Any,
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    teacher = person("teacher", role=Role.INSTRUCTOR)
    classroom = classroom_create(owner=teacher, name="班級 A", labs=["pods"])
    learner = make_shell_learner("zh")
    classroom_join(user=learner.user, code=classroom.join_code)
    site = learner_site("chinese")
    url = site.url
    in_chinese(page, url)
    names = [teacher.username, learner.user.username, classroom.join_code]
    left: list[str] = []

    for path, name in [
        ("/", "home"),
        ("/learn/", "course overview"),
        ("/learn/pods/", "chapter, anonymous"),
        ("/learn/deployments/", "another chapter, anonymous"),
        ("/accounts/login/", "login"),
        ("/accounts/signup/", "signup"),
        ("/no-such-page/", "page not found"),
    ]:
        visit(page, url + path, name, names, left)

    site.login(page, learner.user.username, "pw-123456789")
    wait_js(page, "document.querySelector('[data-terminal-status]').dataset.state === 'ready'")
    wait_screen(page, "learner@kubelab:~$")
    page.evaluate(OPEN_EXERCISES)
    page.locator("[data-labs-exercise] [data-labs-check]").first.click()
    wait_js(
        page,
        "!/checking/.test(document.querySelector('[data-labs-exercise]').dataset.status)",
        timeout=20_000,
    )
    left += english_left(page, "chapter with terminal, after a Check", names)
    # The shell's own welcome is the page's language too (the prompt and kubectl stay English).
    assert "歡迎使用 kubelab" in page.locator(".terminal-panel .xterm-rows").inner_text()
    # The namespace picture's tab (this learner's namespace is a test's own, not an
    # environment of the sandbox app, so the picture says it has none yet: in Chinese).
    page.click("#picture-tab")
    wait_js(
        page,
        "!document.querySelector('[data-picture-notice]').hidden"
        " || document.querySelector('[data-picture]').dataset.pictureRevision !== ''",
    )
    left += english_left(page, "chapter, the namespace picture tab", names)
    visit(page, f"{url}/classes/", "classes index, learner", names, left)
    visit(page, f"{url}/classes/join/", "join form", names, left)
    visit(page, f"{url}/classes/join/{classroom.join_code}/", "join link", names, left)

    page.context.clear_cookies()
    in_chinese(page, url)
    site.login(page, teacher.username, "x" * 12, path="/classes/")
    visit(page, f"{url}/classes/", "classes index, instructor", names, left)
    visit(page, f"{url}/classes/new/", "new class", names, left)
    visit(page, f"{url}/classes/{classroom.pk}/", "gradebook", names, left)
    visit(page, f"{url}/classes/{classroom.pk}/settings/", "class settings", names, left)
    cell = f"{url}/classes/{classroom.pk}/students/{learner.user.pk}/pods/kuard-pod/"
    visit(page, cell, "a gradebook cell, opened", [*names, learner.namespace], left)
    watch = f"{url}/classes/{classroom.pk}/students/{learner.user.pk}/watch/"
    page.goto(watch)
    wait_js(
        page, "document.querySelector('[data-terminal-watch-status]').dataset.state === 'watching'"
    )
    left += english_left(page, "watching a student", [*names, learner.namespace])
    # The studio: its index, the editor after its first check (marks, preview, a test's report
    # with every step name), a mistake said in Chinese.
    lab = authored_lab_create(owner=teacher, slug="zh-lab", starter="pod")
    visit(page, f"{url}/labs/studio/", "studio", names, left)
    visit(page, f"{url}/labs/studio/{lab.slug}/", "studio editor", [*names, lab.slug], left)
    wait_js(page, "document.querySelector('[data-studio-status]').dataset.state === 'valid'")
    page.locator(".studio-code .cm-content").click()
    page.keyboard.press("Control+End")
    page.keyboard.insert_text("\nextra: field\n")
    wait_js(page, "document.querySelector('[data-studio-status]').dataset.state === 'problems'")
    problem = page.locator("[data-studio-problems] .studio-problem").first.inner_text()
    assert "不認得的欄位 extra" in problem, problem
    left += english_left(page, "studio editor, with a problem", [*names, lab.slug])

    assert not left, "English left on zh-Hant pages:\n" + "\n".join(left)
    assert errors == []
