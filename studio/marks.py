"""Spec problems as marks an editor draws (pure): which text (the spec or one of its files), the
line and the column range, and the sentence ``manage.py labs validate`` prints for it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from labs.messages import Msg, Translate
from labs.spec import Problem


@dataclass(frozen=True)
class Mark:
    target: str  # "lab.yaml", or "files/<name>"
    line: int  # 1-based; 1 when the problem names no line
    column: int  # 1-based, where the field's key starts
    end_column: int  # 1-based, exclusive: the end of the line's text
    field: str
    message: str
    fix: str
    sentence: str  # str(Problem): what `labs validate` prints

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _target(problem: Problem, slug: str) -> str:
    prefix = f"{slug}/"
    name = problem.file[len(prefix) :] if problem.file.startswith(prefix) else problem.file
    return name if name.startswith("files/") else "lab.yaml"


def _columns(text: str, line: int, field: str) -> tuple[int, int]:
    """Where on the line the problem's field is: its last key (``type`` of
    ``exercises[0].checks[0].type``) if the line has it, else the line's first character."""
    lines = text.splitlines()
    if not 1 <= line <= len(lines):
        return 1, 1
    content = lines[line - 1]
    start = len(content) - len(content.lstrip()) + 1
    key = field.rsplit(".", 1)[-1].split("[", 1)[0] if field else ""
    if key:
        at = content.find(f"{key}:")
        if at >= 0:
            start = at + 1
    return start, max(start + 1, len(content.rstrip()) + 1)


def _said(text: str | Msg, translate: Translate | None) -> str:
    if isinstance(text, str):
        return text
    return text.render(translate) if translate is not None else text.render()


def problem_marks(
    problems: Sequence[Problem],
    *,
    slug: str,
    spec: str,
    files: Mapping[str, str],
    translate: Translate | None = None,
) -> list[Mark]:
    """``translate`` (gettext of the author's language) says the words in that language."""
    marks = []
    for problem in problems:
        target = _target(problem, slug)
        text = spec if target == "lab.yaml" else files.get(target.removeprefix("files/"), "")
        line = problem.line or 1
        column, end = _columns(text, line, problem.field)
        marks.append(
            Mark(
                target, line, column, end, problem.field, _said(problem.message, translate),
                _said(problem.fix, translate), problem.render(translate),
            )
        )  # fmt: skip
    return marks
