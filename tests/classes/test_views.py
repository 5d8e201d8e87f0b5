"""The class pages through Django's test client: who sees what, CSRF, joining, exports."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.roles import Role
from classes.codes import code_display
from classes.models import ClassGradingRun, Classroom, Enrollment
from classes.services import classroom_join
from labs.models import Attempt
from tests.fixtures.classes import PODS_EXERCISES, client_for, environment_ready, person

pytestmark = pytest.mark.django_db


def _class_urls(pk: int) -> list[tuple[str, str]]:
    return [
        ("get", f"/classes/{pk}/"),
        ("get", f"/classes/{pk}/settings/"),
        ("get", f"/classes/{pk}/gradebook.csv"),
        ("get", f"/classes/{pk}/gradebook.json"),
        ("post", f"/classes/{pk}/grade/"),
        ("post", f"/classes/{pk}/code/"),
        ("post", f"/classes/{pk}/instructors/"),
        ("post", f"/classes/{pk}/students/1/remove/"),
        ("get", f"/classes/{pk}/students/1/pods/kuard-pod/"),
        ("post", f"/classes/{pk}/deadlines/"),
        ("post", f"/classes/{pk}/extensions/"),
        ("post", f"/classes/{pk}/extensions/1/revoke/"),
    ]


def test_outsiders_get_404_for_every_class_page(
    make_class: Callable[..., Classroom],
) -> None:
    classroom = make_class()
    student = person("student")
    classroom_join(user=student, code=classroom.join_code)
    other_instructor = person("other", role=Role.INSTRUCTOR)
    for outsider in (student, other_instructor):
        client = client_for(outsider)
        for method, url in _class_urls(classroom.pk):
            response = getattr(client, method)(
                url, {"action": "regenerate"} if method == "post" else None
            )
            assert response.status_code == 404, (outsider.username, url)
    # The same answer as for a class that does not exist at all.
    assert client_for(other_instructor).get(f"/classes/{classroom.pk + 999}/").status_code == 404
    # Nothing changed behind the 404s.
    before = classroom.join_code
    classroom.refresh_from_db()
    assert classroom.join_code == before and not ClassGradingRun.objects.exists()
    # Anonymous visitors are sent to log in.
    response = Client().get(f"/classes/{classroom.pk}/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_posts_without_a_csrf_token_are_refused(
    instructor: Any, make_class: Callable[..., Classroom]
) -> None:
    classroom = make_class()
    client = client_for(instructor, csrf=True)
    for url in (
        f"/classes/{classroom.pk}/grade/",
        f"/classes/{classroom.pk}/code/",
        "/classes/new/",
    ):
        assert client.post(url, {"action": "regenerate", "name": "x"}).status_code == 403
    student = client_for(person("student"), csrf=True)
    link = f"/classes/join/{code_display(classroom.join_code)}/"
    assert student.post(link).status_code == 403
    assert not Enrollment.objects.exists()
    # With the token from the page, the same POST joins.
    page = student.get(link)
    token = page.context["csrf_token"]
    assert student.post(link, {"csrfmiddlewaretoken": str(token)}).status_code == 302
    assert Enrollment.objects.count() == 1


def test_an_instructor_creates_a_class_and_sees_its_join_link(instructor: Any) -> None:
    client = client_for(instructor)
    assert 'href="/classes/"' in client.get("/").content.decode()  # "Classes" in the nav
    form = client.get("/classes/new/").content.decode()
    assert 'value="pods"' in form and 'value="jobs"' in form
    response = client.post("/classes/new/", {"name": "Spring 2027", "labs": ["pods", "jobs"]})
    classroom = Classroom.objects.get()
    assert response["Location"] == f"/classes/{classroom.pk}/"
    assert classroom.labs == ["pods", "jobs"]  # catalog order of the checkboxes
    page = client.get(f"/classes/{classroom.pk}/").content.decode()
    assert f"http://testserver/classes/join/{code_display(classroom.join_code)}/" in page
    assert "No students yet" in page
    assert client.post("/classes/new/", {"name": "", "labs": ["pods"]}).status_code == 200
    assert client.post("/classes/new/", {"name": "x", "labs": ["nope"]}).status_code == 200
    assert Classroom.objects.count() == 1


def test_students_cannot_open_the_new_class_page(db: None) -> None:
    assert client_for(person("student")).get("/classes/new/").status_code == 404


def test_joining_by_link_and_by_pasted_code_with_specific_errors(
    make_class: Callable[..., Classroom],
) -> None:
    classroom = make_class(name="Night class")
    student = person("student")
    client = client_for(student)
    link = f"/classes/join/{code_display(classroom.join_code)}/"
    page = client.get(link)
    assert page.status_code == 200 and "Night class" in page.content.decode()
    assert not Enrollment.objects.exists()  # GET never joins
    response = client.post(link, follow=True)
    assert "You joined Night class." in response.content.decode()
    response = client.post("/classes/join/", {"code": classroom.join_code.lower()}, follow=True)
    assert "You are already in Night class." in response.content.decode()
    assert Enrollment.objects.filter(student=student).count() == 1
    assert "Night class" in client.get("/classes/").content.decode()

    other = client_for(person("other"))
    cases = [
        ({"code": "ABCD"}, "A join code has 12 letters and digits; this one has 4."),
        ({"code": "ABCD-EFGH-JK0L"}, "A join code never contains 0 L"),
        ({"code": "ABCD-EFGH-JKMN"}, "No class has this join code."),
    ]
    for data, message in cases:
        response = other.post("/classes/join/", data)
        assert response.status_code == 400
        assert message in response.content.decode()
    assert other.get("/classes/join/ABCD-EFGH-JKMN/").status_code == 404
    classroom.join_open = False
    classroom.save()
    closed = other.get(link)
    assert closed.status_code == 404
    assert "not accepting new students" in closed.content.decode()
    assert other.post(link).status_code == 404
    assert Enrollment.objects.count() == 1


def test_the_join_code_can_be_regenerated_and_closed_from_the_settings(
    instructor: Any, make_class: Callable[..., Classroom]
) -> None:
    classroom = make_class()
    client = client_for(instructor)
    old = classroom.join_code
    client.post(f"/classes/{classroom.pk}/code/", {"action": "regenerate"})
    classroom.refresh_from_db()
    assert classroom.join_code != old
    client.post(f"/classes/{classroom.pk}/code/", {"action": "close"})
    classroom.refresh_from_db()
    assert classroom.join_open is False
    assert client.post(f"/classes/{classroom.pk}/code/", {"action": "explode"}).status_code == 400


def test_the_grade_button_starts_one_run_and_reports_it(
    instructor: Any,
    make_class: Callable[..., Classroom],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    classroom = make_class()
    student = person("student")
    classroom_join(user=student, code=classroom.join_code)
    environment_ready(student)
    client = client_for(instructor)
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(f"/classes/{classroom.pk}/grade/", follow=True)
    page = response.content.decode()
    assert f"Grading 0/{PODS_EXERCISES}" in page
    # The progress line says it all: no flash that would still say "Grading" after the run.
    assert "on the workers" not in page and 'class="messages"' not in page
    with django_capture_on_commit_callbacks(execute=False):
        again = client.post(f"/classes/{classroom.pk}/grade/", HTTP_ACCEPT="application/json")
    assert again.status_code == 202 and again.json()["created"] is False
    assert again.json()["message"].startswith("This class is already being graded")
    progress = again.json()["progress"]
    assert (progress["done"], progress["requested"], progress["finished_at"]) == (
        0,
        PODS_EXERCISES,
        None,
    )
    assert ClassGradingRun.objects.count() == 1


def test_exports_have_the_gradebook_with_safe_cells_and_dated_names(
    instructor: Any, make_class: Callable[..., Classroom]
) -> None:
    classroom = make_class(name="K8s 101: Spring")
    student = person("=HYPERLINK", first_name="+Ada", last_name="Lovelace", email="ada@example.com")
    classroom_join(user=student, code=classroom.join_code)
    Attempt.objects.create(
        user=student, lab="pods", exercise="kuard-pod", status="passed",
        completed_at=timezone.now(), hints_revealed=1,
    )  # fmt: skip
    client = client_for(instructor)
    today = timezone.localdate().isoformat()

    response = client.get(f"/classes/{classroom.pk}/gradebook.csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="kubelab-k8s-101-spring-{today}.csv"'
    )
    body = response.content.decode("utf-8")
    assert body.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(body[1:])))
    assert len(rows) == 1
    row = rows[0]
    assert row["username"].startswith("'=HYPERLINK")
    assert row["name"] == "'+Ada Lovelace"
    assert row["email"] == "ada@example.com"
    assert row["environment"] == "none"
    assert row["pods/kuard-pod"] == "passed" and row["pods/readiness"] == "not_checked"
    n = PODS_EXERCISES
    assert row["pods score"] == f"1/{n}" and row["total"] == f"1/{n}"
    # The CSV carries points: each Pods exercise is worth one (issue 16).
    assert row[f"pods points (of {n})"] == "1" and row[f"points (of {n})"] == "1"
    assert row["percent"] == f"{100 / n:.1f}"

    response = client.get(f"/classes/{classroom.pk}/gradebook.json")
    assert response["Content-Disposition"].endswith(f'-{today}.json"')
    data = json.loads(response.content)
    assert data["class"]["name"] == "K8s 101: Spring"
    (entry,) = data["students"]
    assert entry["username"] == student.username  # JSON is data, not a spreadsheet: unescaped
    assert entry["exercises"]["pods/kuard-pod"]["hints_revealed"] == 1
    assert entry["passed"] == 1 and entry["total"] == PODS_EXERCISES
    inline = client.get(f"/classes/{classroom.pk}/gradebook.json?download=0")
    assert "Content-Disposition" not in inline


def test_the_gradebook_page_shows_cells_totals_and_rates(
    instructor: Any, make_class: Callable[..., Classroom]
) -> None:
    classroom = make_class()
    ada, bob = person("ada"), person("bob")
    for student in (ada, bob):
        classroom_join(user=student, code=classroom.join_code)
    environment_ready(ada)
    Attempt.objects.create(
        user=ada, lab="pods", exercise="kuard-pod", status="passed", completed_at=timezone.now()
    )
    Attempt.objects.create(
        user=bob, lab="pods", exercise="kuard-pod", status="failed", hints_revealed=2
    )
    page = client_for(instructor).get(f"/classes/{classroom.pk}/").content.decode()
    assert (
        f'data-student="{ada.pk}" data-exercise="pods/kuard-pod" '
        'data-status="passed" data-completed="true"' in page
    )
    assert (
        f'data-student="{bob.pk}" data-exercise="pods/kuard-pod" '
        'data-status="failed" data-completed="false" data-hints="2"' in page
    )
    assert 'data-environment="ready"' in page and 'data-environment="none"' in page
    assert f">1/{PODS_EXERCISES}</td>" in page and f">0/{PODS_EXERCISES}</td>" in page
    assert '<td class="gb-rate" data-rate data-exercise="pods/kuard-pod">50%</td>' in page
    assert f'data-socket-path="/ws/classes/{classroom.pk}/"' in page


def test_pages_are_translated(instructor: Any, make_class: Callable[..., Classroom]) -> None:
    classroom = make_class()
    client = client_for(instructor)
    client.cookies["django_language"] = "zh-hant"
    page = client.get(f"/classes/{classroom.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hant").content.decode()
    assert "立即批改全班" in page


def test_the_export_command_writes_the_same_gradebook(
    make_class: Callable[..., Classroom], tmp_path: Any
) -> None:
    from django.core.management import CommandError, call_command

    classroom = make_class(name="Cmd")
    classroom_join(user=person("ada"), code=classroom.join_code)
    out = tmp_path / "book.json"
    call_command("classes", "export", str(classroom.pk), "--format", "json", "-o", str(out))
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["class"]["name"] == "Cmd" and len(data["students"]) == 1
    csv_out = tmp_path / "book.csv"
    call_command("classes", "export", str(classroom.pk), "-o", str(csv_out))
    assert csv_out.read_bytes().startswith(b"\xef\xbb\xbfusername,")
    with pytest.raises(CommandError, match="no class with id"):
        call_command("classes", "export", str(classroom.pk + 999))


def test_class_pages_have_the_course_in_their_navigation(
    instructor: Any, make_class: Callable[..., Classroom]
) -> None:
    """The "Course" link was missing on class pages (issue 24)."""
    from django.urls import reverse

    classroom = make_class()
    client = client_for(instructor)
    course = reverse("tutorials:overview")
    for path in ("/classes/", f"/classes/{classroom.pk}/", f"/classes/{classroom.pk}/settings/"):
        page = client.get(path).content.decode()
        nav = page.split('class="site-nav"', 1)[1].split("</nav>", 1)[0]
        assert f'href="{course}"' in nav, path
        assert 'aria-current="page">Classes' in nav.replace("\n", ""), path
    overview = client.get(course).content.decode().split('class="site-nav"', 1)[1]
    assert f'href="{course}" aria-current="page"' in overview.split("</nav>", 1)[0]


def _graded_cell(student: Any, *, annotation: str) -> Attempt:
    """A failed kuard-pod grading of `student`, as the pipeline stores it."""
    from labs.models import CheckResult, GradingRun

    attempt = Attempt.objects.create(
        user=student, lab="pods", exercise="kuard-pod", status="failed",
        requested_generation=1, graded_generation=1,
    )  # fmt: skip
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "kuard", "annotations": {"note": annotation}},
           "spec": {"containers": [{"name": "kuard",
                                    "image": "gcr.io/kuar-demo/kuard-amd64:green"}]}}  # fmt: skip
    run = GradingRun.objects.create(
        attempt=attempt, generation=1, trigger="instructor", status="failed",
        namespace="kl-ada", evidence={"namespace": "kl-ada", "objects": {"Pod": [pod]}},
    )  # fmt: skip
    CheckResult.objects.create(run=run, check_id="exists", position=0, status="pass",
                               message={"en": "", "zh-hant": ""})  # fmt: skip
    CheckResult.objects.create(
        run=run, check_id="image", position=1, status="fail",
        message={"en": "kuard must run the image gcr.io/kuar-demo/kuard-amd64:blue. "
                       "Found: gcr.io/kuar-demo/kuard-amd64:green",
                 "zh-hant": "kuard 必須執行映像檔 gcr.io/kuar-demo/kuard-amd64:blue。"},
    )  # fmt: skip
    Attempt.objects.filter(pk=attempt.pk).update(last_run=run)
    return attempt


def test_an_instructor_opens_a_cell_and_reads_why_it_failed(
    instructor: Any, make_class: Callable[..., Classroom]
) -> None:
    classroom = make_class()
    student = person("ada")
    classroom_join(user=student, code=classroom.join_code)
    # What the student put in their namespace is theirs: it is shown, never run as markup.
    _graded_cell(student, annotation="<script>alert(1)</script>")
    url = f"/classes/{classroom.pk}/students/{student.pk}/pods/kuard-pod/"
    body = client_for(instructor).get(url).content.decode()
    assert (
        "kuard must run the image" in body and "Found: gcr.io/kuar-demo/kuard-amd64:green" in body
    )
    assert 'data-check="image" data-status="fail"' in body
    assert 'data-object="Pod/kuard"' in body and "image: gcr.io/kuar-demo/kuard-amd64:green" in body
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;alert(1)" in body
    assert "an instructor graded the class" in body
    zh = client_for(instructor)
    zh.cookies["django_language"] = "zh-hant"
    assert "kuard 必須執行映像檔" in zh.get(url).content.decode()
    # The gradebook's cell links here.
    assert (
        f'href="{url}"' in client_for(instructor).get(f"/classes/{classroom.pk}/").content.decode()
    )


def test_a_cell_outside_the_class_is_not_found(
    instructor: Any, make_class: Callable[..., Classroom]
) -> None:
    classroom = make_class()
    member, stranger = person("member"), person("stranger")
    classroom_join(user=member, code=classroom.join_code)
    _graded_cell(stranger, annotation="x")  # graded, but not in this class
    client = client_for(instructor)
    base = f"/classes/{classroom.pk}/students"
    assert client.get(f"{base}/{stranger.pk}/pods/kuard-pod/").status_code == 404
    assert client.get(f"{base}/{member.pk}/pods/no-such-exercise/").status_code == 404
    assert client.get(f"{base}/{member.pk}/jobs/no-such/").status_code == 404  # lab not in class
    never = client.get(f"{base}/{member.pk}/pods/kuard-pod/")
    assert never.status_code == 200 and "Not graded yet" in never.content.decode()
    # The student themself is no instructor: their own cell is 404 to them too.
    assert client_for(member).get(f"{base}/{member.pk}/pods/kuard-pod/").status_code == 404


def test_deadlines_and_an_extension_mark_late_work_and_count_points_by_the_deadline(
    instructor: Any, make_class: Callable[..., Classroom]
) -> None:
    from classes.models import Deadline, Extension

    classroom = make_class()
    ada, bob = person("ada"), person("bob")
    for student in (ada, bob):
        classroom_join(user=student, code=classroom.join_code)
    client = client_for(instructor)
    settings_url = f"/classes/{classroom.pk}/settings/"

    # An extension needs a deadline to extend; then one after it.
    extend = {"student": ada.pk, "lab": "pods", "due": "2026-12-10T12:00"}
    answer = client.post(f"/classes/{classroom.pk}/extensions/", extend, follow=True)
    assert "pods has no deadline yet" in answer.content.decode()
    assert client.post(f"/classes/{classroom.pk}/deadlines/",
                       {"lab": "pods", "due": "2026-12-01T12:00"}).status_code == 302  # fmt: skip
    due = Deadline.objects.get(classroom=classroom, lab="pods").due_at
    assert due.isoformat() == "2026-12-01T12:00:00+00:00"  # the server's zone, UTC
    for bad, sentence in [
        ({"student": ada.pk, "lab": "pods", "due": "2026-11-30T12:00"}, "must end after"),
        ({"student": ada.pk, "lab": "jobs", "due": "2026-12-10T12:00"}, "not one of this class"),
        ({"student": instructor.pk, "lab": "pods", "due": "2026-12-10T12:00"}, "Only a student"),
        ({"student": ada.pk, "lab": "pods", "due": "soon"}, "is not a date and time"),
    ]:
        answer = client.post(f"/classes/{classroom.pk}/extensions/", bad, follow=True)
        assert sentence in answer.content.decode(), bad
    assert not Extension.objects.exists()
    client.post(f"/classes/{classroom.pk}/extensions/",
                {"student": ada.pk, "lab": "pods", "due": "2026-12-10T12:00"})  # fmt: skip
    assert Extension.objects.get().student == ada
    page = client.get(settings_url).content.decode()
    assert f'data-extension="{ada.username}/pods"' in page and 'value="2026-12-01T12:00"' in page

    # Both complete kuard on 5 December: late for Bob, on time for Ada (her extension).
    when = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    for student in (ada, bob):
        Attempt.objects.create(user=student, lab="pods", exercise="kuard-pod", status="passed",
                               completed_at=when)  # fmt: skip
    book = client.get(f"/classes/{classroom.pk}/").content.decode()
    assert "due 2026-12-01 12:00" in book
    assert book.count('data-late="true"') == 1
    exported = client.get(f"/classes/{classroom.pk}/gradebook.csv").content.decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(exported[1:])))
    late = {row["username"]: (row["late"], row["points by the deadline"]) for row in rows}
    assert late == {ada.username: ("", "1"), bob.username: ("pods/kuard-pod", "0")}
    data = json.loads(client.get(f"/classes/{classroom.pk}/gradebook.json").content)
    dues = {s["username"]: s["due"]["pods"] for s in data["students"]}
    assert dues[ada.username] == "2026-12-10T12:00:00+00:00"
    assert dues[bob.username] == "2026-12-01T12:00:00+00:00"

    # Clearing the deadline: nothing is late any more.
    client.post(f"/classes/{classroom.pk}/deadlines/", {"lab": "pods", "due": ""})
    assert 'data-late="true"' not in client.get(f"/classes/{classroom.pk}/").content.decode()
