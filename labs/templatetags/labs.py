"""Template tags for the lesson page's exercise checklist (templates/labs/_checklist.html)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django import template
from django.contrib.auth.models import AnonymousUser
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from labs.library import authored_labs_for_chapter
from labs.selectors import LabChecklist, lab_checklists

register = template.Library()


@register.simple_tag(takes_context=True)
def labs_checklists(
    context: dict[str, Any], exercise_ids: Iterable[str], chapter: str = ""
) -> list[LabChecklist]:
    """The checklists of the labs these exercise ids (a lesson's front matter) belong to, then
    those of the labs instructors wrote for this chapter that the learner's classes use."""
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user") or AnonymousUser()
    authored = authored_labs_for_chapter(user=user, chapter=chapter) if chapter else []
    return lab_checklists(
        user=user, exercise_ids=exercise_ids or (), language=get_language(), authored=authored
    )


_CODE = re.compile(r"`([^`]+)`")


@register.filter
def inline_code(text: str) -> SafeString:
    """Escape text, then show `backticked` parts as code (check messages are plain text)."""
    return mark_safe(_CODE.sub(r"<code>\1</code>", escape(text)))  # noqa: S308 - escaped first
