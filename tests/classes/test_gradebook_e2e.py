"""In a real browser: the instructor's gradebook cell turns green by itself when a student's
exercise passes (a real learner's kubectl, a real Celery worker, the class socket)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connections

from accounts.roles import Role
from classes.services import classroom_create, classroom_join
from labs.models import Trigger
from labs.services import attempt_check_request, attempt_get_or_create
from tests.fixtures.browser import screenshot
from tests.fixtures.classes import person
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
    assert page.locator(f'[data-total][data-student="{student.user.pk}"]').inner_text() == "0/5"

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
    assert page.locator(f'[data-total][data-student="{student.user.pk}"]').inner_text() == "1/5"
    rate = page.locator('[data-rate][data-exercise="pods/kuard-pod"]').inner_text()
    assert rate == "100%"
    screenshot(page, "classes-gradebook-live-green")
    assert errors == []
