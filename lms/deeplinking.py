"""Deep linking: an instructor, sent by their LMS to pick content, chooses chapters, labs or
exercises from kubelab's catalog (and the labs they published in the studio); each becomes a
link in the course, a graded one with its gradebook column."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from lti_tool.models import LtiContext, LtiRegistration

from lms.launches import class_lab_add, course_class_for
from lms.protocol import LaunchRefused, Placement, deep_link_answer
from lms.targets import (
    Choice,
    TargetError,
    catalog_choices,
    target_parse,
)

DEEP_LINK_SESSION = "lms_deep_link"
MAX_PLACEMENTS = 50


class PlacementError(ValueError):
    """What the instructor chose cannot be placed; says why."""


def placements_answer(
    *, user: Any, pending: dict[str, Any], chosen: list[str], language: str, launch_url: str
) -> tuple[str, str]:
    """(return URL, signed JWT) placing what was chosen; only targets this instructor may see
    (the catalog's, their own published labs) are placed."""
    if not chosen:
        raise PlacementError(_("Choose at least one chapter, lab or exercise."))
    if len(chosen) > MAX_PLACEMENTS:
        raise PlacementError(_("Choose at most %(n)d at once.") % {"n": MAX_PLACEMENTS})
    offered: dict[str, Choice] = {}
    for chapter in catalog_choices(user=user, language=language):
        offered[str(chapter.chapter.target)] = chapter.chapter
        for lab, exercises in chapter.labs:
            offered.update((str(choice.target), choice) for choice in (lab, *exercises))
    picked = []
    for text in chosen:
        try:
            key = str(target_parse(text))
        except TargetError as exc:
            raise PlacementError(str(exc)) from None
        if key not in offered:
            raise PlacementError(_("%(key)s is not in the catalog you can place.") % {"key": key})
        picked.append(offered[key])
    registration = LtiRegistration.objects.filter(pk=pending.get("registration")).first()
    if registration is None:
        raise PlacementError(_("The LMS registration is gone; ask an administrator."))
    _class_labs(user, registration, pending, [c.target for c in picked])
    try:
        return deep_link_answer(
            registration=registration,
            deployment_id=str(pending.get("deployment_id") or ""),
            settings=dict(pending.get("settings") or {}),
            placements=[
                Placement(
                    title=f"kubelab: {c.title}",
                    target=str(c.target),
                    score_maximum=c.points,
                    label=f"kubelab: {c.title}",
                )
                for c in picked
            ],
            launch_url=launch_url,
        )
    except LaunchRefused as exc:
        raise PlacementError(str(exc)) from None


def _class_labs(
    user: Any, registration: LtiRegistration, pending: dict[str, Any], targets: list[Any]
) -> None:
    """The course's class gets each placed lab, so its gradebook has the column at once."""
    context = LtiContext.objects.filter(
        deployment__registration=registration,
        deployment__deployment_id=pending.get("deployment_id"),
        id_on_platform=pending.get("context") or "",
    ).first()
    if context is None:
        return
    classroom = course_class_for(context, user=user, instructor=True)
    if classroom is None:
        return
    for target in targets:
        if target.graded:
            class_lab_add(classroom, target, by=user)
