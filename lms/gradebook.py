"""The gradebook's LMS panel and column (classes.extras): the course the class is linked to,
its roster's last sync, and for each student every score owed to the LMS and whether it has it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.translation import gettext as _

from classes.extras import GradebookExtra
from classes.models import Classroom
from lms.models import CourseClass, LinkedActivity, Passback, PassbackState


@dataclass(frozen=True)
class PassbackCell:
    activity: str
    given: float
    maximum: float
    state: str
    state_label: str
    error: str


def lms_gradebook_extra(classroom: Classroom, student_ids: Sequence[int]) -> GradebookExtra | None:
    course = CourseClass.objects.filter(classroom=classroom).select_related("context").first()
    if course is None:
        return None
    activities = list(
        LinkedActivity.objects.filter(resource_link__context=course.context)
        .select_related("resource_link")
        .order_by("created_at")
    )
    labels = {a.pk: a.resource_link.title or a.target for a in activities}
    cells: dict[int, list[PassbackCell]] = {sid: [] for sid in student_ids}
    counts = {state: 0 for state in PassbackState.values}
    rows = Passback.objects.filter(activity__in=activities, user_id__in=list(student_ids))
    for row in rows.order_by("activity__created_at"):
        counts[row.state] += 1
        cells.setdefault(row.user_id, []).append(
            PassbackCell(
                labels.get(row.activity_id, ""),
                row.score_given,
                row.score_maximum,
                row.state,
                str(PassbackState(row.state).label),
                row.last_error,
            )
        )
    return GradebookExtra(
        panel_template="lms/_gradebook_panel.html",
        panel={
            "course": course,
            "activities": activities,
            "counts": counts,
            "unsent": counts[PassbackState.RETRYING] + counts[PassbackState.REFUSED],
        },
        column_title=_("Sent to the LMS"),
        column_template="lms/_passback_cell.html",
        cells=cells,
    )
