"""Every heading of the study notes has something to practise, or says why it cannot (issue 20):
tutorials/practice.yaml names real, linked exercises, or a reason a learner would accept."""

from __future__ import annotations

from pathlib import Path

import pytest

from labs.spec import catalog_load
from tutorials.content_loader import chapters_load
from tutorials.coverage import NOTES_FILE, notes_headings
from tutorials.practice import Practice, practice_load, practice_problems

# The bar for the catalog.
MIN_EXERCISES = 45


def _linked() -> set[str]:
    return {exercise for chapter in chapters_load() for exercise in chapter.exercises}


def test_every_heading_is_practised_or_says_why_not() -> None:
    headings = notes_headings(NOTES_FILE.read_text(encoding="utf-8"))
    ids = set(catalog_load().exercise_ids())
    problems = practice_problems(headings, practice_load(), ids, _linked())
    assert not problems, "\n".join(problems)


def test_most_sections_have_an_exercise_and_the_catalog_is_deep_enough() -> None:
    practice = practice_load()
    practised = [p for p in practice.values() if p.exercises]
    # Reasons are for what truly cannot run here, not a way out of writing exercises.
    assert len(practised) >= 0.8 * len(practice), f"{len(practised)} of {len(practice)}"
    assert len(catalog_load().exercise_ids()) >= MIN_EXERCISES


def test_problems_name_missing_unknown_unlinked_vague_and_stale_entries(tmp_path: Path) -> None:
    headings = notes_headings("# Book\n\n## Pods\n\n## Jobs\n\n## Gone soon\n")
    practice = {
        "Book": Practice(why="ok"),
        "Pods": Practice(exercises=("pods/kuard-pod", "pods/nope")),
        "Jobs": Practice(exercises=("jobs/unlinked",)),
        "Stale": Practice(exercises=("pods/kuard-pod",)),
    }
    problems = practice_problems(
        headings, practice, {"pods/kuard-pod", "jobs/unlinked"}, {"pods/kuard-pod"}
    )
    assert problems == [
        "'Book': the reason is too short to tell a learner why",
        "'Pods': no exercise pods/nope in the catalog",
        "'Jobs': jobs/unlinked is not linked from any lesson",
        "notes line 7: 'Gone soon' has no practice entry",
        "practice entry 'Stale' does not match any heading of the notes",
    ]


@pytest.mark.parametrize(
    "text",
    ["practice: {A: []}\n", "practice: {A: {why: 1}}\n", "practice: {A: {reason: x}}\n", "x: 1\n"],
)
def test_malformed_entries_are_refused_with_the_heading(tmp_path: Path, text: str) -> None:
    path = tmp_path / "practice.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match="practice"):
        practice_load(path)
