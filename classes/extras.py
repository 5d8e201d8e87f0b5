"""What apps above classes add to a gradebook page, without classes importing them: a panel
above the table and a column beside it (the LMS integration shows its course link and each
student's scores sent to the LMS). Providers register in their AppConfig.ready()."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from classes.models import Classroom


@dataclass(frozen=True)
class GradebookExtra:
    panel_template: str = ""
    panel: dict[str, Any] = field(default_factory=dict)
    column_title: str = ""
    column_template: str = ""
    cells: dict[int, Any] = field(default_factory=dict)  # student id -> the cell's context


Provider = Callable[[Classroom, Sequence[int]], GradebookExtra | None]
_providers: list[Provider] = []


def gradebook_extra_register(provider: Provider) -> None:
    if provider not in _providers:
        _providers.append(provider)


def gradebook_extras(classroom: Classroom, student_ids: Sequence[int]) -> list[GradebookExtra]:
    return [extra for provider in _providers if (extra := provider(classroom, student_ids))]
