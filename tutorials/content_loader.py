"""Load and validate the tutorial chapters (Markdown lessons with YAML front matter) from disk.

This module is pure: it imports neither Django nor ``kubernetes``. Views, the renderer and the
command runner build on what it returns.

API
---
``chapters_load(content_dir=None) -> list[Chapter]``
    Every chapter, sorted by ``order``. Raises ``ContentError`` on the first broken file; the
    message names the file, the line and the problem, e.g.
    ``tutorials/content/03-pods/en.md:4: front matter field 'order' must be an integer``.
``chapter_load(slug, content_dir=None) -> Chapter``
    One chapter by slug (``pods``), validated the same way.
``Chapter.lesson(language) -> Lesson``
    The lesson in ``en`` or ``zh-hant`` (unknown languages fall back to English).

Authoring conventions
---------------------
Layout
    ``tutorials/content/<NN>-<slug>/en.md`` and ``zh-hant.md``. ``NN`` is the two-digit chapter
    number and must equal the front matter's ``order``; ``<slug>`` (e.g. ``pods``) is the
    chapter's id in URLs, exercise ids and the coverage map.
Front matter
    A YAML mapping between ``---`` lines at the very top: ``title`` (text), ``summary`` (text),
    ``order`` (integer) and ``exercises`` (list of lab ids ``<chapter>/<name>``, may be empty).
    Both languages must agree on ``order`` and ``exercises``.
Headings
    The title comes from the front matter, so the body starts at ``##``. Every ``##`` to
    ``####`` heading ends with an explicit, language-neutral id: ``## Liveness probes {#liveness}``.
    Both languages must use the same ids in the same order at the same levels, so links, the table
    of contents and the coverage map work in either language.
Code fences
    The info string is ``<kind> [flag ...]``. Kinds: ``shell`` (commands the learner types),
    ``text`` (expected output), ``yaml``, ``json``. Shell blocks hold commands only: no ``$ ``
    prompt, no comments (explain in the prose; both languages must show identical commands) and
    output goes in a separate ``text`` block. Flags, allowed on ``shell`` only:

    ``illustrative``
        Not meant for this cluster: cluster-scoped, needs real containers or networking, or runs
        on another machine. Rendered with a badge and a Copy button, no "Run in terminal" button,
        and never run by the automated command test.
    ``interactive``
        Meant for the learner, but needs a human: it opens an editor (``kubectl edit``) or keeps
        running until Ctrl-C (``--watch``). Rendered with "Run in terminal"; an automated runner
        must give it a non-interactive editor or a timeout, or skip it.

    Example: a fence opened with three backticks followed by ``shell illustrative``.
Callouts
    A blockquote whose first line is ``[!KIND]``, optionally followed by a title, e.g.
    ``> [!THEN-AND-NOW]``. Kinds: ``THEN-AND-NOW`` (the book's form versus today's),
    ``SIMULATED`` (what this cluster fakes and what a real one would do), ``TRY-IT`` (points at an
    exercise), ``NOTE``, ``WARNING``.
Exercise links
    ``[text](exercise:pods/kuard-pod)``; the id must be listed in the front matter's
    ``exercises``. The renderer turns it into a link to the lab.
Picture links
    ``[watch it in the namespace picture](picture:)``, with nothing after the colon (and no
    title). The renderer turns it into a link that opens the workbench's "Namespace picture" tab.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import yaml
from markdown_it.token import Token
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from tutorials.dialect import (
    callout_marker,
    exercise_link_id,
    fence_info_parse,
    heading_split,
    markdown_parser,
    picture_link_target,
)
from tutorials.yamlpos import error_line, path_line

LANGUAGES: tuple[str, ...] = ("en", "zh-hant")
DEFAULT_LANGUAGE = "en"
CONTENT_DIR = Path(__file__).resolve().parent / "content"

FENCE_KINDS = frozenset({"shell", "text", "yaml", "json"})
SHELL_FLAGS = frozenset({"illustrative", "interactive"})
CALLOUT_KINDS = frozenset({"THEN-AND-NOW", "SIMULATED", "TRY-IT", "NOTE", "WARNING"})

EXERCISE_ID_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*/[a-z0-9]+(?:-[a-z0-9]+)*$"
SECTION_ID_PATTERN = r"[a-z0-9]+(?:-[a-z0-9]+)*"

_CHAPTER_DIR_RE = re.compile(r"^(\d{2})-([a-z0-9]+(?:-[a-z0-9]+)*)$")
# The front matter's text starts on the file's second line, below the opening `---`.
_FRONT_MATTER_FIRST_LINE = 2


class ContentError(Exception):
    """A lesson file is broken; the message says which file, which line and what is wrong."""

    def __init__(self, path: Path, line: int | None, problem: str) -> None:
        self.path = path
        self.line = line
        self.problem = problem
        where = _display_path(path) if line is None else f"{_display_path(path)}:{line}"
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True)
class Heading:
    """A section heading of a lesson body (``##`` to ``####``)."""

    level: int
    id: str
    text: str
    line: int


@dataclass(frozen=True)
class CodeBlock:
    """A fenced code block; ``line`` is the line of its opening fence in the source file."""

    kind: str
    flags: frozenset[str]
    code: str
    line: int

    @property
    def illustrative(self) -> bool:
        return "illustrative" in self.flags

    @property
    def interactive(self) -> bool:
        return "interactive" in self.flags


@dataclass(frozen=True)
class Lesson:
    """One chapter in one language, validated but not yet rendered."""

    chapter_slug: str
    language: str
    title: str
    summary: str
    order: int
    exercises: tuple[str, ...]
    body_markdown: str
    body_first_line: int
    headings: tuple[Heading, ...]
    code_blocks: tuple[CodeBlock, ...]
    source: Path


@dataclass(frozen=True)
class Chapter:
    """A chapter with its lessons keyed by language code (``en``, ``zh-hant``)."""

    slug: str
    order: int
    directory: Path
    lessons: Mapping[str, Lesson] = field(default_factory=dict)

    @property
    def exercises(self) -> tuple[str, ...]:
        return self.lessons[DEFAULT_LANGUAGE].exercises

    def lesson(self, language: str) -> Lesson:
        return self.lessons.get(language) or self.lessons[DEFAULT_LANGUAGE]


ExerciseId = Annotated[str, StringConstraints(pattern=EXERCISE_ID_PATTERN)]


class FrontMatter(BaseModel):
    """The YAML header of a lesson file."""

    model_config = ConfigDict(extra="forbid", strict=True)

    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    summary: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    order: Annotated[int, Field(ge=1, le=99)]
    exercises: list[ExerciseId] = Field(default_factory=list)


def chapters_load(content_dir: Path | None = None) -> list[Chapter]:
    """Load, validate and cross-check every chapter under ``content_dir``, sorted by order."""
    root = content_dir or CONTENT_DIR
    if not root.is_dir():
        raise ContentError(root, None, "content directory does not exist")
    chapters = [_chapter_read(path) for path in sorted(root.iterdir()) if _is_chapter_dir(path)]
    if not chapters:
        raise ContentError(
            root, None, "no chapter folders (expected names like '01-verify-cluster')"
        )
    seen: dict[int, Chapter] = {}
    for chapter in chapters:
        if chapter.order in seen:
            other = seen[chapter.order]
            raise ContentError(
                chapter.directory,
                None,
                f"chapter number {chapter.order:02d} is also used by '{other.directory.name}'",
            )
        seen[chapter.order] = chapter
    return sorted(chapters, key=lambda chapter: chapter.order)


def chapter_load(slug: str, content_dir: Path | None = None) -> Chapter:
    """Load one chapter by its slug (``pods``); ``KeyError`` if there is none."""
    root = content_dir or CONTENT_DIR
    for path in sorted(root.iterdir()):
        match = _CHAPTER_DIR_RE.match(path.name)
        if path.is_dir() and match and match.group(2) == slug:
            return _chapter_read(path)
    raise KeyError(f"no chapter '{slug}' under {_display_path(root)}")


def lesson_parse(text: str, *, source: Path, chapter_slug: str, language: str) -> Lesson:
    """Parse and validate one lesson file's text; ``source`` is only used in error messages."""
    front, body, body_first_line = _front_matter_split(text, source)
    meta = _front_matter_validate(front, source)
    tokens = markdown_parser().parse(body)
    headings = _headings_collect(tokens, source, body_first_line)
    code_blocks = _code_blocks_collect(tokens, source, body_first_line)
    _callouts_check(tokens, source, body_first_line)
    _exercise_links_check(tokens, meta.exercises, source, body_first_line)
    _picture_links_check(tokens, source, body_first_line)
    return Lesson(
        chapter_slug=chapter_slug,
        language=language,
        title=meta.title,
        summary=meta.summary,
        order=meta.order,
        exercises=tuple(meta.exercises),
        body_markdown=body,
        body_first_line=body_first_line,
        headings=headings,
        code_blocks=code_blocks,
        source=source,
    )


def _is_chapter_dir(path: Path) -> bool:
    if not path.is_dir() or path.name.startswith((".", "_")):
        return False
    if _CHAPTER_DIR_RE.match(path.name) is None:
        raise ContentError(
            path, None, "chapter folder name must look like 'NN-slug', e.g. '03-pods'"
        )
    return True


def _chapter_read(directory: Path) -> Chapter:
    match = _CHAPTER_DIR_RE.match(directory.name)
    if match is None:
        raise ContentError(directory, None, "chapter folder name must look like 'NN-slug'")
    number, slug = int(match.group(1)), match.group(2)
    lessons: dict[str, Lesson] = {}
    for language in LANGUAGES:
        path = directory / f"{language}.md"
        if not path.is_file():
            raise ContentError(path, None, f"missing the {language} lesson of chapter '{slug}'")
        text = path.read_text(encoding="utf-8")
        lesson = lesson_parse(text, source=path, chapter_slug=slug, language=language)
        if lesson.order != number:
            raise ContentError(
                path,
                _front_matter_line(text, "order"),
                f"front matter field 'order' is {lesson.order} "
                f"but the folder is numbered {number:02d}",
            )
        lessons[language] = lesson
    extra = sorted(p.name for p in directory.glob("*.md") if p.stem not in LANGUAGES)
    if extra:
        raise ContentError(
            directory / extra[0],
            None,
            f"unknown language file (expected one of: {', '.join(LANGUAGES)})",
        )
    _languages_agree(lessons)
    return Chapter(slug=slug, order=number, directory=directory, lessons=lessons)


def _languages_agree(lessons: Mapping[str, Lesson]) -> None:
    reference = lessons[DEFAULT_LANGUAGE]
    for lesson in lessons.values():
        if lesson is reference:
            continue
        text = lesson.source.read_text(encoding="utf-8")
        if lesson.exercises != reference.exercises:
            raise ContentError(
                lesson.source,
                _front_matter_line(text, "exercises"),
                f"exercises {list(lesson.exercises)} differ from the {DEFAULT_LANGUAGE} lesson's "
                f"{list(reference.exercises)}",
            )
        ours = [(h.level, h.id) for h in lesson.headings]
        theirs = [(h.level, h.id) for h in reference.headings]
        if ours != theirs:
            line, problem = _first_difference_headings(lesson.headings, reference.headings)
            raise ContentError(lesson.source, line, problem)
        our_shell = [b for b in lesson.code_blocks if b.kind == "shell"]
        their_shell = [b for b in reference.code_blocks if b.kind == "shell"]
        for index, (mine, other) in enumerate(zip(our_shell, their_shell, strict=False)):
            if (mine.code, mine.flags) != (other.code, other.flags):
                raise ContentError(
                    lesson.source,
                    mine.line,
                    f"shell block {index + 1} differs from the {DEFAULT_LANGUAGE} lesson's "
                    f"block at line {other.line}; commands must be identical in every language",
                )
        if len(our_shell) != len(their_shell):
            raise ContentError(
                lesson.source,
                None,
                f"{len(our_shell)} shell blocks but the {DEFAULT_LANGUAGE} lesson "
                f"has {len(their_shell)}",
            )


def _first_difference_headings(
    ours: Sequence[Heading], theirs: Sequence[Heading]
) -> tuple[int | None, str]:
    for mine, other in zip(ours, theirs, strict=False):
        if (mine.level, mine.id) != (other.level, other.id):
            return (
                mine.line,
                f"heading {'#' * mine.level} {{#{mine.id}}} does not match the "
                f"{DEFAULT_LANGUAGE} lesson's {'#' * other.level} {{#{other.id}}} at line "
                f"{other.line}; both languages need the same section ids in the same order",
            )
    if len(ours) > len(theirs):
        extra = ours[len(theirs)]
        return (
            extra.line,
            f"heading {{#{extra.id}}} has no counterpart in the {DEFAULT_LANGUAGE} lesson",
        )
    missing = theirs[len(ours)]
    return (
        None,
        f"missing heading {{#{missing.id}}} (line {missing.line} of the {DEFAULT_LANGUAGE} lesson)",
    )


def _front_matter_split(text: str, source: Path) -> tuple[str, str, int]:
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip("\r\n") != "---":
        raise ContentError(
            source, 1, "file must start with a '---' line opening the YAML front matter"
        )
    for index in range(1, len(lines)):
        if lines[index].rstrip("\r\n") == "---":
            front = "".join(lines[1:index])
            body = "".join(lines[index + 1 :])
            return front, body, index + 2
    raise ContentError(source, 1, "front matter is not closed by a second '---' line")


def _front_matter_validate(front: str, source: Path) -> FrontMatter:
    try:
        node = yaml.compose(front, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(front)
    except yaml.MarkedYAMLError as error:
        raise ContentError(
            source,
            error_line(error, first_line=_FRONT_MATTER_FIRST_LINE) or 1,
            f"front matter is not valid YAML: {error.problem}",
        ) from error
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        raise ContentError(
            source, 1, "front matter must be a YAML mapping (title, summary, order, exercises)"
        )
    try:
        return FrontMatter.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        # An error the document cannot place (a missing field) points at the opening `---`.
        line = path_line(node, first["loc"], first_line=_FRONT_MATTER_FIRST_LINE, default=1)
        raise ContentError(source, line, _error_problem(first)) from error


_TYPE_NAMES = {
    "int_type": "an integer",
    "string_type": "text",
    "list_type": "a list",
}


def _error_problem(error: Mapping[str, Any]) -> str:
    loc = error["loc"]
    name = str(loc[0]) if loc else "?"
    kind = error["type"]
    if kind == "missing":
        return f"front matter is missing required field '{name}'"
    if kind == "extra_forbidden":
        allowed = ", ".join(FrontMatter.model_fields)
        return f"front matter has unknown field '{name}' (allowed: {allowed})"
    if kind in _TYPE_NAMES:
        where = f"field '{name}'" if len(loc) == 1 else f"field '{name}' item {int(loc[1]) + 1}"
        return f"front matter {where} must be {_TYPE_NAMES[kind]}"
    if kind == "string_pattern_mismatch" and name == "exercises":
        return (
            f"front matter field 'exercises' item {int(loc[1]) + 1} ({error['input']!r}) is not "
            "an exercise id like 'pods/kuard-pod' (lowercase letters, digits and hyphens, "
            "one slash)"
        )
    if kind == "string_too_short":
        return f"front matter field '{name}' must not be empty"
    return f"front matter field '{name}': {error['msg']}"


def _front_matter_line(text: str, key: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith(f"{key}:"):
            return number
        if number > 1 and line == "---":
            return None
    return None


def _token_line(token: Token, body_first_line: int) -> int:
    return (token.map[0] if token.map else 0) + body_first_line


def _headings_collect(
    tokens: Sequence[Token], source: Path, body_first_line: int
) -> tuple[Heading, ...]:
    headings: list[Heading] = []
    seen: dict[str, int] = {}
    id_pattern = re.compile(rf"^{SECTION_ID_PATTERN}$")
    for index, token in enumerate(tokens):
        if token.type != "heading_open":
            continue
        line = _token_line(token, body_first_line)
        level = int(token.tag[1])
        if level == 1:
            raise ContentError(
                source, line, "'#' headings are not allowed: the title comes from the front matter"
            )
        if level > 4:
            raise ContentError(
                source, line, f"'{'#' * level}' headings are too deep; use '##' to '####'"
            )
        text, heading_id = heading_split(tokens[index + 1].content)
        if heading_id is None:
            raise ContentError(
                source, line, f"heading '{text}' needs an explicit id, e.g. '{{#some-id}}'"
            )
        if not id_pattern.match(heading_id):
            raise ContentError(
                source,
                line,
                f"heading id '{heading_id}' must be lowercase letters, digits and single hyphens",
            )
        if heading_id in seen:
            raise ContentError(
                source,
                line,
                f"heading id '{heading_id}' is already used at line {seen[heading_id]}",
            )
        seen[heading_id] = line
        if not text:
            raise ContentError(source, line, "heading has an id but no text")
        headings.append(Heading(level=level, id=heading_id, text=text, line=line))
    return tuple(headings)


def _code_blocks_collect(
    tokens: Sequence[Token], source: Path, body_first_line: int
) -> tuple[CodeBlock, ...]:
    blocks: list[CodeBlock] = []
    for token in tokens:
        if token.type == "code_block":
            raise ContentError(
                source,
                _token_line(token, body_first_line),
                "indented code blocks are not allowed; use a ``` fence",
            )
        if token.type != "fence":
            continue
        line = _token_line(token, body_first_line)
        kind, flags = fence_info_parse(token.info)
        if kind not in FENCE_KINDS:
            shown = kind or "(none)"
            raise ContentError(
                source,
                line,
                f"code fence kind '{shown}' is not one of: {', '.join(sorted(FENCE_KINDS))}",
            )
        unknown = flags - SHELL_FLAGS if kind == "shell" else flags
        if unknown:
            allowed = ", ".join(sorted(SHELL_FLAGS)) if kind == "shell" else "none"
            raise ContentError(
                source,
                line,
                f"unknown code fence flag '{sorted(unknown)[0]}' on '{kind}' (allowed: {allowed})",
            )
        if {"illustrative", "interactive"} <= flags:
            raise ContentError(
                source, line, "a shell block is either 'illustrative' or 'interactive', not both"
            )
        if kind == "shell":
            _shell_block_check(token.content, source, line)
        blocks.append(CodeBlock(kind=kind, flags=flags, code=token.content.rstrip("\n"), line=line))
    return tuple(blocks)


def _shell_block_check(code: str, source: Path, fence_line: int) -> None:
    if not code.strip():
        raise ContentError(source, fence_line, "shell block is empty")
    in_heredoc: str | None = None
    for offset, raw in enumerate(code.splitlines(), start=1):
        line = fence_line + offset
        if in_heredoc is not None:
            if raw.strip() == in_heredoc:
                in_heredoc = None
            continue
        stripped = raw.strip()
        if stripped.startswith("$ "):
            raise ContentError(
                source,
                line,
                "shell blocks hold commands without a '$ ' prompt; put output in a ```text block",
            )
        if stripped.startswith("#"):
            raise ContentError(
                source,
                line,
                "shell blocks hold no comments (both languages must show identical commands)",
            )
        heredoc = re.search(r"<<-?\s*(['\"]?)([A-Za-z_]+)\1", raw)
        if heredoc:
            in_heredoc = heredoc.group(2)
    if in_heredoc is not None:
        raise ContentError(source, fence_line, f"heredoc is not closed by a '{in_heredoc}' line")


def _callouts_check(tokens: Sequence[Token], source: Path, body_first_line: int) -> None:
    for index, token in enumerate(tokens):
        if token.type != "blockquote_open":
            continue
        if index + 2 >= len(tokens) or tokens[index + 1].type != "paragraph_open":
            continue
        first_line = tokens[index + 2].content.split("\n", 1)[0]
        marker = callout_marker(first_line)
        if marker is None and first_line.startswith("[!"):
            raise ContentError(
                source,
                _token_line(token, body_first_line),
                f"malformed callout marker '{first_line}'",
            )
        if marker is not None and marker[0] not in CALLOUT_KINDS:
            raise ContentError(
                source,
                _token_line(token, body_first_line),
                f"unknown callout '[!{marker[0]}]' (allowed: {', '.join(sorted(CALLOUT_KINDS))})",
            )


def _exercise_links_check(
    tokens: Sequence[Token], exercises: Sequence[str], source: Path, body_first_line: int
) -> None:
    for token in tokens:
        if token.type != "inline" or not token.children:
            continue
        for child in token.children:
            if child.type != "link_open":
                continue
            exercise = exercise_link_id(str(child.attrGet("href") or ""))
            if exercise is not None and exercise not in exercises:
                raise ContentError(
                    source,
                    _token_line(token, body_first_line),
                    f"link to exercise '{exercise}' which is not listed in the front "
                    "matter's exercises",
                )


def _picture_links_check(tokens: Sequence[Token], source: Path, body_first_line: int) -> None:
    for token in tokens:
        if token.type != "inline" or not token.children:
            continue
        for child in token.children:
            if child.type != "link_open":
                continue
            target = picture_link_target(str(child.attrGet("href") or ""))
            if target:
                raise ContentError(
                    source,
                    _token_line(token, body_first_line),
                    f"picture link 'picture:{target}' names a target, but there is only one "
                    "namespace picture; write '[text](picture:)'",
                )
            if target is not None and child.attrGet("title") is not None:
                raise ContentError(
                    source,
                    _token_line(token, body_first_line),
                    "picture link has a title, which is not shown; write '[text](picture:)'",
                )


def _display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
