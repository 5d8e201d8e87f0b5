"""Every exercise is met where it is taught: the chapter's lesson links it (`exercise:lab/id`) in
every language, so no exercise lives only in the side checklist (issue 20); and every such link
names an exercise that exists."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CONTENT = ROOT / "tutorials" / "content"
CATALOG = ROOT / "labs" / "catalog"
LINK = re.compile(r"\]\(exercise:([a-z0-9-]+/[a-z0-9-]+)\)")


def lessons_of(chapter: str) -> list[Path]:
    """The lesson files of the chapter a lab names (`chapter: jobs` -> 08-jobs/*.md)."""
    folders = [d for d in CONTENT.iterdir() if d.is_dir() and d.name.split("-", 1)[1] == chapter]
    assert len(folders) == 1, f"no single lesson folder for chapter {chapter!r}"
    return sorted(folders[0].glob("*.md"))


def catalog_exercises() -> dict[str, str]:
    """'lab/exercise' -> the chapter that teaches it."""
    found = {}
    for spec in sorted(CATALOG.glob("*/lab.yaml")):
        lab = yaml.safe_load(spec.read_text())
        for exercise in lab["exercises"]:
            found[f"{spec.parent.name}/{exercise['id']}"] = lab["chapter"]
    return found


def test_every_exercise_is_linked_from_its_lesson_in_every_language() -> None:
    missing = []
    for key, chapter in catalog_exercises().items():
        for lesson in lessons_of(chapter):
            if key not in LINK.findall(lesson.read_text()):
                missing.append(f"{lesson.relative_to(ROOT)}: no link to exercise:{key}")
    assert missing == []


def test_every_exercise_link_names_an_exercise() -> None:
    known = catalog_exercises()
    dangling = [
        f"{lesson.relative_to(ROOT)}: exercise:{key}"
        for lesson in sorted(CONTENT.glob("*/*.md"))
        for key in LINK.findall(lesson.read_text())
        if key not in known
    ]
    assert dangling == []
