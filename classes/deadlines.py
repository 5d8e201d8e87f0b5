"""Writes of deadlines: a class's lab deadlines and single students' extensions. What they mean
(due for whom, late or not) is classes.gradebook.Deadlines; classes.selectors reads them. The
gradebook shows late work as late and counts points "by the deadline" next to all points."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from classes.models import Classroom, Deadline, Enrollment, Extension


class DeadlineError(ValueError):
    """A deadline or extension that cannot be set as asked; the message says why."""


def _lab_of_class(classroom: Classroom, lab: str) -> None:
    if lab not in (classroom.labs or []):
        raise DeadlineError(_("%(lab)s is not one of this class's labs.") % {"lab": lab})


def deadline_set(*, classroom: Classroom, lab: str, due_at: datetime | None) -> None:
    """Set or (with None) clear the lab's deadline; extensions stay as they were."""
    _lab_of_class(classroom, lab)
    if due_at is None:
        Deadline.objects.filter(classroom=classroom, lab=lab).delete()
        return
    Deadline.objects.update_or_create(classroom=classroom, lab=lab, defaults={"due_at": due_at})


def extension_grant(*, classroom: Classroom, student_id: int, lab: str, due_at: datetime) -> Any:
    """Give one student of the class a later deadline for a lab that has one."""
    _lab_of_class(classroom, lab)
    if not Enrollment.objects.filter(classroom=classroom, student_id=student_id).exists():
        raise DeadlineError(_("Only a student of this class can get an extension."))
    with transaction.atomic():
        deadline = Deadline.objects.filter(classroom=classroom, lab=lab).first()
        if deadline is None:
            raise DeadlineError(
                _("%(lab)s has no deadline yet: set the lab's deadline first.") % {"lab": lab}
            )
        if due_at <= deadline.due_at:
            raise DeadlineError(
                _("An extension must end after the lab's deadline (%(due)s).")
                % {"due": deadline.due_at.strftime("%Y-%m-%d %H:%M")}
            )
        extension, _created = Extension.objects.update_or_create(
            classroom=classroom, student_id=student_id, lab=lab, defaults={"due_at": due_at}
        )
    return extension


def extension_revoke(*, classroom: Classroom, extension_id: int) -> bool:
    deleted, _ = Extension.objects.filter(classroom=classroom, pk=extension_id).delete()
    return bool(deleted)
