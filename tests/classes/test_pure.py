"""Join codes and exports as plain data: no database, no Django."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest

from classes.codes import ALPHABET, LENGTH, InvalidCode, code_display, code_new, code_normalise
from classes.export import (
    BOM,
    csv_cell,
    export_filename,
    gradebook_csv,
    gradebook_json,
    gradebook_rows,
)
from classes.gradebook import (
    AtDeadline,
    Cell,
    Deadlines,
    ExerciseColumn,
    Gradebook,
    LabColumn,
    StudentRow,
)


def test_new_codes_are_long_random_and_from_the_unambiguous_alphabet() -> None:
    codes = {code_new() for _ in range(500)}
    assert len(codes) == 500
    for code in codes:
        assert len(code) == LENGTH
        assert set(code) <= set(ALPHABET)
    assert not set("01OIL") & set(ALPHABET)


def test_a_pasted_code_is_normalised_whatever_its_case_and_separators() -> None:
    code = code_new()
    shown = code_display(code)
    assert shown.count("-") == 2
    assert code_normalise(shown) == code
    assert code_normalise(f"  {shown.lower()} ") == code
    assert code_normalise(shown.replace("-", " ")) == code


@pytest.mark.parametrize(
    ("text", "reason", "found"),
    [
        ("", "empty", ""),
        ("  -- ", "empty", ""),
        ("ABCD-EFGH", "length", "8"),
        ("ABCD-EFGH-JKMNP", "length", "13"),
        ("ABCD-EFGH-JK0L", "characters", "0 L"),
    ],
)
def test_a_malformed_code_says_what_is_wrong(text: str, reason: str, found: str) -> None:
    with pytest.raises(InvalidCode) as caught:
        code_normalise(text)
    assert caught.value.reason == reason
    assert caught.value.found == found


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("ada", "ada"),
        ("a=b", "a=b"),
        ("", ""),
        (None, ""),
        (3, "3"),
    ],
)
def test_csv_cells_that_would_start_a_formula_are_escaped(value: object, cell: str) -> None:
    assert csv_cell(value) == cell


def _book() -> Gradebook:
    done = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
    keys = ("pods/kuard-pod", "pods/readiness")
    return Gradebook(
        classroom_id=7,
        name="K8s 101",
        labs=[LabColumn("pods", "Pods", keys)],
        exercises=[
            ExerciseColumn(keys[0], "pods", "kuard-pod", "Run kuard", points=3),
            ExerciseColumn(keys[1], "pods", "readiness", "Readiness"),
        ],
        students=[
            StudentRow(
                1, "=cmd|' /C calc'!A0", "陳 小明", "-x@example.com", "ready", done,
                cells={keys[0]: Cell("failed", done, 2), keys[1]: Cell("failed", None, 0)},
            ),
            StudentRow(2, "bob", "", "", "suspended", None, cells={}),
        ],
    )  # fmt: skip


def test_the_csv_is_utf8_with_a_bom_and_never_carries_a_formula() -> None:
    text = gradebook_csv(_book())
    assert text.startswith(BOM)
    rows = list(csv.reader(io.StringIO(text[len(BOM) :])))
    assert rows[0] == [
        "username", "name", "email", "environment", "pods/kuard-pod", "pods/readiness",
        "pods score", "pods points (of 4)", "total", "points (of 4)", "percent",
        "points by the deadline", "late", "last activity",
    ]  # fmt: skip
    # The exercise worth 3 of the class's 4 points is done: 3 points, 75 %.
    assert rows[1] == [
        "'=cmd|' /C calc'!A0", "陳 小明", "'-x@example.com", "ready", "passed", "failed",
        "1/2", "3", "1/2", "3", "75.0", "3", "", "2026-11-27T09:30:00+00:00",
    ]  # fmt: skip
    assert rows[2] == [
        "bob", "", "", "suspended", "not_checked", "not_checked", "0/2", "0", "0/2", "0", "0.0",
        "0", "", "",
    ]  # fmt: skip
    for row in rows:
        for value in row:
            assert not value.startswith(("=", "+", "-", "@"))
    assert text.encode("utf-8").startswith(b"\xef\xbb\xbf")


def test_a_completed_exercise_counts_as_passed_and_keeps_its_latest_status() -> None:
    book = _book()
    data = gradebook_json(book)
    ada = data["students"][0]
    assert ada["exercises"]["pods/kuard-pod"] == {
        "status": "passed",
        "latest": "failed",
        "completed_at": "2026-11-27T09:30:00+00:00",
        "hints_revealed": 2,
        "late": False,
        "best_points": 0,
        "points": 3,  # completed: the exercise's whole worth
        "points_by_deadline": 3,
        "passed_at_deadline": False,
    }
    assert ada["passed"] == 1 and ada["total"] == 2 and ada["labs"] == {"pods": 1}
    assert ada["points"] == 3 and ada["percent"] == 0.75 and data["points_possible"] == 4
    assert [e["points"] for e in data["exercises"]] == [3, 1]
    assert data["pass_rates"] == {"pods/kuard-pod": 0.5, "pods/readiness": 0.0}
    assert gradebook_rows(book)[1][4] == "passed"  # the CSV shows the same as the JSON


def test_export_filenames_carry_the_class_slug_and_the_date() -> None:
    day = date(2026, 11, 27)
    assert (
        export_filename(name_slug="k8s-101-spring", classroom_id=3, day=day, extension="csv")
        == "kubelab-k8s-101-spring-2026-11-27.csv"
    )
    # A name with no ASCII letters (slugify leaves nothing) falls back to the id.
    assert (
        export_filename(name_slug="", classroom_id=3, day=day, extension="json")
        == "kubelab-class-3-2026-11-27.json"
    )
    assert export_filename(name_slug='a"b\r\n', classroom_id=3, day=day, extension="csv") == (
        "kubelab-ab-2026-11-27.csv"
    )


def test_points_total_and_share_follow_the_exercises_worth() -> None:
    book = _book()
    rows = book.rows()
    assert [(r.points, r.percent) for r in rows] == [(3, 0.75), (0, 0.0)]
    practice = Gradebook(
        classroom_id=1, name="practice", labs=[],
        exercises=[ExerciseColumn("a/b", "a", "b", "B", points=0)], students=book.students[:1],
    )  # fmt: skip
    assert practice.points_possible() == 0 and practice.percent(book.students[0]) is None


def test_work_completed_after_the_students_deadline_is_late_and_counts_apart() -> None:
    book = _book()
    done = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
    ada = book.students[0]
    book.deadlines = Deadlines(due={"pods": datetime(2026, 11, 27, 9, 0, tzinfo=UTC)})
    assert book.late(ada, "pods/kuard-pod") and book.on_time(ada) == 0
    assert book.rows()[0].late == frozenset({"pods/kuard-pod"})
    assert gradebook_rows(book)[1][-3:] == ["0", "pods/kuard-pod", "2026-11-27T09:30:00+00:00"]
    assert gradebook_json(book)["students"][0]["exercises"]["pods/kuard-pod"]["late"] is True
    # An extension to 10:00 for Ada alone makes the same work on time; Bob keeps 9:00.
    book.deadlines = Deadlines(
        due={"pods": datetime(2026, 11, 27, 9, 0, tzinfo=UTC)},
        extended={(1, "pods"): datetime(2026, 11, 27, 10, 0, tzinfo=UTC)},
    )
    assert not book.late(ada, "pods/kuard-pod") and book.on_time(ada) == 3
    data = gradebook_json(book)
    assert data["students"][0]["due"] == {"pods": "2026-11-27T10:00:00+00:00"}
    assert data["students"][1]["due"] == {"pods": "2026-11-27T09:00:00+00:00"}
    assert done > book.deadlines.due["pods"]  # the 9:30 completion, against both deadlines


def test_partial_credit_counts_in_totals_and_never_beyond_the_exercise() -> None:
    book = _book()
    ada = book.students[0]
    ada.cells["pods/readiness"] = Cell("failed", None, 0, best_points=0)
    book.exercises[1] = ExerciseColumn("pods/readiness", "pods", "readiness", "Readiness", 4)
    ada.cells["pods/readiness"] = Cell("failed", None, 0, best_points=3)
    assert book.rows()[0].points == 3 + 3  # kuard done (3), readiness 3 of 4 so far
    # A kept best above what the exercise is worth now (its spec was lowered) is capped.
    ada.cells["pods/readiness"] = Cell("failed", None, 0, best_points=9)
    assert book.rows()[0].points == 3 + 4
    data = gradebook_json(book)["students"][0]
    assert data["exercises"]["pods/readiness"]["points"] == 4 and data["points"] == 7


def test_the_grading_taken_at_the_deadline_decides_the_points_by_the_deadline() -> None:
    due = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    after = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    book = _book()
    ada = book.students[0]
    kuard = "pods/kuard-pod"
    # Completed at 9:30 (after 9:00), but the grading taken at 9:00 already passed: on time.
    ada.cells[kuard] = Cell("passed", datetime(2026, 11, 27, 9, 0, 2, tzinfo=UTC), 0, 3,
                            AtDeadline(due, "passed", 3))  # fmt: skip
    book.deadlines = Deadlines(due={"pods": due}, now=after)
    assert not book.late(ada, kuard) and book.cell_on_time(ada, kuard, 3) == 3
    assert book.rows()[0].passed_at_deadline == frozenset({kuard})
    # A near miss at the deadline earns its checks' points by the deadline, the rest later.
    ada.cells[kuard] = Cell("passed", datetime(2026, 11, 27, 9, 30, tzinfo=UTC), 0, 3,
                            AtDeadline(due, "failed", 1))  # fmt: skip
    assert book.late(ada, kuard) and book.cell_on_time(ada, kuard, 3) == 1
    assert book.rows()[0].points == 3 and book.on_time(ada) == 1
    # A grading taken at an earlier deadline (since moved later) does not count.
    book.deadlines = Deadlines(due={"pods": due}, extended={(1, "pods"): after}, now=after)
    assert book.cell_on_time(ada, kuard, 3) == 3  # completed 9:30, before the 12:00 extension
    # Past the deadline with no grading taken yet: only work completed by then counts.
    ada.cells[kuard] = Cell("failed", None, 0, 2)
    book.deadlines = Deadlines(due={"pods": due}, now=after)
    assert book.cell_on_time(ada, kuard, 3) == 0
    # A deadline still ahead: everything earned so far.
    book.deadlines = Deadlines(due={"pods": after}, now=due)
    assert book.cell_on_time(ada, kuard, 3) == 2
