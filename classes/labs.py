"""The labs of a class: the catalog's, and published versions of labs instructors wrote in the
studio (``Classroom.lab_versions`` names the version of each). Every part of classes that needs a
class's labs (the gradebook's columns, class grading, deadlines, the opened cell) reads them
here; and ``version_for_learner`` tells labs which version a learner's classes use."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Q
from django.utils.translation import gettext as _

from classes.models import Classroom
from labs.library import LabNotFound, catalog_get, is_catalog_lab, lab_resolve
from labs.models import LabVersion
from labs.selectors import text_for
from labs.spec import Lab

VERSION_SEPARATOR = "@"


class ClassLabError(ValueError):
    pass


def class_lab(classroom: Classroom, slug: str) -> Lab | None:
    """One lab of the class at the class's version; None when it is gone or not the class's."""
    if slug not in (classroom.labs or []):
        return None
    try:
        return lab_resolve(slug=slug, version=class_lab_version(classroom, slug))
    except LabNotFound:
        return None


def class_lab_version(classroom: Classroom, slug: str) -> int:
    return int((classroom.lab_versions or {}).get(slug, 0))


def class_labs(classroom: Classroom) -> list[tuple[str, Lab]]:
    """(slug, lab) of every lab of the class that can be read, in the class's order."""
    found = []
    for slug in classroom.labs or []:
        lab = class_lab(classroom, slug)
        if lab is not None:
            found.append((slug, lab))
    return found


def class_exercises(classroom: Classroom, *, lab: str = "") -> list[tuple[str, str]]:
    """(lab slug, exercise id) of every exercise of the class (or of one of its labs)."""
    return [
        (slug, exercise.id)
        for slug, found in class_labs(classroom)
        if not lab or slug == lab
        for exercise in found.exercises
    ]


def class_versions(classroom: Classroom) -> dict[str, int]:
    """The version of each authored lab of the class (what class grading grades against)."""
    return {
        slug: int(v) for slug, v in (classroom.lab_versions or {}).items() if slug in classroom.labs
    }


def version_for_learner(user_id: int, slug: str) -> int | None:
    """The version of an authored lab that a learner's classes use (the newest if several), or
    None when none of their classes has it. Registered with labs.library in ClassesConfig."""
    versions = [
        int((lab_versions or {}).get(slug, 0))
        for labs, lab_versions in Classroom.objects.filter(
            Q(enrollments__student_id=user_id) | Q(instructors__pk=user_id)
        )
        .distinct()
        .values_list("labs", "lab_versions")
        if slug in (labs or [])
    ]
    versions = [v for v in versions if v > 0]
    return max(versions) if versions else None


def lab_choices(*, user: Any, language: str, keep: Iterable[str] = ()) -> list[tuple[str, str]]:
    """The labs an instructor may give a class, as (value, label): every catalog lab, then each
    published version of the authored labs they write (``slug@n``), and whatever the class
    already has (``keep``), so saving its settings never drops a lab written by a colleague."""
    choices = [(slug, text_for(lab.title, language)) for slug, lab in catalog_get().labs.items()]
    kept = {value for value in keep}
    versions = (
        LabVersion.objects.filter(
            Q(lab__authors=user) | Q(lab__slug__in=[k.split(VERSION_SEPARATOR)[0] for k in kept])
        )
        .distinct()
        .select_related("lab")
        .order_by("lab__slug", "-number")
    )
    for version in versions:
        value = f"{version.lab.slug}{VERSION_SEPARATOR}{version.number}"
        label = _("%(title)s (written here, version %(number)s)") % {
            "title": text_for(version.title, language) or version.lab.slug,
            "number": version.number,
        }
        choices.append((value, label))
    return choices


def class_lab_values(classroom: Classroom) -> list[str]:
    """The class's labs as the form's values: ``slug`` or ``slug@version``."""
    versions = classroom.lab_versions or {}
    return [
        f"{slug}{VERSION_SEPARATOR}{versions[slug]}" if slug in versions else slug
        for slug in classroom.labs or []
    ]


def labs_parsed(
    values: Iterable[str], *, user: Any, classroom: Classroom | None = None
) -> tuple[list[str], dict[str, int]]:
    """Form values (``slug`` or ``slug@version``) as the class's lab list and versions;
    ClassLabError with a sentence for an unknown lab, a version that was never published, two
    versions of one lab, or a written lab that is neither the instructor's own nor already the
    class's."""
    labs: list[str] = []
    versions: dict[str, int] = {}
    had = set(classroom.labs or []) if classroom is not None else set()
    for value in values:
        slug, _sep, number = str(value).partition(VERSION_SEPARATOR)
        if is_catalog_lab(slug) and not number:
            if slug not in labs:
                labs.append(slug)
            continue
        published = LabVersion.objects.filter(
            lab__slug=slug, number=int(number) if number.isdigit() else -1
        )
        if slug not in had:
            published = published.filter(lab__authors=user)
        if not published.exists():
            raise ClassLabError(_("There is no lab “%(slug)s” in the catalog.") % {"slug": value})
        if slug in versions and versions[slug] != int(number):
            raise ClassLabError(_("Choose one version of “%(slug)s”, not two.") % {"slug": slug})
        versions[slug] = int(number)
        if slug not in labs:
            labs.append(slug)
    return labs, versions
