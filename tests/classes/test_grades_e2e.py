"""In a real browser, the instructor's whole grading day (issue 16): a lab whose checks carry
points, a deadline and one student's extension set in the page, the class graded by a real
Celery worker, a failed cell's evidence and sentence read, the CSV downloaded with its points;
then the spec's mistake fixed and the class regraded from the kept evidence, after the student
has deleted the Pod the first grading saw."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from accounts.roles import Role
from classes.services import classroom_create, classroom_join
from tests.classes.test_kept_grades import _check, _points, one_lab_catalog
from tests.fixtures.browser import screenshot
from tests.fixtures.classes import PODS_EXERCISES, person
from tests.fixtures.grading import grading_worker_start, kuard_pod
from tests.fixtures.learners import Learner
from tests.fixtures.processes import LearnerSite, WorkerProcess, stop_process
from tests.sandbox.pods_live import pod_running

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.cluster,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
]

KUARD = "pods/kuard-pod"


def _points_with_a_wrong_image(exercise: dict[str, Any]) -> None:
    _points(exercise)  # exists 1, image 2, port 0, running 2: worth 5
    _check(exercise, "image")["equals"] = "gcr.io/kuar-demo/kuard-amd64:purple"


def _wait_until_graded(page: Any) -> Any:
    page.wait_for_selector('[data-classes-live][data-state="live"]', state="attached")
    page.wait_for_selector(
        '[data-classes-progress][data-running="false"]', state="attached", timeout=90_000
    )
    return page.locator("[data-classes-progress]")


def test_points_deadline_extension_evidence_csv_and_a_regrade_in_the_browser(
    learner_site: Callable[..., LearnerSite],
    make_learner: Callable[..., Learner],
    grading_queue: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    page: Any,
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    broken = one_lab_catalog(tmp_path, "broken", _points_with_a_wrong_image)
    fixed = one_lab_catalog(tmp_path, "fixed", _points)
    monkeypatch.setenv("KUBELAB_LABS_CATALOG", fixed)  # what the web pages read
    workers: list[WorkerProcess] = [
        grading_worker_start("grades-broken", grading_queue, KUBELAB_LABS_CATALOG=broken)
    ]
    try:
        _the_grading_day(learner_site, make_learner, grading_queue, fixed, workers, page)
    finally:
        for worker in workers:
            stop_process(worker.proc)
    assert errors == []


def _the_grading_day(
    learner_site: Callable[..., LearnerSite],
    make_learner: Callable[..., Learner],
    grading_queue: str,
    fixed: str,
    workers: list[WorkerProcess],
    page: Any,
) -> None:
    teacher = person("teacher", role=Role.INSTRUCTOR)
    classroom = classroom_create(owner=teacher, name="Grading day", labs=["pods"])
    solved, empty = make_learner(), make_learner()
    for learner in (solved, empty):
        classroom_join(user=learner.user, code=classroom.join_code)
    assert solved.kubectl("apply", "-f", "-", input=kuard_pod()).returncode == 0
    pod_running(solved, "kuard")

    site = learner_site("grades-day")
    site.login(page, teacher.username, "x" * 12, path=f"/classes/{classroom.pk}/settings/")
    yesterday = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    tomorrow = (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    page.fill("#due-pods", yesterday)
    page.locator('[data-deadline="pods"] button').click()
    page.wait_for_selector(".messages")
    page.select_option("#extension-student", str(solved.user.pk))
    page.select_option("#extension-lab", "pods")
    page.fill("#extension-due", tomorrow)
    page.locator("[data-extension-form] button").click()
    page.wait_for_selector(f'[data-extension="{solved.user.username}/pods"]')

    page.goto(f"{site.url}/classes/{classroom.pk}/")
    page.wait_for_selector('[data-classes-live][data-state="live"]', state="attached")
    page.locator("[data-grade-button]").click()
    progress = _wait_until_graded(page)
    graded = str(2 * PODS_EXERCISES)  # two students with environments, every Pods exercise
    assert progress.get_attribute("data-done") == graded, progress.inner_text()

    # The spec wants a purple image: the solved student fails it, yet keeps the points of the
    # checks that passed (exists 1 + running 2 of 5), shown in the cell and in the totals.
    cell = f'[data-cell][data-student="{solved.user.pk}"][data-exercise="{KUARD}"]'
    assert page.get_attribute(cell, "data-status") == "failed"
    assert page.locator(f"{cell} [data-cell-partial]").inner_text() == "3/5"
    total = page.locator(f'[data-points-total][data-student="{solved.user.pk}"]')
    # Possible: kuard-pod's 5 and the lab's other exercises at 1 each. The extension runs to
    # tomorrow, so all of it counts as by the deadline; the other student's deadline has passed.
    possible = 5 + PODS_EXERCISES - 1
    assert total.inner_text() == f"3 ({round(300 / possible)}%) · 3 by the deadline"
    other = page.locator(f'[data-points-total][data-student="{empty.user.pk}"]')
    assert other.inner_text() == "0 (0%) · 0 by the deadline"
    screenshot(page, "classes-grades-partial-credit")

    # Why did it fail: the failing check's sentence, and the Pod as the grading read it.
    page.locator(f"{cell} [data-cell-open]").click()
    page.wait_for_url(f"**/students/{solved.user.pk}/pods/kuard-pod/")
    assert page.locator('[data-check="image"]').get_attribute("data-status") == "fail"
    assert "purple" in page.locator('[data-check="image"]').inner_text()
    assert page.locator('[data-check="exists"]').get_attribute("data-status") == "pass"
    pod = page.locator('[data-object="Pod/kuard"]')
    pod.locator("summary").click()
    assert "image: gcr.io/kuar-demo/kuard-amd64:blue" in pod.locator("pre").inner_text()
    screenshot(page, "classes-grades-evidence")

    # The CSV the page offers carries the points, partial credit included.
    page.goto(f"{site.url}/classes/{classroom.pk}/")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    rows = {row["username"]: row for row in csv.DictReader(io.StringIO(text))}
    mine = rows[solved.user.username]
    assert mine[KUARD] == "failed"
    of = f"(of {possible})"
    assert mine[f"pods points {of}"] == mine[f"points {of}"] == "3"
    assert mine["percent"] == f"{300 / possible:.1f}" and mine["points by the deadline"] == "3"
    assert rows[empty.user.username][f"points {of}"] == "0"

    # The instructor fixes the spec (the workers load it anew) and regrades from the kept
    # evidence. The student has deleted the Pod since: only the first grading's evidence has it.
    stop_process(workers[0].proc)
    workers.append(grading_worker_start("grades-fixed", grading_queue, KUBELAB_LABS_CATALOG=fixed))
    assert solved.kubectl("delete", "pod", "kuard", "--wait=true").returncode == 0
    page.goto(f"{site.url}/classes/{classroom.pk}/settings/#regrade")
    page.select_option("#regrade-lab", "pods")
    page.locator("[data-regrade-form] button").click()
    page.wait_for_url(f"**/classes/{classroom.pk}/")
    regrading = f"Regrading {graded} exercises from kept evidence"
    assert regrading in page.locator(".messages").inner_text()
    progress = _wait_until_graded(page)
    assert progress.get_attribute("data-done") == graded, progress.inner_text()
    page.wait_for_selector(f'{cell}[data-status="passed"]', state="attached", timeout=30_000)
    assert page.locator(f"{cell} [data-cell-partial]").inner_text() == ""
    assert total.inner_text() == f"5 ({round(500 / possible)}%) · 5 by the deadline"
    assert page.get_attribute(cell, "data-late") == "false"  # inside the extension
    empty_cell = f'[data-cell][data-student="{empty.user.pk}"][data-exercise="{KUARD}"]'
    assert page.get_attribute(empty_cell, "data-status") == "failed"
    screenshot(page, "classes-grades-regraded")

    page.locator(f"{cell} [data-cell-open]").click()
    page.wait_for_url(f"**/students/{solved.user.pk}/pods/kuard-pod/")
    status = page.locator("[data-cell-status]").inner_text()
    assert "an instructor regraded from the kept evidence" in status, status
    assert page.locator('[data-check="image"]').get_attribute("data-status") == "pass"
    assert page.locator('[data-object="Pod/kuard"]').count() == 1  # as first seen, not as now
