"""Template tags of "Ask for help": whether the learner asked on an exercise (their checklist,
which labs renders and must not ask classes about) and a class's open requests (its gradebook)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template

from classes.help import help_labs_watched, help_open_by_student, help_open_for_user
from classes.models import Classroom

register = template.Library()

# Where a request keeps its learner's open requests: one query per page, however many exercises.
_CACHED = "_kubelab_help_open"
_WATCHED = "_kubelab_help_labs"


@register.simple_tag(takes_context=True)
def help_asked(context: template.Context, lab: str, exercise: str) -> bool:
    """Whether the page's user has an open help request on lab/exercise."""
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    keys: set[str] | None = getattr(request, _CACHED, None)
    if keys is None:
        keys = help_open_for_user(user=user)
        if request is not None:
            setattr(request, _CACHED, keys)
    return f"{lab}/{exercise}" in keys


@register.simple_tag(takes_context=True)
def help_offered(context: template.Context, lab: str) -> bool:
    """Whether the page's user is a student of a class that has the lab: the only place an
    "Ask for help" reaches someone (one query per page)."""
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    labs: set[str] | None = getattr(request, _WATCHED, None)
    if labs is None:
        labs = help_labs_watched(user=user)
        if request is not None:
            setattr(request, _WATCHED, labs)
    return lab in labs


@register.simple_tag
def class_help_open(classroom: Classroom) -> dict[int, dict[str, datetime]]:
    """student id -> "lab/exercise" -> when they asked, for the class's gradebook."""
    return help_open_by_student(classroom=classroom)


@register.filter
def help_at(grid: Any, student_id: int) -> dict[str, datetime]:
    """One student's open requests from class_help_open's grid ({} without any)."""
    return (grid or {}).get(student_id) or {}
