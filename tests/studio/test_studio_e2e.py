"""In Debian's chromium: an instructor writes a lab in the studio from a starter, types a mistake
and sees it marked on its line, fixes it, previews both languages, tests it on the cluster until
the bar is full and green, publishes version 1 and gives it to a class; a student of the class
finds it in the chapter, solves it in the terminal and sees it turn green; version 2 is published
and the class moved to it, and the student's earlier result still says it was version 1."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from accounts.roles import Role
from classes.services import classroom_create, classroom_join
from labs.models import AuthoredLab, GradingRun
from tests.e2e.test_terminal_e2e import wait_screen
from tests.fixtures.browser import screenshot, wait_js
from tests.fixtures.classes import person
from tests.fixtures.grading import Process
from tests.fixtures.learners import Learner
from tests.fixtures.processes import LearnerSite, WorkerProcess

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.cluster,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
]

POD_JSON = (
    '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},"spec":{"containers":[{"name":'
    '"web","image":"gcr.io/kuar-demo/kuard-amd64:blue","ports":[{"containerPort":8080,'
    '"name":"http"}]}]}}'
)


def editor_replace(page: Any, text: str) -> None:
    """Everything in the code editor replaced, as a paste (no auto-indent on the way)."""
    page.locator(".studio-code .cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(text)


def test_an_instructor_writes_tests_publishes_and_a_student_is_graded_on_it(
    learner_site: Callable[..., LearnerSite],
    make_learner: Callable[..., Learner],
    celery_worker_process: WorkerProcess,
    labs_watcher: Process,
    cluster: Any,
    browser: Any,
    page: Any,
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    teacher = person("teacher", role=Role.INSTRUCTOR)
    classroom = classroom_create(owner=teacher, name="Studio class", labs=["pods"])
    student = make_learner()
    classroom_join(user=student.user, code=classroom.join_code)
    # Terminals take the learner's kubeconfig from the sandbox app, as in production (an earlier
    # test's stand-in provider must not leak into this server).
    site = learner_site(
        "studio",
        KUBELAB_KUBECONFIG=str(cluster.kubeconfig),
        KUBELAB_TERMINAL_KUBECONFIG_PROVIDER=None,
    )

    # From a starter.
    site.login(page, teacher.username, "x" * 12, path="/labs/studio/")
    page.fill("#new-slug", "web-practice")
    page.select_option("#new-source", "starter:pod")
    page.click("[data-new-lab] button[type=submit]")
    page.wait_for_url("**/labs/studio/web-practice/")
    status = page.locator("[data-studio-status]")
    wait_js(page, "document.querySelector('[data-studio-status]').dataset.state === 'valid'")
    spec = AuthoredLab.objects.get(slug="web-practice").draft_spec

    # A mistake, marked on its line with the sentence `labs validate` prints.
    broken = spec.replace("type: ready", "type: redy")
    editor_replace(page, broken)
    wait_js(page, "document.querySelector('[data-studio-status]').dataset.state === 'problems'")
    problem = page.locator("[data-studio-problems] .studio-problem").first
    sentence = problem.inner_text()
    assert "unknown check type 'redy'" in sentence and "did you mean 'ready'" in sentence
    wrong_line = broken.splitlines().index(
        next(line for line in broken.splitlines() if "type: redy" in line)
    )
    marked = page.locator(".studio-code .cm-line:has(.cm-lintRange-error)")
    assert "type: redy" in marked.first.inner_text()
    assert sentence.startswith(f"lab.yaml:{wrong_line + 1} exercises[0].checks[3].type ")
    screenshot(page, "studio-mistake-marked")

    # Fixed: no problems, and the preview in both languages.
    editor_replace(page, spec)
    wait_js(page, "document.querySelector('[data-studio-status]').dataset.state === 'valid'")
    preview = page.locator("[data-studio-preview]")
    assert "Run a Pod named web" in preview.inner_text()
    page.click('[data-studio-preview-lang="zh-hant"]')
    assert "執行名為 web 的 Pod" in preview.inner_text()
    screenshot(page, "studio-preview-zh")
    page.click('[data-studio-preview-lang="en"]')

    # Test this lab: the bar fills and turns green.
    page.click("[data-studio-test]")
    wait_js(
        page,
        "document.querySelector('[data-studio-test-status]').dataset.state === 'passed'",
        timeout=240_000,
    )
    progress = page.locator("[data-studio-progress]")
    assert progress.get_attribute("value") == progress.get_attribute("max") == "2"
    assert page.locator(".studio-report__entry[data-ok=true]").count() == 2
    screenshot(page, "studio-test-green")

    # Publish version 1 and give it to the class.
    page.click("[data-studio-publish]")
    page.wait_for_url("**/labs/studio/web-practice/")
    assert "Version 1, published" in page.locator("[data-studio-versions]").inner_text()
    page.select_option("#use-class", str(classroom.pk))
    page.select_option("#use-version", "1")
    page.click("[data-studio-use] button[type=submit]")
    page.wait_for_url("**/labs/studio/web-practice/")
    assert "now uses version 1" in page.content()

    # The student finds it in the Pods chapter and solves it in the terminal.
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    learner_page = context.new_page()
    learner_page.set_default_timeout(15_000)
    site.login(learner_page, student.user.username, "x" * 12, path="/learn/pods/")
    panel = learner_page.locator('[data-labs-panel][data-lab="web-practice"]')
    assert "version 1" in panel.inner_text()
    wait_js(
        learner_page,
        "document.querySelector('[data-terminal-status]').dataset.state === 'ready'",
        timeout=60_000,
    )
    wait_screen(learner_page, "learner@kubelab:~$")
    learner_page.locator(".terminal-panel .xterm").click()
    learner_page.keyboard.type(f"echo '{POD_JSON}' | kubectl apply -f -\n")
    wait_screen(learner_page, "pod/web created")
    exercise = panel.locator('[data-labs-exercise="web-practice/web-pod"]')
    exercise.locator("summary").click()
    # The watcher grades the change by itself (the lab is open on the page); Check too.
    exercise.locator("[data-labs-check]").click()
    learner_page.wait_for_selector(
        '[data-labs-exercise="web-practice/web-pod"][data-completed="true"]',
        state="attached",
        timeout=60_000,
    )
    screenshot(learner_page, "studio-student-green")
    run = GradingRun.objects.filter(attempt__lab="web-practice", status="passed").first()
    assert run is not None and run.lab_version == 1

    # Version 2: a new title, tested and published, and the class moved to it.
    editor_replace(page, spec.replace('en: "My Pod lab"', 'en: "My Pod lab, second edition"'))
    wait_js(page, "document.querySelector('[data-studio-status]').dataset.state === 'valid'")
    # The green test of version 1 is of other content now: it no longer opens publishing.
    wait_js(page, "document.querySelector('[data-studio-test-status]').dataset.state === 'stale'")
    assert page.locator("[data-studio-publish]").is_disabled()
    page.click("[data-studio-test]")
    wait_js(
        page,
        "document.querySelector('[data-studio-test-status]').dataset.state === 'passed'",
        timeout=240_000,
    )
    page.click("[data-studio-publish]")
    page.wait_for_url("**/labs/studio/web-practice/")
    assert "Version 2, published" in page.locator("[data-studio-versions]").inner_text()
    page.select_option("#use-class", str(classroom.pk))
    page.select_option("#use-version", "2")
    page.click("[data-studio-use] button[type=submit]")
    page.wait_for_url("**/labs/studio/web-practice/")

    learner_page.reload()
    panel = learner_page.locator('[data-labs-panel][data-lab="web-practice"]')
    assert "version 2" in panel.inner_text()
    exercise = panel.locator('[data-labs-exercise="web-practice/web-pod"]')
    assert exercise.get_attribute("data-completed") == "true"
    assert "graded on version 1" in exercise.inner_text()
    screenshot(learner_page, "studio-student-after-version-2")
    run.refresh_from_db()
    assert run.lab_version == 1 and run.status == "passed"
    context.close()
    assert errors == []
    assert status.get_attribute("data-state") == "valid"
