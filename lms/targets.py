"""What a link placed in an LMS opens: a chapter, a lab or one exercise, written as the custom
parameter ``kubelab_target`` the link carries ("chapter:03-pods", "lab:pods",
"exercise:pods/create-pod"); the catalog an instructor picks from; and what each target is
worth in points."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from django.urls import reverse

from labs.library import LabNotFound, catalog_get, lab_resolve, lab_version_for
from labs.models import LabVersion
from labs.selectors import text_for
from labs.spec import Lab
from tutorials.selectors import chapter_find, course_chapters

CUSTOM_KEY = "kubelab_target"
_SLUG = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_PATTERN = re.compile(rf"^(chapter|lab):({_SLUG})$|^exercise:({_SLUG})/({_SLUG})$")

Kind = Literal["chapter", "lab", "exercise"]


class TargetError(ValueError):
    """The link names nothing kubelab has (or in a form it does not read); says which."""


@dataclass(frozen=True)
class Target:
    kind: Kind
    slug: str  # the chapter's or the lab's
    exercise: str = ""

    def __str__(self) -> str:
        if self.kind == "exercise":
            return f"exercise:{self.slug}/{self.exercise}"
        return f"{self.kind}:{self.slug}"

    @property
    def graded(self) -> bool:
        return self.kind != "chapter"


def target_parse(text: str) -> Target:
    match = _PATTERN.match((text or "").strip())
    if match is None:
        raise TargetError(
            f"“{text[:80]}” is not a kubelab target (chapter:…, lab:… or exercise:…/…)"
        )
    if match.group(3):
        return Target("exercise", match.group(3), match.group(4))
    kind: Kind = "chapter" if match.group(1) == "chapter" else "lab"
    return Target(kind, match.group(2))


@dataclass(frozen=True)
class Worth:
    lab: str
    exercises: tuple[str, ...]
    points: int
    title: str


def target_worth(target: Target, *, user: Any = None, language: str = "en") -> Worth | None:
    """The exercises a target grades and their points (None for a chapter). For a lab written
    in the studio, the version ``user`` works on (their class's); TargetError if it is gone."""
    if not target.graded:
        return None
    lab = _lab(target.slug, user=user)
    if target.kind == "lab":
        exercises = tuple(e.id for e in lab.exercises)
        return Worth(
            lab.slug,
            exercises,
            sum(e.points for e in lab.exercises),
            text_for(lab.title, language),
        )
    exercise = next((e for e in lab.exercises if e.id == target.exercise), None)
    if exercise is None:
        raise TargetError(f"the lab {target.slug} has no exercise {target.exercise}")
    return Worth(lab.slug, (exercise.id,), exercise.points, text_for(exercise.title, language))


def _lab(slug: str, *, user: Any) -> Lab:
    version = lab_version_for(user=user, slug=slug) if user is not None else None
    try:
        if version is not None:
            return lab_resolve(slug=slug, version=version)
        if slug in catalog_get().labs:
            return lab_resolve(slug=slug)
        newest = newest_version(slug)
        if newest is None:
            raise TargetError(f"kubelab has no lab {slug}")
        return lab_resolve(slug=slug, version=newest)
    except LabNotFound:
        raise TargetError(f"kubelab has no lab {slug}") from None


def newest_version(slug: str) -> int | None:
    """The newest published version of a lab written in the studio, if it has one."""
    numbers = LabVersion.objects.filter(lab__slug=slug).order_by("-number")
    return numbers.values_list("number", flat=True).first()


def target_check(target: Target) -> None:
    """TargetError unless the target exists (a chapter of the course, a lab, an exercise)."""
    if target.kind == "chapter":
        if chapter_find(target.slug) is None:
            raise TargetError(f"the course has no chapter {target.slug}")
        return
    target_worth(target)


def target_path(target: Target, *, user: Any = None) -> str:
    """Where a learner lands: the chapter page, with the lab's or the exercise's checklist."""
    if target.kind == "chapter":
        return reverse("tutorials:chapter", args=[target.slug])
    if target.kind == "exercise":
        return reverse("labs:exercise", args=[target.slug, target.exercise])
    first = _lab(target.slug, user=user).exercises[0].id
    return reverse("labs:exercise", args=[target.slug, first])


@dataclass(frozen=True)
class Choice:
    target: Target
    title: str
    points: int  # 0 for a chapter: it has no gradebook column


@dataclass(frozen=True)
class ChapterChoices:
    chapter: Choice
    labs: list[tuple[Choice, list[Choice]]]  # each lab, then its exercises


def catalog_choices(*, user: Any, language: str) -> list[ChapterChoices]:
    """Everything an instructor may place in their LMS: every chapter, the catalog's labs and
    exercises under their chapters, and the published labs they wrote in the studio."""
    labs: dict[str, list[Lab]] = {}
    for lab in catalog_get().labs.values():
        labs.setdefault(lab.chapter, []).append(lab)
    for slug, number in _own_published(user):
        lab = lab_resolve(slug=slug, version=number)
        labs.setdefault(lab.chapter, []).append(lab)
    result = []
    for chapter in course_chapters():
        lesson = chapter.lesson(language)
        entries = []
        for lab in sorted(labs.get(chapter.slug, []), key=lambda lab: (lab.order, lab.slug)):
            lab_choice = Choice(
                Target("lab", lab.slug),
                text_for(lab.title, language),
                sum(e.points for e in lab.exercises),
            )
            exercises = [
                Choice(Target("exercise", lab.slug, e.id), text_for(e.title, language), e.points)
                for e in lab.exercises
            ]
            entries.append((lab_choice, exercises))
        result.append(
            ChapterChoices(Choice(Target("chapter", chapter.slug), lesson.title, 0), entries)
        )
    return result


def _own_published(user: Any) -> list[tuple[str, int]]:
    """(slug, newest version) of each published lab ``user`` is an author of."""
    newest: dict[str, int] = {}
    rows = LabVersion.objects.filter(lab__authors=user).values_list("lab__slug", "number")
    for slug, number in rows:
        newest[slug] = max(number, newest.get(slug, 0))
    return sorted(newest.items())
