"""Check results in every supported language: the engine's message ids, translated here."""

from __future__ import annotations

from django.conf import settings
from django.utils import translation

from labs.checks import CheckOutcome


def check_message(outcome: CheckOutcome) -> dict[str, str]:
    """language code -> the learner's message (the author's own text is kept as written)."""
    if outcome.problem is None:
        return dict(outcome.message)
    rendered: dict[str, str] = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            rendered[code] = outcome.problem.render(translation.gettext)
    return rendered
