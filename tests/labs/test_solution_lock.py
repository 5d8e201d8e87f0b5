"""The solution lock's rule, held over the whole catalog: the lock protects only what the lesson
does not already show. An exercise whose every solution file and command appears in its
chapter's text shows its solution from the start (`solution_policy: {show: always}`); every
other exercise keeps its lab's lock, and the page says exactly when it opens."""

from __future__ import annotations

from pathlib import Path

import pytest

from labs.spec import Exercise, Lab, catalog_load
from tutorials.content_loader import CONTENT_DIR

CATALOG = catalog_load()


def _lines(text: str) -> str:
    """Text as its non-blank, non-comment lines, stripped: a manifest in a Markdown code block
    and the same file in files/ compare equal despite indentation and comments."""
    kept = (line.strip() for line in text.splitlines())
    return "\n".join(line for line in kept if line and not line.startswith("#"))


def _chapter_text(lab: Lab) -> str:
    folders = [d for d in CONTENT_DIR.iterdir() if d.name.split("-", 1)[-1] == lab.chapter]
    assert folders, f"lab {lab.slug} names chapter {lab.chapter}, which has no folder"
    return "\n".join((d / "en.md").read_text(encoding="utf-8") for d in folders)


def lesson_shows_solution(lab: Lab, exercise: Exercise, chapter: str) -> bool:
    shown_lines, shown_words = _lines(chapter), " ".join(chapter.split())
    files = all(_lines(lab.files.get(name, "")) in shown_lines for name in exercise.solution.files)
    commands = all(" ".join(c.split()) in shown_words for c in exercise.solution.commands)
    return files and commands


CASES = [(lab, exercise) for lab in CATALOG.labs.values() for exercise in lab.exercises]


@pytest.mark.parametrize(
    ("lab", "exercise"), CASES, ids=[f"{lab.slug}/{ex.id}" for lab, ex in CASES]
)
def test_the_lock_protects_only_what_the_lesson_does_not_show(lab: Lab, exercise: Exercise) -> None:
    shown = lesson_shows_solution(lab, exercise, _chapter_text(lab))
    policy = lab.policy_for(exercise).show
    where = f"labs/catalog/{lab.slug}/lab.yaml, exercise {exercise.id}"
    if shown:
        assert policy == "always", (
            f"{where}: the chapter already shows its whole solution, so a lock protects "
            "nothing; give the exercise `solution_policy: {show: always}`"
        )
    else:
        assert policy != "always" or exercise.solution_policy is None, (
            f"{where}: says `show: always` but the chapter does not show its solution"
        )


def test_the_rule_sees_a_solution_the_lesson_does_not_show() -> None:
    """The comparison is not vacuous: a changed manifest is no longer 'shown'."""
    lab = CATALOG.lab("pods")
    exercise = next(e for e in lab.exercises if e.id == "kuard-pod")
    chapter = _chapter_text(lab)
    assert lesson_shows_solution(lab, exercise, chapter)
    name = exercise.solution.files[0]
    changed = lab.model_copy(
        update={"files": {**lab.files, name: lab.files[name].replace("8080", "8181")}}
    )
    assert not lesson_shows_solution(changed, exercise, chapter)
    assert Path(CONTENT_DIR).is_dir()
