"""The "Ask for help" feature: the learner's button, the gradebook's flag, "Mark as helped",
who may do each (everyone else is refused as the app refuses: 302 to log in, 404), the rate
limit, and the live events to the learner's and the class's groups."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.test import Client

from accounts.roles import Role
from classes.help import help_ask, help_open_for_class
from classes.models import Classroom, HelpRequest
from classes.services import class_events_group, classroom_join
from labs.models import AuthoredLab
from tests.fixtures.classes import client_for, person

pytestmark = pytest.mark.django_db

ASK = "/classes/help/pods/kuard-pod/"
JSON = {"Accept": "application/json"}


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """What reached the channel layer, as (group, event): the learner's events under their
    ``events.user.<id>`` group, the gradebooks' under ``events.class.<id>``."""
    messages: list[tuple[str, dict[str, Any]]] = []

    def to_user(*, user_id: int, event: dict[str, Any]) -> None:
        messages.append((f"events.user.{user_id}", event))

    def to_group(*, group: str, event: dict[str, Any]) -> None:
        messages.append((group, event))

    monkeypatch.setattr("kubelab.events.user_event_send_now", to_user)
    monkeypatch.setattr("classes.help.group_event_send_now", to_group)
    return messages


@pytest.fixture
def student(make_class: Callable[..., Classroom]) -> Any:
    pupil = person("student")
    classroom_join(user=pupil, code=make_class().join_code)
    return pupil


def _classroom(student: Any) -> Classroom:
    return Classroom.objects.get(enrollments__student=student)


def test_a_learner_asks_cancels_and_has_one_open_request_at_a_time(student: Any) -> None:
    client = client_for(student)
    first = client.post(ASK, headers=JSON)
    assert first.status_code == 200
    assert first.json() == {"lab": "pods", "exercise": "kuard-pod", "open": True}
    assert (
        client.post(ASK, {"action": "ask"}, headers=JSON).json()["open"] is True
    )  # a double click
    assert HelpRequest.objects.filter(student=student).count() == 1

    assert client.post(ASK, {"action": "cancel"}, headers=JSON).json()["open"] is False
    cancelled = HelpRequest.objects.get(student=student)
    assert cancelled.closed_at is not None and cancelled.closed_by == student
    assert cancelled.closed_reason == HelpRequest.Reason.CANCELLED
    assert client.post(ASK, {"action": "cancel"}, headers=JSON).json()["open"] is False  # harmless

    client.post(ASK, headers=JSON)  # asking again opens a new one; the closed one stays as history
    assert HelpRequest.objects.filter(student=student).count() == 2
    assert HelpRequest.objects.filter(student=student, closed_at__isnull=True).count() == 1
    # The database holds the rule too, whoever writes.
    with pytest.raises(IntegrityError), transaction.atomic():
        HelpRequest.objects.create(student=student, lab="pods", exercise="kuard-pod")
    # Another exercise is another request.
    client.post("/classes/help/pods/readiness/", headers=JSON)
    assert HelpRequest.objects.filter(student=student, closed_at__isnull=True).count() == 2


def test_without_javascript_the_form_posts_and_returns_to_the_exercise(student: Any) -> None:
    response = client_for(student).post(ASK)
    assert response.status_code == 302 and response["Location"] == "/labs/pods/kuard-pod/"
    assert HelpRequest.objects.filter(student=student, closed_at__isnull=True).exists()


def test_the_button_shows_the_open_request_after_a_reload(student: Any) -> None:
    client = client_for(student)
    page = client.get("/learn/pods/").content.decode()
    assert ">Ask for help</button>" in page and ">Help requested</span>" not in page
    assert 'action="/classes/help/pods/kuard-pod/"' in page and "js/help.js" in page
    client.post(ASK, headers=JSON)
    page = client.get("/learn/pods/").content.decode()
    kuard = page[page.index('data-labs-exercise="pods/kuard-pod"') :]
    kuard = kuard[: kuard.index("</li>")]
    assert 'data-open="true"' in kuard and 'name="action" value="cancel"' in kuard
    assert ">Help requested</span>" in kuard
    assert 'aria-label="Cancel the help request">Cancel</button>' in kuard
    readiness = page[page.index('data-labs-exercise="pods/readiness"') :]
    assert 'data-open="false"' in readiness[: readiness.index("</li>")]
    # The partial labs.js re-renders an exercise with (after a result, or a reconnect).
    panel = client.get("/labs/pods/kuard-pod/panel/").content.decode()
    assert 'data-open="true"' in panel and "Help requested" in panel
    # In Chinese too.
    page = client.get("/learn/pods/", HTTP_ACCEPT_LANGUAGE="zh-Hant").content.decode()
    assert "已請求協助" in page and "請求協助" in page


def test_anonymous_visitors_see_no_button_and_are_sent_to_log_in(student: Any) -> None:
    page = Client().get("/learn/pods/").content.decode()
    assert "data-labs-help" not in page
    response = Client().post(ASK)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert client_for(student).get(ASK).status_code == 405
    assert not HelpRequest.objects.exists()


def test_a_lab_or_exercise_the_learner_cannot_see_is_not_found(student: Any) -> None:
    author = person("author", role=Role.INSTRUCTOR)
    written = AuthoredLab.objects.create(slug="secret-lab", owner=author)
    written.authors.add(author)
    client = client_for(student)
    for url in (
        "/classes/help/secret-lab/step-one/",  # someone else's lab, in no class of theirs
        "/classes/help/no-such-lab/x/",
        "/classes/help/pods/no-such-exercise/",
    ):
        assert client.post(url, headers=JSON).status_code == 404, url
    assert not HelpRequest.objects.exists()


def test_help_is_offered_only_where_an_instructor_would_see_it(
    student: Any, make_class: Callable[..., Classroom]
) -> None:
    # A guest (in no class) and a student whose classes lack the lab: no button, and asking
    # anyway is refused; nothing waits in a gradebook nobody has.
    guest = person("guest", role=Role.GUEST)
    assert "data-labs-help" not in client_for(guest).get("/learn/pods/").content.decode()
    assert client_for(guest).post(ASK, headers=JSON).status_code == 404
    elsewhere = person("elsewhere")
    classroom_join(user=elsewhere, code=make_class(labs=("jobs",)).join_code)
    assert "data-labs-help" not in client_for(elsewhere).get("/learn/pods/").content.decode()
    assert "data-labs-help" in client_for(elsewhere).get("/learn/jobs/").content.decode()
    assert client_for(elsewhere).post(ASK, headers=JSON).status_code == 404
    assert not HelpRequest.objects.exists()
    # The class's student sees it.
    assert "data-labs-help" in client_for(student).get("/learn/pods/").content.decode()


def test_asking_needs_the_csrf_token(student: Any) -> None:
    assert client_for(student, csrf=True).post(ASK).status_code == 403
    assert not HelpRequest.objects.exists()


def test_asking_is_rate_limited(student: Any, settings: Any) -> None:
    settings.KUBELAB_RATE_LIMITS = {**settings.KUBELAB_RATE_LIMITS, "help": "2/10m"}
    client = client_for(student)
    answers = [
        client.post(ASK, {"action": action}, headers=JSON) for action in ("ask", "cancel", "ask")
    ]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert int(answers[2]["Retry-After"]) > 0
    assert "You asked for help very often." in answers[2].json()["error"]
    assert not HelpRequest.objects.filter(closed_at__isnull=True).exists()


def test_the_gradebook_flags_the_cell_and_offers_mark_as_helped(
    instructor: Any, student: Any
) -> None:
    classroom = _classroom(student)
    client_for(student).post(ASK, headers=JSON)
    page = client_for(instructor).get(f"/classes/{classroom.pk}/").content.decode()
    cell = page[page.index(f'data-student="{student.pk}" data-exercise="pods/kuard-pod"') - 40 :]
    cell = cell[: cell.index("</td>")]
    assert 'data-help="true"' in cell
    assert '<span class="visually-hidden">asked for help</span>' in cell
    assert f'action="/classes/{classroom.pk}/help/helped/"' in cell
    assert f'name="student" value="{student.pk}"' in cell and ">Mark as helped</button>" in cell
    other = page[page.index(f'data-student="{student.pk}" data-exercise="pods/readiness"') - 40 :]
    other = other[: other.index("</td>")]
    assert 'data-help="true"' not in other and "Mark as helped" not in other
    # Each row links to watching the student, saying whom.
    watch = f'href="/classes/{classroom.pk}/students/{student.pk}/watch/"'
    assert watch in page
    assert f"Watch {student.username}\N{RIGHT SINGLE QUOTATION MARK}s terminal" in page
    # The live page re-reads the flags from here on every (re)connect.
    answer = client_for(instructor).get(f"/classes/{classroom.pk}/help/").json()
    assert [(r["student"], r["exercise"]) for r in answer["open"]] == [
        (student.pk, "pods/kuard-pod")
    ]
    assert help_open_for_class(classroom=classroom).keys() == {(student.pk, "pods", "kuard-pod")}
    chinese = client_for(instructor).get(
        f"/classes/{classroom.pk}/", HTTP_ACCEPT_LANGUAGE="zh-Hant"
    )
    assert "已請求協助" in chinese.content.decode() and "標示為已協助" in chinese.content.decode()


def test_asking_and_cancelling_reach_the_learner_and_their_classes_gradebooks(
    student: Any,
    make_class: Callable[..., Classroom],
    sent: list[tuple[str, dict[str, Any]]],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    classroom = _classroom(student)
    also = make_class(name="Also pods")
    classroom_join(user=student, code=also.join_code)
    elsewhere = make_class(name="Jobs only", labs=("jobs",))
    classroom_join(user=student, code=elsewhere.join_code)
    with django_capture_on_commit_callbacks(execute=True):
        help_ask(user=student, lab="pods", exercise="kuard-pod")
    gradebooks = {group: event for group, event in sent if group.startswith("events.class.")}
    assert set(gradebooks) == {class_events_group(classroom.pk), class_events_group(also.pk)}
    flag = gradebooks[class_events_group(classroom.pk)]
    assert flag["type"] == "classes.help" and flag["open"] is True
    assert flag["student"] == student.pk and flag["exercise"] == "pods/kuard-pod"
    assert flag["asked_at"]
    assert (
        f"events.user.{student.pk}",
        {"type": "help.changed", "lab": "pods", "exercise": "kuard-pod", "open": True,
         "reason": ""},
    ) in sent  # fmt: skip
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client_for(student).post(ASK, {"action": "cancel"}, headers=JSON)
    assert {event["open"] for _, event in sent} == {False}
    assert len(sent) == 3  # the learner's pages, and the two gradebooks with pods


def test_an_instructor_marks_it_helped_and_the_learner_hears_it(
    instructor: Any,
    student: Any,
    sent: list[tuple[str, dict[str, Any]]],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    classroom = _classroom(student)
    client_for(student).post(ASK, headers=JSON)
    sent.clear()
    fields = {"student": student.pk, "lab": "pods", "exercise": "kuard-pod"}
    with django_capture_on_commit_callbacks(execute=True):
        url = f"/classes/{classroom.pk}/help/helped/"
        answer = client_for(instructor).post(url, fields, headers=JSON)
    assert answer.status_code == 200 and answer.json()["open"] is False
    helped = HelpRequest.objects.get(student=student)
    assert helped.closed_reason == HelpRequest.Reason.HELPED and helped.closed_by == instructor
    assert (
        f"events.user.{student.pk}",
        {"type": "help.changed", "lab": "pods", "exercise": "kuard-pod", "open": False,
         "reason": "helped"},
    ) in sent  # fmt: skip
    assert (class_events_group(classroom.pk), {
        "type": "classes.help", "student": student.pk, "exercise": "pods/kuard-pod",
        "open": False, "asked_at": None,
    }) in sent  # fmt: skip
    page = client_for(instructor).get(f"/classes/{classroom.pk}/").content.decode()
    assert 'data-help="true"' not in page
    # Without JavaScript the form posts and returns to the gradebook.
    response = client_for(instructor).post(f"/classes/{classroom.pk}/help/helped/", fields)
    assert response.status_code == 302 and response["Location"] == f"/classes/{classroom.pk}/"


def test_only_the_class_instructors_may_mark_it_helped_or_read_the_flags(
    instructor: Any, student: Any, make_class: Callable[..., Classroom]
) -> None:
    classroom = _classroom(student)
    client_for(student).post(ASK, headers=JSON)
    fields = {"student": student.pk, "lab": "pods", "exercise": "kuard-pod"}
    helped = f"/classes/{classroom.pk}/help/helped/"
    flags = f"/classes/{classroom.pk}/help/"
    # The instructor of another class (the student's own lab, in a class of theirs) and the
    # student themself: 404, as for a class that does not exist.
    stranger = person("other", role=Role.INSTRUCTOR)
    make_class(name="Theirs", owner=stranger)
    for outsider in (stranger, student):
        assert client_for(outsider).post(helped, fields, headers=JSON).status_code == 404
        assert client_for(outsider).get(flags).status_code == 404
    response = Client().post(helped, fields)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    # Its own instructor, for a student not in the class or a lab the class does not do.
    teacher = client_for(instructor)
    loner = person("loner")
    # Asked while in another class with the lab, which they have left since.
    HelpRequest.objects.create(student=loner, lab="pods", exercise="kuard-pod")
    for wrong in (
        {**fields, "student": loner.pk},
        {**fields, "lab": "jobs", "exercise": "parallel-keygen"},
        {**fields, "student": "not-a-number"},
    ):
        assert teacher.post(helped, wrong, headers=JSON).status_code == 404, wrong
    assert client_for(instructor, csrf=True).post(helped, fields).status_code == 403
    assert HelpRequest.objects.filter(closed_at__isnull=True).count() == 2  # nothing closed


def test_an_exercise_that_passes_closes_its_request_everywhere(
    student: Any,
    sent: list[tuple[str, dict[str, Any]]],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    from django.utils import timezone

    from labs.models import Attempt
    from labs.signals import attempts_graded_send

    classroom = _classroom(student)
    client_for(student).post(ASK, headers=JSON)
    other = help_ask(user=student, lab="pods", exercise="readiness")
    sent.clear()
    failing = Attempt.objects.create(user=student, lab="pods", exercise="readiness")
    passing = Attempt.objects.create(
        user=student, lab="pods", exercise="kuard-pod", completed_at=timezone.now()
    )
    # As a grading stores its results: the receiver runs once the transaction commits.
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        attempts_graded_send([failing.pk, passing.pk])
    closed = HelpRequest.objects.get(student=student, exercise="kuard-pod")
    assert closed.closed_reason == HelpRequest.Reason.PASSED and closed.closed_by is None
    other.refresh_from_db()
    assert other.closed_at is None  # not passed yet: still asking
    assert (class_events_group(classroom.pk), {
        "type": "classes.help", "student": student.pk, "exercise": "pods/kuard-pod",
        "open": False, "asked_at": None,
    }) in sent  # fmt: skip
