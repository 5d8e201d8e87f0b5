"""In a real browser: the instructor's gradebook cell turns green by itself when a student's
exercise passes (a real learner's kubectl, a real Celery worker, the class socket)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from django.db import connections
from django.utils import timezone

from accounts.roles import Role
from classes.services import classroom_create, classroom_join
from labs.models import Trigger
from labs.services import attempt_check_request, attempt_get_or_create
from tests.fixtures.browser import screenshot
from tests.fixtures.classes import PODS_EXERCISES, person
from tests.fixtures.grading import kuard_pod
from tests.fixtures.learners import Learner
from tests.fixtures.processes import LearnerSite, WorkerProcess
from tests.sandbox.pods_live import pod_running

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.cluster,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
]


def test_the_instructors_cell_turns_green_live_when_the_student_passes(
    learner_site: Callable[..., LearnerSite],
    make_learner: Callable[..., Learner],
    celery_worker_process: WorkerProcess,
    page: Any,
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    teacher = person("teacher", role=Role.INSTRUCTOR)
    classroom = classroom_create(owner=teacher, name="Live class", labs=["pods"])
    student = make_learner()
    classroom_join(user=student.user, code=classroom.join_code)
    cell = f'[data-cell][data-student="{student.user.pk}"][data-exercise="pods/kuard-pod"]'

    site = learner_site("classes")
    site.login(page, teacher.username, "x" * 12, path=f"/classes/{classroom.pk}/")
    page.wait_for_selector('[data-classes-live][data-state="live"]', state="attached")
    assert page.get_attribute(cell, "data-status") == "not_checked"
    assert (
        page.locator(f'[data-total][data-student="{student.user.pk}"]').inner_text()
        == f"0/{PODS_EXERCISES}"
    )

    applied = student.kubectl("apply", "-f", "-", input=kuard_pod())
    assert applied.returncode == 0, applied.stderr
    pod_running(student, "kuard")

    # The student presses Check in their own lesson page. Their request is served by another
    # thread, as by another process in production: Playwright's event loop owns this one.
    def press_check() -> int:
        attempt = attempt_get_or_create(user=student.user, lab_slug="pods", exercise_id="kuard-pod")
        try:
            return attempt_check_request(attempt=attempt, trigger=Trigger.BUTTON)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        assert pool.submit(press_check).result(timeout=30) >= 1

    page.wait_for_selector(f'{cell}[data-status="passed"]', state="attached", timeout=30_000)
    assert page.get_attribute(cell, "data-completed") == "true"
    # The tooltip follows the cell, not the status it had when the page loaded.
    title = page.get_attribute(cell, "title") or ""
    assert title.startswith(f"{student.user.username} · ") and ": passed (completed 20" in title
    assert "not checked" not in title
    assert (
        page.locator(f'[data-total][data-student="{student.user.pk}"]').inner_text()
        == f"1/{PODS_EXERCISES}"
    )
    # Every Pods exercise is worth a point: 1 of them, recounted live from the cells.
    points = page.locator(f'[data-points-total][data-student="{student.user.pk}"]').inner_text()
    assert points == f"1 ({round(100 / PODS_EXERCISES)}%)"
    rate = page.locator('[data-rate][data-exercise="pods/kuard-pod"]').inner_text()
    assert rate == "100%"
    screenshot(page, "classes-gradebook-live-green")
    assert errors == []


def test_grading_the_class_in_the_page_leaves_no_cell_checking(
    learner_site: Callable[..., LearnerSite],
    make_learner: Callable[..., Learner],
    celery_worker_process: WorkerProcess,
    page: Any,
) -> None:
    """Issue 24: "Grade the class now" left cells on "checking" until a reload. The run is now
    an action in the page; at its end every cell is final, without a reload."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    teacher = person("teacher", role=Role.INSTRUCTOR)
    classroom = classroom_create(owner=teacher, name="Graded class", labs=["pods"])
    students = [make_learner(), make_learner()]
    absent = person("absent")  # no environment: skipped, and said so
    for user in [s.user for s in students] + [absent]:
        classroom_join(user=user, code=classroom.join_code)
    applied = students[0].kubectl("apply", "-f", "-", input=kuard_pod())
    assert applied.returncode == 0, applied.stderr
    pod_running(students[0], "kuard")

    site = learner_site("classes-grade")
    site.login(page, teacher.username, "x" * 12, path=f"/classes/{classroom.pk}/settings/")
    # A deadline that has passed, and an extension to tomorrow for the first student only.
    yesterday = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    tomorrow = (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    page.fill("#due-pods", yesterday)
    page.locator('[data-deadline="pods"] button').click()
    page.wait_for_selector(".messages")
    page.select_option("#extension-student", str(students[0].user.pk))
    page.select_option("#extension-lab", "pods")
    page.fill("#extension-due", tomorrow)
    page.locator("[data-extension-form] button").click()
    page.wait_for_selector(f'[data-extension="{students[0].user.username}/pods"]')
    page.goto(f"{site.url}/classes/{classroom.pk}/")
    page.wait_for_selector('[data-classes-live][data-state="live"]', state="attached")
    page.evaluate("window.__samePage = true")  # gone if the page reloads
    page.locator("[data-grade-button]").click()

    progress = page.locator("[data-classes-progress]")
    page.wait_for_selector(
        '[data-classes-progress][data-running="false"]', state="attached", timeout=90_000
    )
    assert page.evaluate("window.__samePage") is True
    graded = str(2 * PODS_EXERCISES)  # two students with environments
    assert progress.get_attribute("data-done") == progress.get_attribute("data-requested") == graded
    text = progress.inner_text()
    assert text.startswith(f"Graded {graded} exercises; finished 20"), (
        text
    )  # the server's date format
    assert "1 student without an environment was not graded." in text
    assert page.locator("[data-classes-bar]").is_hidden()
    assert page.locator("[data-grade-button]").is_enabled()
    # Every graded cell is final; the absent student's are as they were.
    for student in students:
        cells = page.locator(f'[data-cell][data-student="{student.user.pk}"]')
        statuses = [cells.nth(i).get_attribute("data-status") for i in range(cells.count())]
        assert len(statuses) == PODS_EXERCISES
        assert "checking" not in statuses and "not_checked" not in statuses, statuses
    first = f'[data-cell][data-student="{students[0].user.pk}"][data-exercise="pods/kuard-pod"]'
    assert page.get_attribute(first, "data-status") == "passed"
    assert (
        page.locator(f'[data-total][data-student="{students[0].user.pk}"]').inner_text()
        == f"1/{PODS_EXERCISES}"
    )
    # Done today, inside the first student's extension: on time, its point counted by the deadline.
    assert page.get_attribute(first, "data-late") == "false"
    points = page.locator(f'[data-points-total][data-student="{students[0].user.pk}"]')
    assert points.inner_text() == f"1 ({round(100 / PODS_EXERCISES)}%) · 1 by the deadline"
    absent_cells = page.locator(
        f'[data-cell][data-student="{absent.pk}"][data-status="not_checked"]'
    )
    assert absent_cells.count() == PODS_EXERCISES
    assert page.locator(".messages").count() == 0  # no flash saying "Grading…" after the end
    screenshot(page, "classes-gradebook-graded-in-page")

    # Why did the other student fail? Their cell opens what the grading read (issue 16).
    failed = f'[data-cell][data-student="{students[1].user.pk}"][data-exercise="pods/kuard-pod"]'
    assert page.get_attribute(failed, "data-status") == "failed"
    page.locator(f"{failed} [data-cell-open]").click()
    page.wait_for_url(f"**/students/{students[1].user.pk}/pods/kuard-pod/")
    assert "There is no Pod named kuard" in page.locator('[data-check="exists"]').inner_text()
    assert page.locator('[data-check="exists"]').get_attribute("data-status") == "fail"
    assert "an instructor graded the class" in page.locator("[data-cell-status]").inner_text()
    assert students[1].namespace in page.locator("h2").nth(1).inner_text()
    screenshot(page, "classes-cell-why-it-failed")
    assert errors == []


def test_the_gradebook_reads_the_server_on_connect_so_a_result_sent_while_loading_counts(
    learner_site: Callable[..., LearnerSite],
    make_learner: Callable[..., Learner],
    page: Any,
) -> None:
    """A result recorded after the page was rendered and before its socket joined the class's
    group (its event reached nobody) shows anyway: the page re-reads the grid on connect."""
    from django.utils import timezone

    from labs.models import Attempt

    teacher = person("teacher", role=Role.INSTRUCTOR)
    classroom = classroom_create(owner=teacher, name="Resync class", labs=["pods"])
    student = make_learner()
    classroom_join(user=student.user, code=classroom.join_code)
    attempt = attempt_get_or_create(user=student.user, lab_slug="pods", exercise_id="kuard-pod")
    site = learner_site("classes-resync")
    site.login(page, teacher.username, "x" * 12, path="/classes/")

    def socket_opens(ws: Any) -> None:
        # Between the page's render and its socket reaching the server: the moment a result's
        # event is sent to nobody.
        Attempt.objects.filter(pk=attempt.pk).update(completed_at=timezone.now(), status="passed")
        ws.connect_to_server()

    page.route_web_socket("**/ws/classes/**", socket_opens)
    page.goto(f"{site.url}/classes/{classroom.pk}/")
    cell = f'[data-cell][data-student="{student.user.pk}"][data-exercise="pods/kuard-pod"]'
    page.wait_for_selector(f'{cell}[data-status="passed"]', state="attached", timeout=20_000)
    assert (
        page.locator(f'[data-total][data-student="{student.user.pk}"]').inner_text()
        == f"1/{PODS_EXERCISES}"
    )
