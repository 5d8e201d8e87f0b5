"""LTI Advantage against a real platform on loopback: deep linking (the platform accepts the
signed answer and makes links with gradebook columns), scores sent after a learner passes
(idempotent, retried through a real Celery worker while the LMS is down), roster sync (NRPS,
every page), and who may press the instructor's buttons."""

from __future__ import annotations

import html
import re
import time
from datetime import datetime

import pytest
from django.core.cache import cache
from django.utils import timezone
from lti_tool.models import LtiUser

from classes.models import Enrollment
from labs.models import Attempt
from lms.models import CourseClass, Passback, PassbackState
from lms.passback import passback_send, passbacks_for_gradings
from lms.roster import roster_sync
from tests.fixtures.grading import grading_worker_start
from tests.fixtures.processes import stop_process
from tests.lms.conftest import Lms, csrf_of
from tests.lms.platform import LEARNER

TEACHING_ASSISTANT = (
    "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"
)

pytestmark = [pytest.mark.django_db(transaction=True)]


def _place(lms: Lms, *targets: str) -> list[str]:
    """The instructor's deep-linking round trip; returns the ids of the links the LMS made."""
    session, response = lms.launch("teacher-1", deep_link=True)
    assert response.status_code == 302 and response.headers["Location"] == "/lms/deep-link/"
    picker = session.get(lms.site.url + "/lms/deep-link/", timeout=30)
    assert picker.status_code == 200
    for target in targets:
        assert f'value="{target}"' in picker.text
    answer = session.post(
        lms.site.url + "/lms/deep-link/",
        data={"csrfmiddlewaretoken": csrf_of(picker.text), "target": list(targets)},
        headers={"Referer": lms.site.url + "/lms/deep-link/"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text[:500]
    before = set(lms.platform.links)
    accepted = lms.platform.submit_deep_link_form(session, answer.text)
    assert accepted.status_code == 200, accepted.text[:500]
    return [link for link in lms.platform.links if link not in before]


def test_deep_linking_places_a_chapter_a_lab_and_an_exercise(lms: Lms) -> None:
    made = _place(lms, "chapter:pods", "lab:pods", "exercise:pods/kuard-pod")
    assert len(made) == 3
    items = lms.platform.deep_link_returns[-1]
    targets = [item["custom"]["kubelab_target"] for item in items]
    assert targets == ["chapter:pods", "lab:pods", "exercise:pods/kuard-pod"]
    assert all(item["url"] == lms.site.url + "/lms/launch/" for item in items)
    columns = {li["resourceId"]: li for li in lms.platform.lineitems.values()}
    assert set(columns) == {"lab:pods", "exercise:pods/kuard-pod"}  # a chapter has no column
    from labs.library import catalog_get

    pods = catalog_get().lab("pods")
    assert columns["lab:pods"]["scoreMaximum"] == sum(e.points for e in pods.exercises)
    assert columns["exercise:pods/kuard-pod"]["scoreMaximum"] == pods.exercises[0].points
    # The class exists and has the lab before any learner comes.
    assert CourseClass.objects.get().classroom.labs == ["pods"]


def test_the_picker_enforces_csrf_in_the_frame_too(lms: Lms) -> None:
    session, _ = lms.launch("teacher-1", deep_link=True)
    forged = session.post(
        lms.site.url + "/lms/deep-link/", data={"target": ["lab:pods"]},
        headers={"Referer": lms.site.url + "/lms/deep-link/"}, timeout=30,
    )  # fmt: skip
    assert forged.status_code == 403
    assert lms.platform.deep_link_returns == []


def test_a_placement_not_in_the_catalog_is_refused(lms: Lms) -> None:
    session, _ = lms.launch("teacher-1", deep_link=True)
    picker = session.get(lms.site.url + "/lms/deep-link/", timeout=30)
    answer = session.post(
        lms.site.url + "/lms/deep-link/",
        data={"csrfmiddlewaretoken": csrf_of(picker.text), "target": ["lab:someone-elses"]},
        headers={"Referer": lms.site.url + "/lms/deep-link/"},
        timeout=30,
    )
    assert answer.status_code == 400 and "not in the catalog" in html.unescape(answer.text)
    assert lms.platform.deep_link_returns == []


def _learner_passes(lms: Lms, link: str, exercise: str = "kuard-pod") -> Attempt:
    """The learner launches the link (account made), then a grading passes the exercise: the
    row the grading pipeline writes, and the signal it sends after commit."""
    _, response = lms.launch("student-1", link)
    assert response.status_code == 302
    user = LtiUser.objects.get(sub="student-1").auth_user
    attempt, _ = Attempt.objects.update_or_create(
        user=user, lab="pods", exercise=exercise,
        defaults={"status": "passed", "requested_generation": 1, "graded_generation": 1,
                  "best_points": 1, "completed_at": timezone.now()},
    )  # fmt: skip
    passbacks_for_gradings(attempt_ids=[attempt.pk])
    return attempt


def test_a_pass_sends_one_score_to_the_lms_and_sending_again_changes_nothing(lms: Lms) -> None:
    (link,) = _place(lms, "exercise:pods/kuard-pod")
    _learner_passes(lms, link)
    row = Passback.objects.get()
    assert row.state == PassbackState.PENDING
    # A send of this version already under way elsewhere (the sweep and a retry, say): this one
    # stands back rather than post the score twice.
    claim = f"lms:sending:{row.pk}:{row.version}"
    assert cache.add(claim, 1, 60)
    assert passback_send(row.pk) == "in-flight" and lms.platform.scores == []
    cache.delete(claim)
    assert passback_send(row.pk) == "sent"
    assert passback_send(row.pk) == "up-to-date"
    assert len(lms.platform.scores) == 1
    score = lms.platform.scores[0]
    assert score["userId"] == "student-1"
    assert (score["scoreGiven"], score["scoreMaximum"]) == (1, 1)
    assert score["activityProgress"] == "Completed" and score["gradingProgress"] == "FullyGraded"
    assert score["lineitem"] == next(iter(lms.platform.lineitems.values()))["id"]
    sent_at = datetime.fromisoformat(score["timestamp"].replace("Z", "+00:00"))
    assert abs((sent_at - row.timestamp).total_seconds()) < 0.01


def test_a_token_the_lms_revoked_is_replaced_on_the_next_try(lms: Lms) -> None:
    (link,) = _place(lms, "lab:pods")
    attempt = _learner_passes(lms, link)
    row = Passback.objects.get()
    assert passback_send(row.pk) == "sent"
    tokens = lms.platform.token_requests
    lms.platform.revoke_tokens()
    # A second exercise passed: a new score, sent with the token this process holds.
    Attempt.objects.create(
        user=attempt.user, lab="pods", exercise="resources-and-probes", status="passed",
        requested_generation=1, graded_generation=1, best_points=1, completed_at=timezone.now(),
    )  # fmt: skip
    passbacks_for_gradings(attempt_ids=[attempt.pk])
    assert passback_send(row.pk) == "retrying"
    assert "401" in Passback.objects.get().last_error
    assert passback_send(row.pk) == "sent"  # with a new token
    assert lms.platform.token_requests == tokens + 1
    assert [float(s["scoreGiven"]) for s in lms.platform.scores] == [1.0, 2.0]


def test_nothing_is_sent_for_work_never_graded(lms: Lms) -> None:
    (link,) = _place(lms, "lab:pods")
    lms.launch("student-1", link)
    user = LtiUser.objects.get(sub="student-1").auth_user
    attempt = Attempt.objects.create(user=user, lab="pods", exercise="kuard-pod")
    assert passbacks_for_gradings(attempt_ids=[attempt.pk]) == 0
    assert not Passback.objects.exists()


def test_a_lab_link_sends_the_sum_of_its_exercises(lms: Lms) -> None:
    (link,) = _place(lms, "lab:pods")
    _learner_passes(lms, link)
    row = Passback.objects.get()
    assert row.score_given == 1 and row.score_maximum > 1 and not row.completed
    assert passback_send(row.pk) == "sent"
    assert lms.platform.scores[-1]["activityProgress"] == "InProgress"


@pytest.mark.worker
def test_a_score_waits_out_an_lms_outage_and_arrives_with_its_first_timestamp(
    lms: Lms, grading_queue: str
) -> None:
    (link,) = _place(lms, "exercise:pods/kuard-pod")
    worker = grading_worker_start("lms-passback", grading_queue, KUBELAB_LMS_RETRY_SECONDS="1")
    try:
        lms.platform.down = True
        _learner_passes(lms, link)
        row = _wait_row(lambda r: r.state == PassbackState.RETRYING and r.tries >= 2, 30)
        assert "503" in row.last_error
        assert lms.platform.scores == []
        first_timestamp = row.timestamp
        lms.platform.down = False
        row = _wait_row(lambda r: r.state == PassbackState.SENT, 60)
    finally:
        stop_process(worker.proc)
    assert len(lms.platform.scores) == 1
    sent = datetime.fromisoformat(lms.platform.scores[0]["timestamp"].replace("Z", "+00:00"))
    assert abs((sent - first_timestamp).total_seconds()) < 0.01
    assert row.sent_version == row.version == 1


def _wait_row(predicate: object, seconds: float) -> Passback:
    deadline = time.monotonic() + seconds
    while True:
        row = Passback.objects.get()
        if predicate(row):  # type: ignore[operator]
            return row
        if time.monotonic() > deadline:
            raise AssertionError(f"passback stuck: {row.state} {row.tries} {row.last_error}")
        time.sleep(0.2)


def test_roster_sync_reads_every_page_and_fills_the_class(lms: Lms) -> None:
    for n in range(2, 6):
        lms.platform.add_member(f"student-{n}", f"Student {n}", [LEARNER])
    lms.platform.add_member("ta-1", "Tara Assistant", [TEACHING_ASSISTANT])
    lms.platform.add_link("link-1", "kuard", custom={"kubelab_target": "exercise:pods/kuard-pod"})
    lms.launch("teacher-1", "link-1")  # makes the class
    course = CourseClass.objects.get()
    synced = roster_sync(course_id=course.pk)
    assert synced.error == "" and synced.members == 7  # 4 pages of 2
    students = set(
        Enrollment.objects.filter(classroom=course.classroom).values_list(
            "student__first_name", flat=True
        )
    )
    assert students == {"Sam Student", *(f"Student {n}" for n in range(2, 6))}
    teachers = set(course.classroom.instructors.values_list("first_name", flat=True))
    assert teachers == {"Tina Teacher", "Tara Assistant"}
    # Twice is harmless.
    assert roster_sync(course_id=course.pk).enrolled == 0


def test_roster_sync_reports_an_lms_that_is_down(lms: Lms) -> None:
    lms.platform.add_link("link-1", "kuard", custom={"kubelab_target": "exercise:pods/kuard-pod"})
    lms.launch("teacher-1", "link-1")
    course = CourseClass.objects.get()
    lms.platform.down = True
    synced = roster_sync(course_id=course.pk)
    assert "503" in synced.error
    course.refresh_from_db()
    assert "503" in course.roster_error


def test_only_the_class_instructors_may_sync_or_resend(lms: Lms) -> None:
    lms.platform.add_link("link-1", "kuard", custom={"kubelab_target": "exercise:pods/kuard-pod"})
    teacher, _ = lms.launch("teacher-1", "link-1")
    student, _ = lms.launch("student-1", "link-1")
    classroom = CourseClass.objects.get().classroom_id
    gradebook = teacher.get(lms.site.url + f"/classes/{classroom}/", timeout=30)
    assert gradebook.status_code == 200
    assert "Linked to the LMS course" in gradebook.text and "Sent to the LMS" in gradebook.text
    token = csrf_of(gradebook.text)
    student_token = csrf_of(student.get(lms.site.url + "/learn/", timeout=30).text)
    for path in ("roster", "passback"):
        url = lms.site.url + f"/lms/classes/{classroom}/{path}/"
        headers = {"Referer": url}
        mine = {"csrfmiddlewaretoken": student_token}
        refused = student.post(url, data=mine, headers=headers, allow_redirects=False, timeout=30)
        assert refused.status_code == 404  # a valid token, and still not theirs
        allowed = teacher.post(url, data={"csrfmiddlewaretoken": token}, headers=headers,
                               allow_redirects=False, timeout=30)  # fmt: skip
        assert allowed.status_code == 302, (path, allowed.status_code, allowed.text[:300])
    assert re.search(r"/classes/\d+/", allowed.headers["Location"])
