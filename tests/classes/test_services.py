"""Classes, enrolment, access, grading requests and the gradebook relay, on the real database
(no cluster, no worker: tasks queued at commit are captured, not sent)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from accounts.roles import Role
from classes import services
from classes.codes import code_display
from classes.models import ClassGradingRequest, ClassGradingRun, Classroom, Enrollment
from classes.selectors import (
    ClassroomNotFound,
    classroom_get_for_instructor,
    classrooms_joined,
    classrooms_taught,
    gradebook_get,
)
from classes.services import (
    ClassError,
    class_event_relay,
    class_events_group,
    class_grade_request,
    classroom_create,
    classroom_join,
    instructor_add,
    instructor_remove,
    join_code_regenerate,
    join_set_open,
)
from classes.tasks import class_grade_batch_task
from labs.models import Attempt, AttemptStatus, GradingRun, Trigger
from labs.tasks import MAX_RETRIES
from tests.fixtures.classes import PODS_EXERCISES, environment_ready, person

pytestmark = pytest.mark.django_db


def test_only_instructors_create_classes_and_labs_must_exist(instructor: Any) -> None:
    student = person("student")
    with pytest.raises(ClassError, match="Only instructors"):
        classroom_create(owner=student, name="Mine", labs=["pods"])
    with pytest.raises(ClassError, match="no lab “nope”"):
        classroom_create(owner=instructor, name="K8s", labs=["pods", "nope"])
    with pytest.raises(ClassError, match="Give the class a name"):
        classroom_create(owner=instructor, name="   ", labs=["pods"])
    classroom = classroom_create(
        owner=instructor, name="  K8s   101 ", labs=["jobs", "pods", "jobs"]
    )
    assert classroom.name == "K8s 101"
    assert classroom.labs == ["jobs", "pods"]  # order kept, duplicates dropped
    assert list(classroom.instructors.all()) == [instructor]


def test_a_superuser_counts_as_an_instructor(db: None) -> None:
    admin = person("admin", is_superuser=True, is_staff=True)
    classroom = classroom_create(owner=admin, name="Admin's", labs=["pods"])
    assert classroom_get_for_instructor(user=admin, classroom_id=classroom.pk) == classroom


def test_only_the_classes_own_instructors_reach_it(
    instructor: Any, make_class: Callable[..., Classroom]
) -> None:
    classroom = make_class()
    other_instructor = person("other", role=Role.INSTRUCTOR)
    other_class = make_class(owner=other_instructor)
    student = person("student")
    classroom_join(user=student, code=classroom.join_code)

    assert classroom_get_for_instructor(user=instructor, classroom_id=classroom.pk) == classroom
    for outsider in (other_instructor, student, AnonymousUser()):
        with pytest.raises(ClassroomNotFound):
            classroom_get_for_instructor(user=outsider, classroom_id=classroom.pk)
    with pytest.raises(ClassroomNotFound):  # missing looks exactly like forbidden
        classroom_get_for_instructor(user=instructor, classroom_id=other_class.pk + 1000)
    # An instructor who lost the role loses the class, even though still listed on it.
    instructor.groups.clear()
    with pytest.raises(ClassroomNotFound):
        classroom_get_for_instructor(user=instructor, classroom_id=classroom.pk)
    assert classrooms_taught(user=student) == []
    assert classrooms_joined(user=student) == [classroom]


def test_co_instructors_must_be_instructors_and_the_owner_stays(
    instructor: Any, make_class: Callable[..., Classroom]
) -> None:
    classroom = make_class()
    colleague = person("colleague", role=Role.INSTRUCTOR)
    student = person("student")
    with pytest.raises(ClassError, match="not an instructor account"):
        instructor_add(classroom=classroom, username=student.username)
    with pytest.raises(ClassError, match="not an instructor account"):
        instructor_add(classroom=classroom, username="nobody-at-all")
    instructor_add(classroom=classroom, username=colleague.username)
    assert classroom_get_for_instructor(user=colleague, classroom_id=classroom.pk) == classroom
    with pytest.raises(ClassError, match="owner"):
        instructor_remove(classroom=classroom, user_id=instructor.pk)
    instructor_remove(classroom=classroom, user_id=colleague.pk)
    with pytest.raises(ClassroomNotFound):
        classroom_get_for_instructor(user=colleague, classroom_id=classroom.pk)


def test_joining_twice_is_harmless(make_class: Callable[..., Classroom]) -> None:
    classroom = make_class()
    student = person("student")
    assert classroom_join(user=student, code=classroom.join_code).created is True
    assert classroom_join(user=student, code=classroom.join_code).created is False
    assert Enrollment.objects.filter(classroom=classroom, student=student).count() == 1


def test_a_closed_code_admits_nobody_new_but_members_are_not_turned_away(
    make_class: Callable[..., Classroom],
) -> None:
    classroom = make_class()
    member, newcomer = person("member"), person("newcomer")
    classroom_join(user=member, code=classroom.join_code)
    join_set_open(classroom=classroom, open=False)
    with pytest.raises(ClassError, match="not accepting new students"):
        classroom_join(user=newcomer, code=classroom.join_code)
    assert classroom_join(user=member, code=classroom.join_code).created is False
    join_set_open(classroom=classroom, open=True)
    assert classroom_join(user=newcomer, code=classroom.join_code).created is True


def test_a_regenerated_code_retires_the_old_one(make_class: Callable[..., Classroom]) -> None:
    classroom = make_class()
    old = classroom.join_code
    new = join_code_regenerate(classroom=classroom)
    assert new != old and len(new) == 12
    with pytest.raises(ClassError, match="No class has this join code"):
        classroom_join(user=person("late"), code=old)
    assert classroom_join(user=person("ontime"), code=new).created is True
    assert code_display(new).replace("-", "") == new


def _enrol(classroom: Classroom, count: int, *, ready: bool = True) -> list[Any]:
    students = []
    for _n in range(count):
        student = person("student")
        classroom_join(user=student, code=classroom.join_code)
        if ready:
            environment_ready(student)
        students.append(student)
    return students


def test_grading_the_class_requests_every_exercise_of_every_student_with_an_environment(
    instructor: Any,
    make_class: Callable[..., Classroom],
    django_capture_on_commit_callbacks: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    classroom = make_class()
    ready = _enrol(classroom, 3)
    (idle,) = _enrol(classroom, 1, ready=False)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        started = class_grade_request(classroom=classroom, requested_by=instructor)
    run = started.run
    assert started.created
    assert run.requested == 3 * PODS_EXERCISES
    assert run.skipped == [idle.pk]
    requests = ClassGradingRequest.objects.filter(run=run).select_related("attempt")
    assert requests.count() == 3 * PODS_EXERCISES
    assert {r.attempt.user_id for r in requests} == {s.pk for s in ready}
    for request in requests:
        assert request.attempt.last_trigger == Trigger.INSTRUCTOR
        assert request.attempt.status == AttemptStatus.CHECKING
        assert request.generation == request.attempt.requested_generation == 1
        # An instructor's grading is not the learner pressing Check: solutions stay locked.
        assert request.attempt.checks_requested == 0
    assert not Attempt.objects.filter(user=idle).exists()  # never provisioned, never graded
    # One batch task for these three learners (not one per attempt), then "grading started".
    queued: list[tuple[Any, ...]] = []
    monkeypatch.setattr(
        class_grade_batch_task,
        "apply_async",
        lambda args, kwargs=None, queue=None: queued.append(args),
    )
    monkeypatch.setattr(services, "group_event_send_now", lambda **kwargs: None)
    assert len(callbacks) == 2
    for callback in callbacks:
        callback()
    assert queued == [(run.pk, sorted(r.attempt_id for r in requests))]


def test_a_large_class_is_graded_in_batches_that_never_split_a_learner() -> None:
    owners = {attempt: attempt // 10 for attempt in range(12000)}  # 1,200 learners x 10
    batches = services._batches(sorted(owners), owners)
    assert [len({owners[a] for a in batch}) for batch in batches] == [500, 500, 200]
    assert sorted(a for batch in batches for a in batch) == sorted(owners)


def test_pressing_twice_while_running_returns_the_same_run(
    instructor: Any,
    make_class: Callable[..., Classroom],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    classroom = make_class()
    _enrol(classroom, 2)
    with django_capture_on_commit_callbacks(execute=False):
        first = class_grade_request(classroom=classroom, requested_by=instructor)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        second = class_grade_request(classroom=classroom, requested_by=instructor)
    assert second.created is False and second.run == first.run
    assert callbacks == []  # no second wave of tasks
    assert set(Attempt.objects.values_list("requested_generation", flat=True)) == {1}
    # A run stuck for longer than the stale limit no longer blocks a new one.
    ClassGradingRun.objects.filter(pk=first.run.pk).update(
        started_at=timezone.now() - timedelta(minutes=11)
    )
    with django_capture_on_commit_callbacks(execute=False):
        third = class_grade_request(classroom=classroom, requested_by=instructor)
    assert third.created and third.run != first.run


def test_a_class_without_ready_students_finishes_at_once(
    instructor: Any, make_class: Callable[..., Classroom]
) -> None:
    classroom = make_class()
    _enrol(classroom, 2, ready=False)
    run = class_grade_request(classroom=classroom, requested_by=instructor).run
    assert run.requested == 0 and run.finished_at is not None and len(run.skipped) == 2


def _graded(attempt: Attempt, status: str, *, tries: int = 1) -> None:
    """What the grading store leaves behind for the attempt's newest generation."""
    attempt.refresh_from_db()
    run, _ = GradingRun.objects.update_or_create(
        attempt=attempt, generation=attempt.requested_generation,
        defaults={"trigger": "instructor", "status": status, "tries": tries, "namespace": "ns"},
    )  # fmt: skip
    attempt.last_run = run
    attempt.status = status
    if status != "inconclusive":
        attempt.graded_generation = attempt.requested_generation
    if status == "passed":
        attempt.completed_at = timezone.now()
    attempt.save()


def test_the_relay_updates_cells_and_finishes_the_run_on_the_last_answer(
    instructor: Any,
    make_class: Callable[..., Classroom],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    classroom = make_class()
    other_class = make_class(labs=("jobs",))
    (student,) = _enrol(classroom, 1)
    classroom_join(user=student, code=other_class.join_code)
    with django_capture_on_commit_callbacks(execute=False):
        run = class_grade_request(classroom=classroom, requested_by=instructor).run
    attempts = list(Attempt.objects.filter(user=student).order_by("exercise"))
    group = class_events_group(classroom.pk)

    *first, last = attempts
    for attempt in first:
        _graded(attempt, "failed")
    _graded(last, "inconclusive", tries=1)  # still retrying: not an answer yet
    event = {"type": "labs.result", "attempt": last.pk, "exercise": last.exercise_key}
    messages = class_event_relay(student.pk, event)
    # Only the class that has the pods lab hears of it; the jobs class does not.
    assert {g for g, _ in messages} == {group}
    cell = next(e for _, e in messages if e["type"] == "classes.cell")
    assert cell == {
        "type": "classes.cell", "student": student.pk, "exercise": last.exercise_key,
        "status": "inconclusive", "latest": "inconclusive", "completed_at": None,
        "hints_revealed": 0, "best_points": 0,
    }  # fmt: skip
    progress = next(e for _, e in messages if e["type"] == "classes.grading")["progress"]
    assert (progress["done"], progress["requested"]) == (PODS_EXERCISES - 1, PODS_EXERCISES)
    assert progress["finished_at"] is None

    _graded(last, "inconclusive", tries=MAX_RETRIES + 1)  # the last retry gave up: answered
    messages = class_event_relay(student.pk, event)
    progress = next(e for _, e in messages if e["type"] == "classes.grading")["progress"]
    assert progress["done"] == PODS_EXERCISES
    run.refresh_from_db()
    assert run.finished_at is not None
    assert progress["finished_at"] == run.finished_at.isoformat()
    # Later results of the same learner still update cells but no longer report that run.
    messages = class_event_relay(student.pk, event)
    assert [e["type"] for _, e in messages] == ["classes.cell"]


def test_the_relay_ignores_other_events_and_learners_in_no_class(
    make_class: Callable[..., Classroom],
) -> None:
    make_class()
    loner = person("loner")
    attempt = Attempt.objects.create(user=loner, lab="pods", exercise="kuard-pod")
    assert (
        class_event_relay(
            loner.pk, {"type": "labs.result", "attempt": attempt.pk, "exercise": "pods/kuard-pod"}
        )
        == []
    )
    assert class_event_relay(loner.pk, {"type": "sandbox.status", "status": "ready"}) == []


def test_a_students_environment_state_reaches_every_class_they_are_in(
    make_class: Callable[..., Classroom],
) -> None:
    first, second = make_class(), make_class()
    (student,) = _enrol(first, 1)
    Enrollment.objects.create(classroom=second, student=student)
    messages = class_event_relay(student.pk, {"type": "sandbox.status", "status": "suspended"})
    update = {"type": "classes.environment", "student": student.pk, "status": "suspended"}
    assert sorted(messages, key=lambda m: m[0]) == sorted(
        [(class_events_group(first.pk), update), (class_events_group(second.pk), update)],
        key=lambda m: m[0],
    )


def test_a_hint_shows_up_in_the_gradebook(
    make_class: Callable[..., Classroom],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    from labs.services import attempt_get_or_create, attempt_hint_reveal

    classroom = make_class()
    (student,) = _enrol(classroom, 1)
    attempt = attempt_get_or_create(user=student, lab_slug="pods", exercise_id="kuard-pod")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert attempt_hint_reveal(attempt=attempt) == 1
    assert len(callbacks) == 1  # the learner event (relayed to the class on send)
    messages = class_event_relay(
        student.pk,
        {
            "type": "labs.hints",
            "attempt": attempt.pk,
            "exercise": "pods/kuard-pod",
            "hints_revealed": 1,
        },
    )
    assert messages[0][1]["hints_revealed"] == 1


@pytest.mark.parametrize("count", [3, 30])
def test_the_gradebook_takes_the_same_few_queries_for_any_class_size(
    count: int,
    instructor: Any,
    make_class: Callable[..., Classroom],
    django_assert_num_queries: Callable[..., Any],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    classroom = make_class(labs=("pods", "jobs"))
    students = _enrol(classroom, count)
    with django_capture_on_commit_callbacks(execute=False):
        class_grade_request(classroom=classroom, requested_by=instructor)
    for student in students[::2]:
        _graded(Attempt.objects.get(user=student, lab="pods", exercise="kuard-pod"), "passed")
    Attempt.objects.filter(user=students[0], exercise="kuard-pod").update(hints_revealed=2)

    # enrolments, attempts, environments, the latest run, its progress, deadlines, extensions
    with django_assert_num_queries(7):
        book = gradebook_get(classroom=classroom)
    assert len(book.students) == count
    assert len(book.exercises) > PODS_EXERCISES
    first = next(s for s in book.students if s.id == students[0].pk)
    assert first.cell("pods/kuard-pod").shown == "passed"
    assert first.cell("pods/kuard-pod").hints_revealed == 2
    assert first.cell("pods/readiness").shown == "checking"
    assert book.pass_rate("pods/kuard-pod") == pytest.approx(len(students[::2]) / count)
    assert book.progress is not None and book.progress.requested == count * len(book.exercises)
    assert book.progress.done == len(students[::2])
