"""Gradebook exports (pure): CSV for spreadsheets and JSON for scripts, with the same content."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime
from typing import Any

from classes.gradebook import Gradebook, StudentRow

BOM = "\ufeff"  # Excel reads a CSV as UTF-8 only when it starts with one
# A spreadsheet runs a cell starting with these as a formula (OWASP "CSV injection"); tab and
# carriage return are included because some programs strip them and then see the next character.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """A value as a spreadsheet cell that is never evaluated: text that would start a formula is
    prefixed with an apostrophe, which spreadsheets show as plain text."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else ""


def _score(row: StudentRow, keys: tuple[str, ...] | list[str]) -> str:
    return f"{row.passed(keys)}/{len(keys)}"


def _percent(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}"


def gradebook_rows(book: Gradebook) -> list[list[str]]:
    """Header and one row per student: who, each exercise's status, each lab's score and
    points, the total, points and percentage of the class's points."""
    keys, worth = book.keys, book.points
    header = ["username", "name", "email", "environment"]
    header += keys
    header += [f"{lab.slug} score" for lab in book.labs]
    header += [f"{lab.slug} points (of {book.points_possible(lab.exercises)})" for lab in book.labs]
    header += ["total", f"points (of {book.points_possible()})", "percent"]
    header += ["points by the deadline", "late", "last activity"]
    rows = [header]
    for student in book.students:
        row = [student.username, student.name, student.email, student.environment]
        row += [student.cell(key).shown for key in keys]
        row += [_score(student, lab.exercises) for lab in book.labs]
        row += [str(student.earned(worth, lab.exercises)) for lab in book.labs]
        row += [_score(student, keys), str(student.earned(worth, keys))]
        row += [_percent(book.percent(student)), str(book.on_time(student))]
        row += [" ".join(key for key in keys if book.late(student, key))]
        row += [_when(student.last_activity)]
        rows.append(row)
    return rows


def gradebook_csv(book: Gradebook) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in gradebook_rows(book):
        writer.writerow([csv_cell(value) for value in row])
    return BOM + out.getvalue()


def gradebook_json(book: Gradebook) -> dict[str, Any]:
    keys, worth = book.keys, book.points
    return {
        "class": {"id": book.classroom_id, "name": book.name},
        "labs": [
            {
                "slug": lab.slug,
                "title": lab.title,
                "exercises": list(lab.exercises),
                "due": _when(book.deadlines.due.get(lab.slug)) or None,
            }
            for lab in book.labs
        ],
        "exercises": [
            {"key": e.key, "lab": e.lab, "id": e.id, "title": e.title, "points": e.points}
            for e in book.exercises
        ],
        "points_possible": book.points_possible(),
        "missing_labs": book.missing_labs,
        "students": [
            {
                "id": s.id,
                "username": s.username,
                "name": s.name,
                "email": s.email,
                "environment": s.environment,
                "last_activity": _when(s.last_activity) or None,
                "exercises": {
                    key: {
                        "status": s.cell(key).shown,
                        "latest": s.cell(key).status,
                        "completed_at": _when(s.cell(key).completed_at) or None,
                        "hints_revealed": s.cell(key).hints_revealed,
                        "late": book.late(s, key),
                        "best_points": s.cell(key).best_points,
                        "points": s.cell(key).worth(worth[key]),
                        "points_by_deadline": book.cell_on_time(s, key, worth[key]),
                        "passed_at_deadline": book.passed_at_deadline(s, key),
                    }
                    for key in keys
                },
                "labs": {lab.slug: s.passed(lab.exercises) for lab in book.labs},
                "passed": s.passed(keys),
                "total": len(keys),
                "points": s.earned(worth, keys),
                "percent": book.percent(s),
                "points_by_deadline": book.on_time(s),
                "due": {
                    lab.slug: _when(book.deadlines.due_for(s.id, lab.slug)) or None
                    for lab in book.labs
                },
            }
            for s in book.students
        ],
        "pass_rates": {key: book.pass_rate(key) for key in keys},
        "grading": book.progress.as_event() if book.progress else None,
    }


def export_filename(*, name_slug: str, classroom_id: int, day: date, extension: str) -> str:
    """kubelab-<class slug>-<date>.<ext>; the slug falls back to the id for names with no ASCII."""
    slug = re.sub(r"[^a-z0-9-]+", "", name_slug.lower())[:50].strip("-")
    return f"kubelab-{slug or f'class-{classroom_id}'}-{day.isoformat()}.{extension}"
