"""What an LTI launch says about its user, in kubelab's terms: the role its roles claim (or an
NRPS member's roles) gives, and the language its locale asks for. Pure."""

from __future__ import annotations

from collections.abc import Iterable

_MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
_TEACHING = {f"{_MEMBERSHIP}{name}" for name in ("Instructor", "Administrator", "ContentDeveloper")}
# Sub-roles of Instructor (TeachingAssistant, Grader...) teach too.
_TEACHING_SUB = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#"


def _full(role: str) -> str:
    # LTI allows the short forms ("Instructor") for context roles.
    return role if ("/" in role or "#" in role) else f"{_MEMBERSHIP}{role}"


def teaches(roles: Iterable[str]) -> bool:
    """Instructors, course administrators, content developers and their sub-roles (teaching
    assistants) are kubelab instructors of the class; everyone else (learners, mentors, guests,
    observers) is a student."""
    return any(
        (full := _full(str(role))) in _TEACHING or full.startswith(_TEACHING_SUB) for role in roles
    )


def language_for_locale(locale: str) -> str:
    """kubelab's language for a BCP 47 locale from the launch ("zh-TW", "zh-Hant-HK", "en-GB"),
    or "" when kubelab has none of it (the browser's own choice then stands). Simplified
    Chinese is not Traditional: a zh-CN reader keeps their browser's choice."""
    parts = locale.replace("_", "-").lower().split("-")
    if parts[0] == "en":
        return "en"
    if parts[0] == "zh" and ({"hant", "tw", "hk", "mo"} & set(parts[1:])):
        return "zh-hant"
    return ""
