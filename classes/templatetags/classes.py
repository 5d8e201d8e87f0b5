"""Template filters of the gradebook: status words and pass rates, translated."""

from __future__ import annotations

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


@register.filter
def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


@register.filter
def environment_label(status: str) -> str:
    return str(ENVIRONMENT_LABELS.get(status, status))


@register.filter
def percent(rate: float | None) -> str:
    return "-" if rate is None else f"{round(rate * 100)}%"
