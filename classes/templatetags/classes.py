"""Template filters of the gradebook: status words and pass rates, translated."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import gettext_lazy as _

register = template.Library()

STATUS_LABELS = {
    "not_checked": _("not checked"),
    "checking": _("checking"),
    "passed": _("passed"),
    "failed": _("failed"),
    "inconclusive": _("could not check"),
}
ENVIRONMENT_LABELS = {
    "ready": _("ready"),
    "provisioning": _("starting"),
    "suspended": _("no environment (idle, removed)"),
    "unavailable": _("no environment (cluster unreachable)"),
    "none": _("no environment"),
}


CHECK_LABELS = {
    "pass": _("passes"),
    "fail": _("fails"),
    "inconclusive": _("could not check"),
}
TRIGGER_LABELS = {
    "button": _("the student pressed Check"),
    "watch": _("a change in the namespace"),
    "page": _("the student opened the lesson"),
    "instructor": _("an instructor graded the class"),
    "deadline": _("the deadline passed"),
    "regrade": _("an instructor regraded from the kept evidence"),
}


@register.filter
def check_label(status: str) -> str:
    return str(CHECK_LABELS.get(status, status))


@register.filter
def trigger_label(trigger: str) -> str:
    return str(TRIGGER_LABELS.get(trigger, trigger))


@register.filter
def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


@register.filter
def environment_label(status: str) -> str:
    return str(ENVIRONMENT_LABELS.get(status, status))


@register.filter
def percent(rate: float | None) -> str:
    return "-" if rate is None else f"{round(rate * 100)}%"


@register.filter
def get_item(mapping: Any, key: str) -> Any:
    return mapping.get(key) if mapping else None


@register.filter
def cell_worth(cell: Any, points: int) -> int:
    """What a gradebook cell earns of an exercise worth ``points`` (partial credit included)."""
    return int(cell.worth(points))
