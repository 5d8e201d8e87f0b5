"""Every heading of the study notes is taught by a section that exists in both languages."""

from pathlib import Path

from tutorials.content_loader import chapters_load
from tutorials.coverage import (
    NOTES_FILE,
    SectionRef,
    coverage_load,
    coverage_problems,
    notes_headings,
)

REPO = Path(__file__).resolve().parents[2]
SHARED_NOTES = REPO.parent / "shared" / "seed" / "kubernetes-up-and-running-notes.md"


def test_every_heading_of_the_notes_is_taught() -> None:
    problems = coverage_problems(
        notes_headings(NOTES_FILE.read_text(encoding="utf-8")), coverage_load(), chapters_load()
    )
    assert not problems, "\n".join(problems)


def test_the_notes_have_all_the_headings_we_expect() -> None:
    headings = notes_headings(NOTES_FILE.read_text(encoding="utf-8"))
    paths = [heading.path for heading in headings]
    assert len(headings) == 91
    assert paths[0] == "Kubernetes up and running"
    assert "Pods > Health Checks > Resource Management > 資源使用上限 limits" in paths
    assert paths[-1] == "Reference"
    assert not any("kuard-pod.yaml" in path for path in paths), "a comment in a code block was read"


def test_vendored_notes_match_the_seed_when_it_is_present() -> None:
    if SHARED_NOTES.exists():
        assert NOTES_FILE.read_bytes() == SHARED_NOTES.read_bytes()


def test_heading_parser_handles_fences_paths_and_missing_spaces() -> None:
    text = (
        "# Book\n\n## Part\n\n```shell\n# not a heading\n```\n\n"
        "### Child\n\n#####Squashed\n\n## Other\n\n### Child\n"
    )
    assert [(h.level, h.path, h.line) for h in notes_headings(text)] == [
        (1, "Book", 1),
        (2, "Part", 3),
        (3, "Part > Child", 9),
        (5, "Part > Child > Squashed", 11),
        (2, "Other", 13),
        (3, "Other > Child", 15),
    ]


def test_problems_name_unmapped_missing_and_stale_entries() -> None:
    headings = notes_headings("# Book\n\n## Pods\n\n## Jobs\n")
    coverage = {
        "Book": SectionRef("verify-cluster", "about"),
        "Pods": SectionRef("pods", "no-such-section"),
        "Gone": SectionRef("jobs", "overview"),
    }
    problems = coverage_problems(headings, coverage, chapters_load())
    assert "notes line 5: heading 'Jobs' is not mapped to a lesson section" in problems
    assert (
        "notes line 3: heading 'Pods' maps to pods#no-such-section, "
        "which is not a section of the rendered en lesson"
    ) in problems
    assert "coverage entry 'Gone' does not match any heading of the notes" in problems
