"""The course's Markdown dialect, read the same way by the lesson loader and the renderer:
CommonMark with tables and raw HTML (``markdown_parser``), heading ids written ``{#id}``, callout
markers ``[!KIND] title``, fence info strings ``<kind> [flag ...]``, ``exercise:<id>`` links and
``picture:`` links (open the workbench's namespace picture); which kinds, flags and ids are
allowed, and where, is checked in ``tutorials.content_loader``."""

from __future__ import annotations

import re

from markdown_it import MarkdownIt

_HEADING_ID_RE = re.compile(r"^(?P<text>.*?)\s*\{#(?P<id>[^}\s]*)\}\s*$")
_CALLOUT_RE = re.compile(r"^\[!(?P<kind>[A-Za-z-]+)\][ \t]*(?P<title>.*)$")
_EXERCISE_LINK_PREFIX = "exercise:"
_PICTURE_LINK_PREFIX = "picture:"


def markdown_parser() -> MarkdownIt:
    """The one Markdown dialect of the course: CommonMark plus tables, raw HTML allowed (the
    renderer sanitises it)."""
    return MarkdownIt("commonmark", {"html": True}).enable("table")


def heading_split(text: str) -> tuple[str, str | None]:
    """Split ``"Liveness probes {#liveness}"`` into ``("Liveness probes", "liveness")``."""
    match = _HEADING_ID_RE.match(text)
    if match is None:
        return text.strip(), None
    return match.group("text"), match.group("id")


def callout_marker(text: str) -> tuple[str, str] | None:
    """``("THEN-AND-NOW", "optional title")`` if ``text`` opens with a callout marker."""
    match = _CALLOUT_RE.match(text)
    if match is None:
        return None
    return match.group("kind").upper(), match.group("title").strip()


def fence_info_parse(info: str) -> tuple[str, frozenset[str]]:
    """``"shell illustrative"`` -> ``("shell", {"illustrative"})``."""
    words = info.split()
    if not words:
        return "", frozenset()
    return words[0], frozenset(words[1:])


def exercise_link_id(href: str) -> str | None:
    """The exercise id of an ``exercise:<id>`` link, else ``None``."""
    if not href.startswith(_EXERCISE_LINK_PREFIX):
        return None
    return href[len(_EXERCISE_LINK_PREFIX) :]


def picture_link_target(href: str) -> str | None:
    """What follows ``picture:`` in a namespace-picture link (``""`` for the one valid form,
    ``[text](picture:)``), else ``None``."""
    if not href.startswith(_PICTURE_LINK_PREFIX):
        return None
    return href[len(_PICTURE_LINK_PREFIX) :]
