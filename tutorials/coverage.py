"""Check that every heading of the study notes is taught by a section of some lesson.

The map lives in ``tutorials/coverage.yaml``: each heading of the notes, written as its path of
ancestor headings joined by `` > `` (``Pods > Health Checks > Liveness Probe``; the document's
one ``#`` title stands alone and is left out of the other paths), points at
``<chapter-slug>#<section-id>``. ``coverage_problems`` lists every heading that is not mapped,
every mapping to a section missing from the rendered chapter in any language, and every stale
entry whose heading is no longer in the notes. The notes themselves are vendored verbatim in
``tutorials/notes/`` so the check does not depend on anything outside the repository.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from tutorials.content_loader import LANGUAGES, Chapter
from tutorials.rendering import lesson_render

TUTORIALS_DIR = Path(__file__).resolve().parent
COVERAGE_FILE = TUTORIALS_DIR / "coverage.yaml"
NOTES_FILE = TUTORIALS_DIR / "notes" / "kubernetes-up-and-running-notes.md"

# The notes write some headings without a space after the hashes ("#####資源使用上限 limits");
# CommonMark would read those as paragraphs, but the author meant headings, so they count.
_HEADING_RE = re.compile(r"^(#{1,6})(?!#)\s*(.+?)\s*#*\s*$")
_FENCE_RE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_TARGET_RE = re.compile(r"^(?P<chapter>[a-z0-9-]+)#(?P<section>[a-z0-9-]+)$")
PATH_SEPARATOR = " > "


@dataclass(frozen=True)
class NotesHeading:
    """A heading of the notes with the path of headings above it."""

    level: int
    text: str
    path: str
    line: int


@dataclass(frozen=True)
class SectionRef:
    """Where a heading is taught: a chapter slug and a section id."""

    chapter: str
    section: str

    def __str__(self) -> str:
        return f"{self.chapter}#{self.section}"


def notes_headings(markdown: str) -> list[NotesHeading]:
    """Every heading of the notes (outside code fences), each with its ancestor path."""
    headings: list[NotesHeading] = []
    stack: list[tuple[int, str]] = []
    fence: str | None = None
    for number, line in enumerate(markdown.splitlines(), start=1):
        fence_match = _FENCE_RE.match(line)
        if fence_match:
            marker = fence_match.group(1)
            if fence is None:
                fence = marker[0] * 3
            elif marker.startswith(fence):
                fence = None
            continue
        if fence is not None:
            continue
        match = _HEADING_RE.match(line)
        if match is None:
            continue
        level, text = len(match.group(1)), match.group(2)
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, text))
        path = text if level == 1 else PATH_SEPARATOR.join(t for lvl, t in stack if lvl > 1)
        headings.append(NotesHeading(level=level, text=text, path=path, line=number))
    return headings


def coverage_load(path: Path = COVERAGE_FILE) -> dict[str, SectionRef]:
    """Read the coverage map; ``ValueError`` names the entry that is malformed."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("sections"), dict):
        raise ValueError(f"{path}: expected a mapping with a 'sections' mapping")
    result: dict[str, SectionRef] = {}
    for heading, target in data["sections"].items():
        match = _TARGET_RE.match(str(target))
        if match is None:
            raise ValueError(
                f"{path}: '{heading}' maps to '{target}', expected '<chapter-slug>#<section-id>'"
            )
        result[str(heading)] = SectionRef(match.group("chapter"), match.group("section"))
    return result


def coverage_problems(
    headings: Sequence[NotesHeading],
    coverage: Mapping[str, SectionRef],
    chapters: Sequence[Chapter],
) -> list[str]:
    """Human-readable problems; an empty list means every heading is taught somewhere."""
    section_ids = _rendered_section_ids(chapters)
    problems: list[str] = []
    paths = {heading.path for heading in headings}
    for heading in headings:
        target = coverage.get(heading.path)
        if target is None:
            problems.append(
                f"notes line {heading.line}: heading '{heading.path}' "
                "is not mapped to a lesson section"
            )
            continue
        for language in LANGUAGES:
            if target.section not in section_ids.get((target.chapter, language), set()):
                problems.append(
                    f"notes line {heading.line}: heading '{heading.path}' maps to {target}, "
                    f"which is not a section of the rendered {language} lesson"
                )
    for path in coverage:
        if path not in paths:
            problems.append(f"coverage entry '{path}' does not match any heading of the notes")
    return problems


def _rendered_section_ids(chapters: Sequence[Chapter]) -> dict[tuple[str, str], set[str]]:
    ids: dict[tuple[str, str], set[str]] = {}
    for chapter in chapters:
        for language, lesson in chapter.lessons.items():
            ids[(chapter.slug, language)] = {entry.id for entry in lesson_render(lesson).toc}
    return ids
