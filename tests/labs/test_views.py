"""The exercise endpoints and the checklist on the lesson page (no cluster, no worker)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from labs.models import Attempt, AttemptStatus, CheckResult, GradingRun
from labs.selectors import attempt_payload
from labs.spec import catalog_load
from tests.fixtures.classes import PODS_EXERCISES

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Grading tasks queued (after commit) instead of sent to a broker."""
    calls: list[int] = []
    from labs.tasks import attempt_grade_task

    monkeypatch.setattr(
        attempt_grade_task, "apply_async", lambda args, queue=None: calls.append(args[0])
    )
    return calls


def login(name: str = "ada") -> tuple[Client, Any]:
    user = get_user_model().objects.create_user(username=name, password="x" * 12)
    client = Client()
    client.force_login(user)
    return client, user


def test_chapter_page_shows_every_exercise_of_the_lab(client: Client) -> None:
    page = client.get("/learn/pods/").content.decode()
    assert 'data-labs-panel data-lab="pods"' in page
    for exercise in ("kuard-pod", "resources-and-probes", "readiness", "volume"):
        assert f'id="exercise-pods-{exercise}"' in page
    assert "Log in</a> to have your work checked." in page
    assert "data-auto-check-url" not in page  # nothing to auto-check for anonymous visitors
    assert "js/labs.js" in page


def test_checklist_for_a_learner_reflects_progress(
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    client, user = login()
    done = Attempt.objects.create(
        user=user, lab="pods", exercise="kuard-pod", status="passed", completed_at=timezone.now()
    )
    failing = Attempt.objects.create(
        user=user, lab="pods", exercise="readiness", status="failed", hints_revealed=1
    )
    run = GradingRun.objects.create(
        attempt=failing, generation=1, trigger="button", status="failed", namespace="ns"
    )
    CheckResult.objects.create(
        run=run, check_id="readiness-path", position=0, status="fail",
        message={"en": "The readiness probe must GET `/ready`."},
    )  # fmt: skip
    CheckResult.objects.create(run=run, check_id="running", position=1, status="pass")
    failing.last_run = run
    failing.save()
    page = client.get("/learn/pods/").content.decode()
    assert 'data-auto-check-url="/labs/pods/auto-check/"' in page
    kuard = page[page.index('data-labs-exercise="pods/kuard-pod"') :][:120]
    assert 'data-status="passed" data-completed="true"' in kuard
    assert f"1 of {PODS_EXERCISES} done" in page
    assert "The readiness probe must GET <code>/ready</code>." in page
    assert "Show hint 2 of 2" in page  # one revealed, the next offered
    assert "<code>readinessProbe</code> has the same shape" in page  # the revealed hint
    assert "The solution unlocks after 3 Checks (0 so far), or once you are done." in page
    assert done.pk


def test_check_button_queues_one_grading_after_commit(
    queued: list[int], django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    client, user = login()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/labs/pods/kuard-pod/check/")
    assert response.status_code == 202
    body = response.json()
    attempt = Attempt.objects.get(user=user, lab="pods", exercise="kuard-pod")
    assert body == {"attempt": attempt.pk, "exercise": "pods/kuard-pod", "generation": 1}
    assert queued == [attempt.pk]
    assert attempt.status == AttemptStatus.CHECKING
    assert attempt.checks_requested == 1 and attempt.last_trigger == "button"
    assert attempt.auto_check_until and attempt.auto_check_until > timezone.now()


def test_solution_unlocks_after_three_checks(
    queued: list[int], django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    client, _ = login()
    url = "/labs/pods/resources-and-probes/"
    for done, expected_locked in enumerate((True, True, True, False)):
        panel = client.get(url + "panel/").content.decode()
        said = f"The solution unlocks after 3 Checks ({done} so far), or once you are done."
        assert (said in panel) is expected_locked
        assert ("kubectl apply -f kuard-pod-resources.yaml" in panel) is not expected_locked
        with django_capture_on_commit_callbacks(execute=True):
            client.post(url + "check/")


def test_a_solution_the_lesson_already_shows_is_not_locked() -> None:
    """kuard-pod's manifest and command are in the chapter: the lock would protect nothing."""
    client, _ = login()
    panel = client.get("/labs/pods/kuard-pod/panel/").content.decode()
    assert "The solution unlocks" not in panel
    assert "kubectl apply -f kuard-pod.yaml" in panel


def test_hints_are_revealed_one_at_a_time() -> None:
    client, _ = login()
    answers = [client.post("/labs/pods/kuard-pod/hint/").json() for _ in range(4)]
    assert [a["revealed"] for a in answers] == [1, 2, 3, 3]
    assert all(a["total"] == 3 for a in answers)
    assert "<code>apiVersion: v1</code>" in answers[0]["hints"][0]


def test_auto_check_opens_every_unfinished_exercise(
    queued: list[int], django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    client, user = login()
    Attempt.objects.create(
        user=user, lab="pods", exercise="kuard-pod", status="passed", completed_at=timezone.now()
    )
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post("/labs/pods/auto-check/").json()
    every = {f"pods/{e.id}" for e in catalog_load().lab("pods").exercises}
    assert set(answer["attempts"]) == every and len(every) == PODS_EXERCISES
    opened = Attempt.objects.filter(user=user, auto_check_until__gt=timezone.now())
    unfinished = {e.removeprefix("pods/") for e in every} - {"kuard-pod"}
    assert {a.exercise for a in opened} == unfinished
    assert sorted(queued) == sorted(a.pk for a in opened)


def test_attempts_are_visible_only_to_their_learner() -> None:
    alice, alice_user = login("alice")
    bob, _ = login("bob")
    attempt = Attempt.objects.create(user=alice_user, lab="pods", exercise="kuard-pod")
    mine = alice.get(f"/labs/attempts/{attempt.pk}/")
    assert mine.status_code == 200
    assert mine.json() == json.loads(json.dumps(attempt_payload(attempt=attempt, run=None)))
    assert bob.get(f"/labs/attempts/{attempt.pk}/").status_code == 403
    assert bob.get("/labs/attempts/999999/").status_code == 404
    assert Client().get(f"/labs/attempts/{attempt.pk}/").status_code == 302  # to the login page


def test_unknown_exercises_and_anonymous_posts() -> None:
    client, _ = login()
    assert client.post("/labs/pods/nope/check/").status_code == 404
    assert client.post("/labs/nope/auto-check/").status_code == 404
    assert client.get("/labs/pods/nope/").status_code == 404
    assert Client().post("/labs/pods/kuard-pod/check/").status_code == 302
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(get_user_model().objects.get(username="ada"))
    assert strict.post("/labs/pods/kuard-pod/check/").status_code == 403


def test_exercise_links_land_on_the_chapter() -> None:
    response = Client().get("/labs/jobs/parallel-keygen/")
    assert response.status_code == 302
    assert response["Location"] == "/learn/jobs/#exercise-jobs-parallel-keygen"
