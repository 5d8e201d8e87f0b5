"""The namespace picture in words: each object's one-line summary, in the reader's language.
One picture goes to the learner and to the instructors watching; each socket words it."""

from __future__ import annotations

from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext


def _pod_summary(facts: dict[str, Any]) -> str:
    if facts.get("deleting"):
        return _("being deleted")
    phase = str(facts.get("phase") or "")
    waiting = str(facts.get("waiting") or "")
    phases = {
        "Pending": _("Pending"),
        "Running": _("Running"),
        "Succeeded": _("Succeeded"),
        "Failed": _("Failed"),
    }
    text = phases.get(phase, phase)
    if waiting:
        text = f"{text} ({waiting})"
    if phase == "Running":
        text = (
            _("%(phase)s, ready") % {"phase": text}
            if facts.get("ready")
            else (_("%(phase)s, not ready") % {"phase": text})
        )
    restarts = int(facts.get("restarts") or 0)
    if restarts:
        text += ", " + ngettext("%(n)d restart", "%(n)d restarts", restarts) % {"n": restarts}
    return text


def summary(kind: str, facts: dict[str, Any]) -> str:
    if kind == "Pod":
        return _pod_summary(facts)
    if kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"):
        return _("%(ready)d/%(desired)d ready") % facts
    if kind == "Job":
        text = _("%(succeeded)d/%(completions)d completions") % facts
        if facts.get("failed"):
            text += ", " + _("%(failed)d failed") % facts
        return text
    if kind == "CronJob":
        text = _("schedule %(schedule)s") % facts
        if facts.get("suspended"):
            text += ", " + _("suspended")
        if facts.get("active"):
            text += ", " + ngettext("%(n)d running", "%(n)d running", facts["active"]) % {
                "n": facts["active"]
            }
        return text
    if kind == "Service":
        ports = " ".join(facts.get("ports") or ()) or _("no ports")
        return f"{facts.get('type', 'ClusterIP')} {ports}"
    if kind == "ConfigMap":
        keys = int(facts.get("keys") or 0)
        return ngettext("%(n)d key", "%(n)d keys", keys) % {"n": keys}
    return ""


def picture_worded(picture: dict[str, Any], *, language: str) -> dict[str, Any]:
    """A copy of the picture with every object's summary in `language`."""
    with translation.override(language):
        objects = [
            {**obj, "summary": summary(str(obj["kind"]), dict(obj.get("facts") or {}))}
            for obj in picture.get("objects") or ()
        ]
    return {**picture, "objects": objects}


def picture_unavailable(reason: str) -> dict[str, Any]:
    return {"type": "picture.unavailable", "reason": reason}
