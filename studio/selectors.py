"""Reads of the studio, and its one access check: a lab's draft, tests and versions are for its
authors only, and only instructors have a studio at all. Everyone else meets a 404, so whether a
lab exists never leaks."""

from __future__ import annotations

from typing import Any

from accounts.roles import Role, user_has_role
from labs.models import AuthoredLab, LabVersion
from studio.models import LabTest, LabTestStatus


class StudioNotFound(LookupError):
    pass


def studio_allowed(*, user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and user_has_role(
        user=user, role=Role.INSTRUCTOR
    )


def lab_get_for_author(*, user: Any, slug: str) -> AuthoredLab:
    """The lab if ``user`` is an instructor and one of its authors; StudioNotFound otherwise."""
    if not studio_allowed(user=user):
        raise StudioNotFound(slug)
    lab = AuthoredLab.objects.filter(slug=slug, authors=user).first()
    if lab is None:
        raise StudioNotFound(slug)
    return lab


def labs_of_author(*, user: Any) -> list[AuthoredLab]:
    if not studio_allowed(user=user):
        return []
    return list(AuthoredLab.objects.filter(authors=user).order_by("slug"))


def versions_of(*, lab: AuthoredLab) -> list[LabVersion]:
    return list(LabVersion.objects.filter(lab=lab).order_by("-number"))


def lab_test_latest(*, lab: AuthoredLab) -> LabTest | None:
    return LabTest.objects.filter(lab=lab).order_by("-created_at").first()


def lab_test_passed(*, lab: AuthoredLab, digest: str) -> LabTest | None:
    """A green test of exactly this content, if there is one: what publishing needs."""
    return (
        LabTest.objects.filter(lab=lab, digest=digest, status=LabTestStatus.PASSED)
        .order_by("-created_at")
        .first()
    )


def lab_test_get_for_author(*, user: Any, slug: str, test_id: int) -> LabTest:
    lab = lab_get_for_author(user=user, slug=slug)
    test = LabTest.objects.filter(pk=test_id, lab=lab).first()
    if test is None:
        raise StudioNotFound(test_id)
    return test
