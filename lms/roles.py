"""Which kubelab role an LTI roles claim (or an NRPS member's roles) gives: pure."""

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
