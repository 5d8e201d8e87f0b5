"""Check results in every supported language: the engine's message ids, translated here."""

from __future__ import annotations

from django.conf import settings
from django.utils import translation

from labs.checks import CheckOutcome


def check_message(outcome: CheckOutcome) -> dict[str, str]:
    """language code -> the learner's message (the author's own text is kept as written, and
    followed by what the engine found: "must declare containerPort 8080" alone does not say the
    Pod declares 80)."""
    if outcome.problem is None:
        if outcome.found is None:
            return dict(outcome.message)
        said: dict[str, str] = {}
        for code, text in outcome.message.items():
            with translation.override(code):
                found = outcome.found.render(translation.gettext)
                said[code] = translation.gettext("%(expected)s Found: %(found)s") % {
                    "expected": text,
                    "found": found,
                }
        return said
    rendered: dict[str, str] = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            rendered[code] = outcome.problem.render(translation.gettext)
    return rendered
