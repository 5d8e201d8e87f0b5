"""The gradebook's shape (pure): students by exercises, with the totals teachers read first.

A cell counts as passed once the exercise was ever completed, as the learner's own checklist
does ("done"): later chapters change the namespace, and a learner keeps what they earned. The
cell still carries the newest grading's status (``status``) for the instructor to see.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

STATUSES = ("not_checked", "checking", "passed", "failed", "inconclusive")


@dataclass(frozen=True)
class ExerciseColumn:
    key: str  # "lab/exercise"
    lab: str
    id: str
    title: str
    points: int = 1  # what completing it is worth


@dataclass(frozen=True)
class LabColumn:
    slug: str
    title: str
    exercises: tuple[str, ...]  # keys


@dataclass(frozen=True)
class AtDeadline:
    """The grading taken when a deadline passed (classes.deadline_grades)."""

    due_at: datetime
    status: str
    points: int


@dataclass(frozen=True)
class Cell:
    status: str = "not_checked"  # the newest grading's
    completed_at: datetime | None = None
    hints_revealed: int = 0
    best_points: int = 0  # partial credit kept (labs.scoring); all of it once completed
    at_deadline: AtDeadline | None = None

    def worth(self, points: int) -> int:
        """What the cell earns of an exercise worth ``points``."""
        return points if self.completed else min(self.best_points, points)

    @property
    def completed(self) -> bool:
        return self.completed_at is not None

    @property
    def shown(self) -> str:
        """What the grid shows: passed once completed, else the newest status."""
        return "passed" if self.completed else self.status


EMPTY = Cell()


@dataclass(frozen=True)
class Deadlines:
    """A class's deadlines: lab -> due, and (student, lab) -> the student's own due."""

    due: dict[str, datetime] = field(default_factory=dict)
    extended: dict[tuple[int, str], datetime] = field(default_factory=dict)
    now: datetime | None = None  # when they were read: a due still ahead is not over

    def due_for(self, student_id: int, lab: str) -> datetime | None:
        return self.extended.get((student_id, lab)) or self.due.get(lab)

    def late(self, student_id: int, lab: str, completed_at: datetime | None) -> bool:
        due = self.due_for(student_id, lab)
        return completed_at is not None and due is not None and completed_at > due

    def on_time(self, student_id: int, lab: str, cell: Cell, points: int) -> int:
        """What the cell earned by the student's deadline: everything where there is none or
        it is still ahead; else completed by then, or what the grading at the deadline found."""
        due = self.due_for(student_id, lab)
        if due is None or (self.now is not None and due > self.now):
            return cell.worth(points)
        if cell.completed and not self.late(student_id, lab, cell.completed_at):
            return points
        mark = cell.at_deadline
        if mark is None or mark.due_at != due:
            return 0  # the grading at the deadline is still to come (within a minute)
        return points if mark.status == "passed" else min(mark.points, points)


@dataclass
class StudentRow:
    id: int
    username: str
    name: str
    email: str
    environment: str  # "ready", "suspended", "provisioning", "unavailable", "none"
    last_activity: datetime | None
    cells: dict[str, Cell] = field(default_factory=dict)

    def cell(self, key: str) -> Cell:
        return self.cells.get(key, EMPTY)

    def passed(self, keys: tuple[str, ...] | list[str]) -> int:
        return sum(1 for key in keys if self.cell(key).completed)

    def earned(self, points: dict[str, int], keys: tuple[str, ...] | list[str]) -> int:
        """Points earned among `keys` (points: key -> worth): all of a completed exercise's,
        the kept partial credit of the others."""
        return sum(self.cell(key).worth(points.get(key, 1)) for key in keys)


@dataclass(frozen=True)
class GradingProgress:
    run_id: int
    started_at: datetime
    finished_at: datetime | None
    requested: int
    done: int
    skipped: tuple[int, ...]
    requested_by: str

    @property
    def running(self) -> bool:
        return self.finished_at is None

    def as_event(self) -> dict[str, object]:
        return {
            "run": self.run_id,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "requested": self.requested,
            "done": self.done,
            "skipped": list(self.skipped),
            "requested_by": self.requested_by,
        }


@dataclass(frozen=True)
class GridRow:
    student: StudentRow
    cells: list[tuple[ExerciseColumn, Cell]]
    passed: int
    lab_scores: list[tuple[LabColumn, int]]
    points: int = 0  # earned
    percent: float | None = None  # of the class's points, None when nothing is worth points
    on_time: int = 0  # points earned by the deadline
    late: frozenset[str] = frozenset()  # exercise keys completed after the deadline
    due: dict[str, datetime | None] = field(default_factory=dict)  # lab -> this student's due
    on_time_cells: dict[str, int] = field(default_factory=dict)  # key -> points by the deadline
    # Keys whose grading at the deadline passed (completion stamped after it is not late).
    passed_at_deadline: frozenset[str] = frozenset()


@dataclass
class Gradebook:
    classroom_id: int
    name: str
    labs: list[LabColumn]
    exercises: list[ExerciseColumn]
    students: list[StudentRow]
    # Assigned labs that are no longer in the catalog (shown as a warning, never a crash).
    missing_labs: list[str] = field(default_factory=list)
    progress: GradingProgress | None = None
    deadlines: Deadlines = field(default_factory=lambda: Deadlines())

    @property
    def keys(self) -> list[str]:
        return [e.key for e in self.exercises]

    @property
    def points(self) -> dict[str, int]:
        return {e.key: e.points for e in self.exercises}

    def points_possible(self, keys: tuple[str, ...] | list[str] | None = None) -> int:
        worth = self.points
        return sum(worth[key] for key in (self.keys if keys is None else keys))

    def percent(self, student: StudentRow) -> float | None:
        possible = self.points_possible()
        return student.earned(self.points, self.keys) / possible if possible else None

    def late(self, student: StudentRow, key: str) -> bool:
        """Completed after the student's deadline for the exercise's lab, and not already
        passing in the grading taken at the deadline."""
        if self.passed_at_deadline(student, key):
            return False
        lab = key.split("/", 1)[0]
        return self.deadlines.late(student.id, lab, student.cell(key).completed_at)

    def cell_on_time(self, student: StudentRow, key: str, worth: int) -> int:
        return self.deadlines.on_time(student.id, key.split("/", 1)[0], student.cell(key), worth)

    def on_time(self, student: StudentRow) -> int:
        """Points earned by the deadline (all of them, where none is set or it is ahead)."""
        worth = self.points
        return sum(self.cell_on_time(student, key, worth[key]) for key in self.keys)

    def passed_at_deadline(self, student: StudentRow, key: str) -> bool:
        mark = student.cell(key).at_deadline
        lab = key.split("/", 1)[0]
        return (
            mark is not None
            and mark.status == "passed"
            and mark.due_at == self.deadlines.due_for(student.id, lab)
        )

    def pass_rate(self, key: str) -> float | None:
        """Share of enrolled students who completed the exercise; None without students."""
        if not self.students:
            return None
        return sum(1 for s in self.students if s.cell(key).completed) / len(self.students)

    def rows(self) -> list[GridRow]:
        """The grid in display order, totals included, so templates only loop."""
        keys, worth = self.keys, self.points
        return [
            GridRow(
                student=s,
                cells=[(e, s.cell(e.key)) for e in self.exercises],
                passed=s.passed(keys),
                lab_scores=[(lab, s.passed(lab.exercises)) for lab in self.labs],
                points=s.earned(worth, keys),
                percent=self.percent(s),
                on_time=self.on_time(s),
                late=frozenset(key for key in keys if self.late(s, key)),
                due={lab.slug: self.deadlines.due_for(s.id, lab.slug) for lab in self.labs},
                on_time_cells={key: self.cell_on_time(s, key, worth[key]) for key in keys},
                passed_at_deadline=frozenset(k for k in keys if self.passed_at_deadline(s, k)),
            )
            for s in self.students
        ]

    def rates(self) -> list[tuple[ExerciseColumn, float | None]]:
        return [(e, self.pass_rate(e.key)) for e in self.exercises]
